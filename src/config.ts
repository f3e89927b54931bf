/**
 * Every setting Presence reads, parsed and validated once at start into a frozen, typed object.
 * Nothing else in the codebase reads `process.env`: the app factory takes a Config, so tests build
 * one with `loadConfig({...})` and never touch the environment.
 */

import type { Visibility } from './domain/visibility.js';

/** Documented development secret: used only outside production, with a loud warning at start. */
export const DEV_JWT_SECRET = 'presence-development-secret-not-for-production';

export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[] }
  | { kind: 'sentinel'; sentinels: { host: string; port: number }[]; name: string };

export interface JwtConfig {
  /** HS256 secret; null when keys come from a JWKS URL. */
  secret: string | null;
  /** RS256/ES256 keys; takes precedence over the secret when both are set. */
  jwksUrl: string | null;
  issuer: string | null;
  audience: string | null;
  /** Allowed skew when checking exp/nbf. @default 5 // seconds */
  clockToleranceS: number;
  /**
   * Verified tokens remembered (an LRU keyed by the token's SHA-256, ~200 B each), so a client's
   * token is verified once rather than on every request. 0 turns the cache off. @default 10_000
   */
  cacheSize: number;
  /**
   * Longest a verified token is remembered before it is verified again (never past its `exp`).
   * Bounds how long a withdrawn JWKS key keeps working. @default 60 // seconds
   */
  cacheMaxAgeS: number;
  /** True when the development secret is in use (never in production). */
  usingDevSecret: boolean;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  /** @default 4000 */
  port: number;
  /** @default '127.0.0.1' (set 0.0.0.0 in containers) */
  host: string;
  /**
   * The internal listener serving Prometheus' `/metrics` (the public port does not). Keep it off
   * the load balancer. 0 picks a free port. @default 9464
   */
  metricsPort: number;
  /** Listen address of the metrics listener. @default HOST */
  metricsHost: string;
  /**
   * `/ready` answers 503 when Redis has not taken its probe write within this time (a stalled
   * Redis), instead of hanging for the command timeout. @default 500 // ms
   */
  readyTimeoutMs: number;
  /** null: the embedded memory engine (one instance, nothing installed). */
  redis: RedisTopology | null;
  /** Prefix of every Redis key and channel. @default 'presence:' */
  redisKeyPrefix: string;
  /**
   * Number of presence hash buckets. Aim for ~256 users per bucket so each stays in listpack
   * encoding (see README, "Redis layout"); changing it later orphans stored records.
   * @default 65_536 // fits ~16M tracked users
   */
  buckets: number;
  jwt: JwtConfig;
  /** Who sees a user's real status: their friends, or every authenticated user. @default 'friends' */
  visibility: Visibility;
  /** Most ids one request may name. @default 1000 */
  maxIds: number;
  /** Longest accepted user or device id. @default 128 // characters */
  maxIdLength: number;
  /** GraphiQL and introspection. @default true outside production */
  graphiql: boolean;
  /**
   * The board page at /board (BOARD=on|off): friends live, the viewer's status and message.
   * Its development sign-in works only while the development secret is in use (jwt.usingDevSecret).
   * @default on outside production, off in production
   */
  board: boolean;
  /** pino level. @default 'info' ('silent' under test) */
  logLevel: string;
  liveness: LivenessConfig;
  limits: LimitsConfig;
}

/** What one client may ask of the service (README, "Configuration" and "What one client can cost"). */
export interface LimitsConfig {
  /** Largest HTTP request body. @default 262_144 // 256 KiB: 1000 ids of 128 characters fit */
  maxBodyBytes: number;
  /**
   * Time a client has to send a request's headers (Node's own default is 60 s); a late one gets
   * 408 and its connection is closed. @default 10_000 // 10 s
   */
  httpHeadersTimeoutMs: number;
  /**
   * Time a client has to send a whole request, body included, at least the headers' (Node's own
   * default is 300 s: a 1-byte/s body held a connection for 5 min). Responses (SSE streams) and
   * WebSockets after their upgrade are not limited. @default 30_000 // 30 s
   */
  httpRequestTimeoutMs: number;
  /**
   * TCP connections the public port holds at once, WebSockets and SSE streams included; beyond it
   * new connections are closed at once. An idle subscribed socket costs ~37 KB of memory
   * (bench/RESULTS.md): size it to the instance. @default 20_000
   */
  maxConnections: number;
  /** Largest WebSocket message (ws' own default is 100 MiB). @default 262_144 // 256 KiB */
  wsMaxPayloadBytes: number;
  /** Open subscriptions per WebSocket connection. @default 20 */
  subscriptionsPerConnection: number;
  /** Realtime connections per user on one instance: WebSockets and SSE streams together. @default 10 */
  connectionsPerUser: number;
  /** Device sessions per user across the fleet (sockets and HTTP devices). @default 32 */
  sessionsPerUser: number;
  /**
   * Friends per user (PRESENCE_MAX_FRIENDS): bounds the fan-out of one change, since a writer reads
   * the routes of every friend. `addFriends` past it answers LIMIT_EXCEEDED and stores nothing.
   * @default 5_000 // Facebook's cap
   */
  friendsPerUser: number;
  /**
   * Browser origins allowed to open a WebSocket. Clients that send no Origin (native apps,
   * servers) and same-origin pages are always allowed; `*` allows every origin. @default []
   */
  wsAllowedOrigins: string[];
  /** Selection depth of every document, not counting introspection fields. @default 15 */
  maxDepth: number;
  /**
   * Selection depth counting introspection fields too. Only reachable while GRAPHIQL is on
   * (introspection is refused otherwise); GraphiQL's own introspection query is 21 levels deep.
   * @default 25
   */
  maxIntrospectionDepth: number;
  /** @default 10 */
  maxAliases: number;
  /** @default 5_000 */
  maxTokens: number;
  /** GraphQL Armor's cost estimate. @default 5_000 */
  maxCost: number;
  /**
   * Field selections per document (fragments counted once), checked before validation, whose cost
   * grows with the square of it. GraphiQL's introspection query has 73. @default 200
   */
  maxFields: number;
  /**
   * Longest document an HTTP request without a token may send; longer ones are refused before
   * parsing (GraphiQL's introspection query is ~2,100). @default 4_096 // characters
   */
  maxAnonymousChars: number;
  /** setPresence and heartbeat calls per user per window, counted across all instances. @default 20 */
  rateLimitCount: number;
  /** @default 10_000 // 10 s */
  rateLimitWindowMs: number;
}
/** Timings of sessions and instances (PRESENCE.md explains how they add up to the ghost bound). */
export interface LivenessConfig {
  /** After a user's last session ends, how long until they turn OFFLINE. @default 10_000 // 10 s */
  graceMs: number;
  /** How long an HTTP client's session lives after its last heartbeat. @default 30_000 // 30 s */
  httpTtlMs: number;
  /** An instance's lease in Redis, renewed every third of it. @default 10_000 // 10 s */
  leaseMs: number;
  /** How often an instance looks for expired sessions and dead instances. @default 1_000 // 1 s */
  sweepIntervalMs: number;
  /** Offline users' records are removed after this long. @default 604_800_000 // 7 days */
  retentionMs: number;
  /** How often every bucket is scanned for records past retention. @default 60_000 // 1 min */
  retentionScanMs: number;
  /** WebSocket ping interval; a socket that misses a pong is closed. 0 disables. @default 10_000 // 10 s */
  keepAliveMs: number;
  /**
   * A device that reported activity (reportActivity) and then none for this long reads AWAY, by
   * itself (the deadline sweep); its next activity brings it back ONLINE. Devices that never
   * report are not affected. It turns AWAY up to a tenth of this later, never earlier
   * (domain/status-rule.ts activitySlackMs). @default 600_000 // 10 min
   */
  idleMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const v = env[name];
  return v === undefined || v.trim() === '' ? null : v.trim();
}

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return dflt;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], dflt: T): T {
  const raw = str(env, name);
  if (raw === null) return dflt;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return dflt;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function list(env: Env, name: string): string[] {
  const raw = str(env, name);
  if (raw === null) return [];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (item !== '*' && !/^https?:\/\/[^/\s]+$/.test(item)) {
      throw new ConfigError(name, `expected origins like https://app.example.com (or *), got "${item}"`);
    }
  }
  return items;
}

function hostPorts(name: string, raw: string): { host: string; port: number }[] {
  return raw.split(',').map((part) => {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(part.trim());
    if (!m) throw new ConfigError(name, `expected host:port[,host:port...], got "${part}"`);
    const port = Number(m[2]);
    if (port < 1 || port > 65_535) throw new ConfigError(name, `port out of range in "${part}"`);
    return { host: m[1]!, port };
  });
}

function redisTopology(env: Env): RedisTopology | null {
  const cluster = str(env, 'REDIS_CLUSTER_NODES');
  const sentinels = str(env, 'REDIS_SENTINELS');
  const url = str(env, 'REDIS_URL');
  const given = [cluster, sentinels, url].filter((v) => v !== null).length;
  if (given > 1) {
    throw new ConfigError('REDIS_URL', 'set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS');
  }
  if (cluster) return { kind: 'cluster', nodes: hostPorts('REDIS_CLUSTER_NODES', cluster) };
  if (sentinels) {
    return {
      kind: 'sentinel',
      sentinels: hostPorts('REDIS_SENTINELS', sentinels),
      name: str(env, 'REDIS_SENTINEL_NAME') ?? 'mymaster',
    };
  }
  if (url) {
    if (!/^rediss?:\/\//.test(url)) throw new ConfigError('REDIS_URL', 'expected redis://host:port or rediss://...');
    return { kind: 'standalone', url };
  }
  return null;
}

/** Parses and validates `env` (process.env in main.ts; a plain object in tests). */
export function loadConfig(env: Env = {}): Readonly<Config> {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';

  const secret = str(env, 'JWT_SECRET');
  const jwksUrl = str(env, 'JWT_JWKS_URL');
  if (production && !secret && !jwksUrl) {
    throw new ConfigError('JWT_SECRET', 'NODE_ENV=production requires JWT_SECRET or JWT_JWKS_URL');
  }
  if (secret && secret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters (256 bits for HS256)');
  }
  if (production && secret === DEV_JWT_SECRET) {
    throw new ConfigError('JWT_SECRET', 'the development secret cannot be used in production');
  }
  if (jwksUrl && !/^https?:\/\//.test(jwksUrl)) throw new ConfigError('JWT_JWKS_URL', 'expected an http(s) URL');
  const usingDevSecret = !secret && !jwksUrl;

  const buckets = int(env, 'PRESENCE_BUCKETS', 65_536, 1, 1 << 26);
  const port = int(env, 'PORT', 4000, 0, 65_535);
  const host = str(env, 'HOST') ?? '127.0.0.1';
  const metricsPort = int(env, 'METRICS_PORT', 9464, 0, 65_535);
  const httpHeadersTimeoutMs = int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  if (metricsPort !== 0 && metricsPort === port) throw new ConfigError('METRICS_PORT', `must differ from PORT (${port})`);

  return Object.freeze({
    env: nodeEnv,
    port,
    host,
    metricsPort,
    metricsHost: str(env, 'METRICS_HOST') ?? host,
    readyTimeoutMs: int(env, 'READY_TIMEOUT_MS', 500, 10, 60_000),
    redis: redisTopology(env),
    redisKeyPrefix: str(env, 'REDIS_KEY_PREFIX') ?? 'presence:',
    buckets,
    jwt: Object.freeze({
      secret: usingDevSecret ? DEV_JWT_SECRET : secret,
      jwksUrl,
      issuer: str(env, 'JWT_ISSUER'),
      audience: str(env, 'JWT_AUDIENCE'),
      clockToleranceS: int(env, 'JWT_CLOCK_TOLERANCE_S', 5, 0, 300),
      cacheSize: int(env, 'JWT_CACHE_SIZE', 10_000, 0, 1_000_000),
      cacheMaxAgeS: int(env, 'JWT_CACHE_MAX_AGE_S', 60, 0, 3_600),
      usingDevSecret,
    }),
    visibility: oneOf(env, 'PRESENCE_VISIBILITY', ['friends', 'everyone'] as const, 'friends'),
    maxIds: int(env, 'PRESENCE_MAX_IDS', 1000, 1, 100_000),
    maxIdLength: 128,
    graphiql: bool(env, 'GRAPHIQL', !production),
    board: oneOf(env, 'BOARD', ['on', 'off'] as const, production ? 'off' : 'on') === 'on',
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      nodeEnv === 'test' ? 'silent' : 'info',
    ),
    liveness: Object.freeze({
      graceMs: int(env, 'PRESENCE_GRACE_MS', 10_000, 0, 3_600_000),
      httpTtlMs: int(env, 'PRESENCE_HTTP_TTL_MS', 30_000, 100, 86_400_000),
      leaseMs: int(env, 'PRESENCE_LEASE_MS', 10_000, 300, 600_000),
      sweepIntervalMs: int(env, 'PRESENCE_SWEEP_INTERVAL_MS', 1_000, 20, 60_000),
      retentionMs: int(env, 'PRESENCE_RETENTION_MS', 604_800_000, 1_000, 10 * 365 * 86_400_000),
      retentionScanMs: int(env, 'PRESENCE_RETENTION_SCAN_MS', 60_000, 100, 86_400_000),
      keepAliveMs: int(env, 'WS_KEEPALIVE_MS', 10_000, 0, 600_000),
      idleMs: int(env, 'PRESENCE_IDLE_MS', 600_000, 100, 86_400_000),
    }),
    limits: Object.freeze({
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 262_144, 1_024, 64 * 1_048_576),
      httpHeadersTimeoutMs,
      httpRequestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', Math.max(30_000, httpHeadersTimeoutMs), httpHeadersTimeoutMs, 3_600_000),
      maxConnections: int(env, 'HTTP_MAX_CONNECTIONS', 20_000, 1, 10_000_000),
      wsMaxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 262_144, 1_024, 64 * 1_048_576),
      subscriptionsPerConnection: int(env, 'WS_MAX_SUBSCRIPTIONS', 20, 1, 10_000),
      connectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 10, 1, 10_000),
      sessionsPerUser: int(env, 'PRESENCE_MAX_SESSIONS', 32, 1, 1_000),
      friendsPerUser: int(env, 'PRESENCE_MAX_FRIENDS', 5_000, 1, 1_000_000),
      wsAllowedOrigins: Object.freeze(list(env, 'WS_ALLOWED_ORIGINS')) as string[],
      maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 15, 2, 100),
      maxIntrospectionDepth: int(env, 'GRAPHQL_MAX_INTROSPECTION_DEPTH', 25, 2, 100),
      maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 10, 0, 1_000),
      maxTokens: int(env, 'GRAPHQL_MAX_TOKENS', 5_000, 100, 1_000_000),
      maxCost: int(env, 'GRAPHQL_MAX_COST', 5_000, 10, 10_000_000),
      maxFields: int(env, 'GRAPHQL_MAX_FIELDS', 200, 10, 100_000),
      maxAnonymousChars: int(env, 'GRAPHQL_MAX_ANONYMOUS_CHARS', 4_096, 0, 10_000_000),
      rateLimitCount: int(env, 'RATE_LIMIT_COUNT', 20, 1, 1_000_000),
      rateLimitWindowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 10_000, 100, 3_600_000),
    }),
  });
}
