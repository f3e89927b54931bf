import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphQLError, ValidationContext } from 'graphql';
import { createYoga, useReadinessCheck } from 'graphql-yoga';
import { bearer, createVerifier, type Viewer } from './auth.js';
import type { Config } from './config.js';
import { createContext, type Context, type Services } from './context.js';
import { instrument } from './engine/instrument.js';
import { createMemoryEngine } from './engine/memory/index.js';
import { connectRedis, waitReady, type RedisClient } from './engine/redis/connect.js';
import { createRedisEngine } from './engine/redis/index.js';
import { createKeys } from './engine/redis/keys.js';
import type { PresenceEngine } from './engine/types.js';
import { createLiveness, type Liveness } from './liveness/index.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { useRenderOnce } from './plugins/render-once.js';
import { createRedisBus } from './engine/bus.js';
import { createRouter, type Router } from './realtime/router.js';
import { schema } from './schema/index.js';
import { attachWebSocket, type SocketContext } from './transport/ws.js';

export interface AppDeps {
  logger?: Logger;
  /** Redis connections to use instead of opening new ones from config.redis; the caller closes them. */
  redis?: { command?: RedisClient; publisher?: RedisClient; subscriber?: RedisClient };
}

export interface App {
  /** Listens on config.host:config.port (0 picks a free port); resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Graceful: stops accepting, hands sessions over with grace, closes Redis. Safe to call twice. */
  stop(): Promise<void>;
  readonly engine: PresenceEngine;
  readonly server: Server;
  readonly liveness: Liveness;
  readonly metrics: Metrics;
  /** Local fan-out: `router.size()` counts subscriptions whose route is registered. */
  readonly router: Router;
}

/** Builds the whole service from a Config; only main.ts touches the process. */
export function createApp(config: Readonly<Config>, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger(config);
  const metrics = createMetrics();
  const friendship = config.visibility === 'friends';
  const owned: RedisClient[] = [];
  /** Every Redis connection the app uses (owned or injected): start() waits for them. */
  const connections: RedisClient[] = [];
  let engine: PresenceEngine;
  if (config.redis) {
    const topology = config.redis;
    // On Cluster the inboxes are shard channels (SSUBSCRIBE/SPUBLISH, engine/bus.ts).
    const sharded = topology.kind === 'cluster';
    const client = (role: 'command' | 'publisher' | 'subscriber') => {
      const injected = deps.redis?.[role];
      const c = injected ?? connectRedis(topology, { shardedSubscribers: sharded && role === 'subscriber' });
      if (!injected) owned.push(c);
      connections.push(c);
      c.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection error'));
      c.on('ready', () => logger.info({ role }, 'redis connected'));
      c.on('reconnecting', () => logger.warn({ role }, 'redis reconnecting'));
      return c;
    };
    const keys = createKeys(config.redisKeyPrefix, config.buckets);
    const command = client('command');
    const bus = createRedisBus({ publisher: client('publisher'), subscriber: client('subscriber'), sharded, channel: keys.inbox });
    engine = createRedisEngine({
      client: command,
      prefix: config.redisKeyPrefix,
      buckets: config.buckets,
      friendship,
      bus,
      maxSessionsPerUser: config.limits.sessionsPerUser,
      maxFriendsPerUser: config.limits.friendsPerUser,
      onFanoutError: (err) => {
        metrics.fanoutFailures.inc();
        logger.warn({ err: err.message }, 'a stored change could not be routed (its event is lost)');
      },
    });
  } else {
    const { sessionsPerUser, friendsPerUser } = config.limits;
    engine = createMemoryEngine({ friendship, maxSessionsPerUser: sessionsPerUser, maxFriendsPerUser: friendsPerUser });
  }
  engine = instrument(engine, metrics);
  // The router follows the instance id, which liveness changes after a lost lease (then moves the routes).
  const router = createRouter({
    routes: engine,
    inbox: engine.inbox,
    instanceId: () => liveness.instanceId,
    onError: (err) => logger.warn({ err: err.message }, 'could not register the routes again; retrying on the next reconnect'),
  });
  const liveness = createLiveness(engine, config.liveness, logger, metrics, { reclaimed: (previous, next) => router.moved(previous, next) });
  const services: Services = { config, engine, metrics, router };

  const redisReady = () => connections.every((c) => c.status === 'ready');
  Object.assign(metrics.sources, {
    channels: () => engine.inbox.channelCount(),
    malformed: () => engine.inbox.malformed(),
    sessions: () => liveness.sessionCount(),
    redisUp: redisReady,
    online: () => engine.onlineCount(),
  });

  const verify = createVerifier(config.jwt, config.maxIdLength);
  const viewerFrom = async (authorization: string | null | undefined): Promise<Viewer | null> => {
    const token = bearer(authorization);
    return token === null ? null : verify(token);
  };
  let draining = false;

  const { limits } = config;
  // Armor's rules throw by default, which skips yoga's error codes; reported as validation errors
  // they come back as GRAPHQL_VALIDATION_FAILED like any other invalid document.
  const reported = {
    propagateOnRejection: false,
    onReject: [(ctx: unknown, err: GraphQLError) => (ctx as ValidationContext | null)?.reportError(err)],
  };
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    // Served from node_modules (no CDN): the page works on a network without internet.
    graphiql: config.graphiql ? graphiqlOptions : false,
    renderGraphiQL,
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args.map(String).join(' ') }, 'graphql error'),
    },
    plugins: [
      // Same limits on HTTP, SSE and WebSocket: the WebSocket path runs these plugins too.
      EnvelopArmorPlugin({
        // Presence's own fields are bounded by GRAPHQL_MAX_DEPTH; introspection (only answered
        // while GraphiQL is on) has its own, deeper bound just below, so GraphiQL's schema loads.
        maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, ...reported },
        maxAliases: { n: limits.maxAliases, ...reported },
        maxTokens: { n: limits.maxTokens },
        costLimit: { maxCost: limits.maxCost, ...reported },
        maxDirectives: { n: 10, ...reported },
        blockFieldSuggestion: { enabled: config.env === 'production' },
      }),
      maxDepthPlugin({ n: limits.maxIntrospectionDepth, ignoreIntrospection: false, ...reported }),
      // No CSRF plugin, on purpose: CSRF rides on credentials a browser attaches by itself
      // (cookies, HTTP auth). Presence reads only the Authorization header, which a cross-site
      // page cannot make a browser send, so a forged request arrives anonymous and can do nothing
      // an anonymous request cannot. Yoga's CSRF header check would only refuse the defaults of
      // urql (GET queries) and GraphiQL (GET event streams).
      ...(config.graphiql ? [] : [useDisableIntrospection()]),
      useErrorCodes(),
      // Each event executed once per distinct selection on this instance, whatever its subscribers.
      useRenderOnce({ onRender: () => metrics.rendered.inc() }),
      usePrometheus({ registry: metrics.registry, endpoint: '/metrics' }),
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          if (draining) return false;
          if (!config.redis) return true;
          if (!redisReady()) return false;
          await engine.onlineCount();
          return true;
        },
      }),
    ],
    // HTTP and SSE requests carry the token in a header; WebSocket operations arrive with the
    // viewer verified at connection time (src/transport/ws.ts).
    context: async (initial) => {
      const socket = initial as Partial<SocketContext>;
      if (socket.socketViewer) return createContext(services, socket.socketViewer, socket.socketSession ?? null);
      return createContext(services, await viewerFrom(initial.request.headers.get('authorization')));
    },
  });

  const server = createServer((req, res) => {
    if (tooLarge(req, res, limits.maxBodyBytes)) return;
    void yoga(req, res);
  });
  const ws = attachWebSocket({ server, yoga, config, liveness, metrics, logger, viewerFrom });
  let stopped: Promise<void> | null = null;

  return {
    engine,
    server,
    liveness,
    metrics,
    router,
    async start() {
      // Fail fast when Redis cannot be reached at boot: an orchestrator restarts us, and a Cluster
      // client must know the slot map before the first batched read.
      await Promise.all(connections.map((c) => waitReady(c, 15_000)));
      await router.start();
      await liveness.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      logger.info({ port, instanceId: liveness.instanceId, engine: engine.kind, config: publicConfig(config) }, 'presence listening');
      return { url, port };
    },
    // Graceful: stop accepting, tell every socket to go elsewhere (1001), and let its session
    // linger for the grace so a client that reconnects to another instance sends no OFFLINE.
    stop() {
      stopped ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await ws.dispose();
        await liveness.stop();
        server.closeAllConnections();
        await closed;
        await router.stop();
        await engine.close();
        await Promise.all(owned.map((c) => c.quit().catch(() => c.disconnect())));
        logger.info('presence stopped');
      })();
      return stopped;
    },
  };
}

/** GraphiQL's first screen says how to authenticate: every field but health needs a token. */
const graphiqlOptions = {
  title: 'Presence GraphiQL',
  defaultQuery: `# Welcome to Presence.
#
# Every operation needs a token. Get one with
#   npm run token -- alice
# and put it in the Headers tab below:
#   { "Authorization": "Bearer <token>" }
#
# Then run this query. To watch friends live, run
#   subscription { friendPresenceChanged { userId status } }
# and change a friend's status from another tab.

query Me {
  me {
    userId
    status
    lastActiveAt
    version
  }
}
`,
  defaultEditorToolsVisibility: 'headers' as const,
};

/**
 * Refuses bodies over the limit before yoga reads them: a declared length over it gets 413, and
 * a body without a declared length (chunked) is not accepted at all (411); GraphQL clients always
 * send one. Returns true when it answered.
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, max: number): boolean {
  if (req.method !== 'POST') return false;
  const length = req.headers['content-length'];
  const status = length === undefined ? 411 : Number(length) > max ? 413 : 0;
  if (!status) return false;
  const message = status === 411 ? 'a Content-Length header is required' : `request body over ${max} bytes`;
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }));
  req.resume();
  return true;
}

/** The resolved configuration as it is safe to log: no secrets, no credentials in URLs. */
function publicConfig(config: Readonly<Config>) {
  const redis = config.redis?.kind === 'standalone' ? { ...config.redis, url: config.redis.url.replace(/\/\/[^@/]*@/, '//***@') } : config.redis;
  return {
    ...config,
    redis,
    jwt: { ...config.jwt, secret: config.jwt.secret ? '[redacted]' : null },
  };
}
