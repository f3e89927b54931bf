import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, createVerifier, type Viewer } from '../infra/auth.js';
import type { Config } from '../config.js';
import type { Services } from '../schema/context.js';
import { createEngine, type RedisRole } from '../engine/factory.js';
import { instrument } from '../engine/instrument.js';
import { waitReady, type RedisClient } from '../engine/redis/connect.js';
import type { PresenceEngine } from '../engine/ports.js';
import { createLiveness, type Liveness } from '../liveness/index.js';
import { createLogger, type Logger } from '../infra/logger.js';
import { createMetrics, type Metrics } from '../infra/metrics.js';
import { createEarlyAuth } from '../plugins/early-auth.js';
import { createReadiness } from './readiness.js';
import { createRouter, type Router } from '../realtime/router.js';
import { createMetricsServer } from '../transport/metrics.js';
import { createConnectionQuota } from '../transport/quota.js';
import { attachWebSocket } from '../transport/ws.js';
import { createYogaServer } from './yoga.js';

export interface AppDeps {
  logger?: Logger;
  /** Redis connections to use instead of opening new ones from config.redis; the caller closes them. */
  redis?: Partial<Record<RedisRole, RedisClient>>;
}

export interface App {
  /**
   * Listens on config.host:config.port and, for /metrics, config.metricsHost:config.metricsPort
   * (0 picks a free port); resolves with both base URLs.
   */
  start(): Promise<{ url: string; port: number; metricsUrl: string }>;
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
  const setup = createEngine(config, {
    logger,
    ...(deps.redis ? { redis: deps.redis } : {}),
    onFanoutError: (err) => {
      metrics.fanoutFailures.inc();
      logger.warn({ err: err.message }, 'a stored change could not be routed (its event is lost)');
    },
  });
  const { connections } = setup;
  const engine = instrument(setup.engine, metrics);
  // The router follows the instance id, which liveness changes after a lost lease (then moves the routes).
  const router = createRouter({
    routes: engine,
    inbox: engine.inbox,
    instanceId: () => liveness.instanceId,
    onError: (err) => logger.warn({ err: err.message }, 'could not register the routes again; retrying on the next reconnect'),
  });
  const liveness = createLiveness(engine, config.liveness, logger, metrics, {
    reclaimed: (previous, next) => router.moved(previous, next),
  });
  const watch = {
    router,
    load: engine.load.bind(engine),
    friendsOf: engine.friendsOf.bind(engine),
    visibility: config.visibility,
    metrics,
  };
  const services: Services = { config, engine, metrics, watch };

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
  const ready = createReadiness({
    draining: () => draining,
    connected: redisReady,
    // The cheapest write the engine has: a counter that expires within a second. Redis refuses
    // it exactly when it refuses writes (OOM, read-only), which a PING would not show.
    probe: config.redis ? () => engine.hit(`ready:${liveness.instanceId}`, Number.MAX_SAFE_INTEGER, 1_000) : null,
    timeoutMs: config.readyTimeoutMs,
  });

  const { limits } = config;
  const quota = createConnectionQuota(limits.connectionsPerUser);
  const earlyAuth = createEarlyAuth(viewerFrom, limits.maxAnonymousChars);
  const yoga = createYogaServer({ config, logger, metrics, services, viewerFrom, earlyAuth, quota, ready: ready.check });

  const server = createServer(
    {
      headersTimeout: limits.httpHeadersTimeoutMs,
      requestTimeout: limits.httpRequestTimeoutMs,
      // How often Node looks for late requests (its default, 30 s, would make the timeouts coarse).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.httpHeadersTimeoutMs / 2)),
    },
    (req, res) => {
      if (tooLarge(req, res, limits.maxBodyBytes)) return;
      void yoga(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  const ws = attachWebSocket({ server, engine, available: ready.usable, quota, yoga, config, liveness, metrics, logger, viewerFrom });
  const metricsServer = createMetricsServer(metrics.registry, logger);
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
      const metricsPort = await listen(metricsServer, config.metricsPort, config.metricsHost);
      const port = await listen(server, config.port, config.host).catch((err: Error) => {
        metricsServer.close();
        throw err;
      });
      const url = baseUrl(config.host, port);
      const metricsUrl = baseUrl(config.metricsHost, metricsPort);
      logger.info(
        { port, metricsPort, instanceId: liveness.instanceId, engine: engine.kind, config: publicConfig(config) },
        'presence listening',
      );
      return { url, port, metricsUrl };
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
        const metricsClosed = new Promise<void>((resolve) => (metricsServer.listening ? metricsServer.close(() => resolve()) : resolve()));
        metricsServer.closeAllConnections(); // a scraper's keep-alive connection would hold close() open
        await metricsClosed;
        await router.stop();
        await setup.close();
        logger.info('presence stopped');
      })();
      return stopped;
    },
  };
}

/** Listens on host:port (0: a free port); resolves with the port. */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

const baseUrl = (host: string, port: number) => {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h === '0.0.0.0' ? '127.0.0.1' : h}:${port}`;
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
  const redis =
    config.redis?.kind === 'standalone' ? { ...config.redis, url: config.redis.url.replace(/\/\/[^@/]*@/, '//***@') } : config.redis;
  return {
    ...config,
    redis,
    jwt: { ...config.jwt, secret: config.jwt.secret ? '[redacted]' : null },
  };
}
