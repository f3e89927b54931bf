import type { Server } from 'node:http';
import type { Config } from '../config.js';
import type { RedisRole } from '../engine/factory.js';
import type { PresenceEngine } from '../engine/ports.js';
import { waitReady, type RedisClient } from '../engine/redis/connect.js';
import { createViewerFrom } from '../infra/auth.js';
import { createLogger, type Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { Liveness } from '../liveness/index.js';
import { createEarlyAuth } from '../plugins/early-auth.js';
import type { Router } from '../realtime/router.js';
import { createMetricsServer } from '../transport/metrics.js';
import { createConnectionQuota } from '../transport/quota.js';
import { attachWebSocket } from '../transport/ws.js';
import { baseUrl, closeServer, createHttpServer, listen } from './http.js';
import { createReadiness } from './readiness.js';
import { createCore } from './services.js';
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
  const core = createCore(config, logger, deps.redis);
  const { engine, router, liveness, metrics, connections } = core;
  const viewerFrom = createViewerFrom(config.jwt, config.maxIdLength);
  let draining = false;
  const ready = createReadiness({
    draining: () => draining,
    connected: core.redisReady,
    // The cheapest write the engine has: a counter that expires within a second. Redis refuses
    // it exactly when it refuses writes (OOM, read-only), which a PING would not show.
    probe: config.redis ? () => engine.hit(`ready:${liveness.instanceId}`, Number.MAX_SAFE_INTEGER, 1_000) : null,
    timeoutMs: config.readyTimeoutMs,
  });
  const { limits } = config;
  const quota = createConnectionQuota(limits.connectionsPerUser);
  const earlyAuth = createEarlyAuth(viewerFrom, limits.maxAnonymousChars);
  const yoga = createYogaServer({ config, logger, metrics, services: core.services, viewerFrom, earlyAuth, quota, ready: ready.check });
  const server = createHttpServer(limits, yoga);
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
        await closeServer(metricsServer); // a scraper's keep-alive connection would hold close() open
        await router.stop();
        await core.close();
        logger.info('presence stopped');
      })();
      return stopped;
    },
  };
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
