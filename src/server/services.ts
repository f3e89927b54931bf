import type { Config } from '../config.js';
import { createEngine, type RedisRole } from '../engine/factory.js';
import { instrument } from '../engine/instrument.js';
import type { RedisClient } from '../engine/redis/connect.js';
import type { PresenceEngine } from '../engine/ports.js';
import type { Logger } from '../infra/logger.js';
import { createMetrics, type Metrics } from '../infra/metrics.js';
import { createLiveness, type Liveness } from '../liveness/index.js';
import { createRouter, type Router } from '../realtime/router.js';
import type { Services } from '../schema/context.js';

/** Everything below the transports, wired: the engine (instrumented), local fan-out, liveness. */
export interface Core {
  engine: PresenceEngine;
  router: Router;
  liveness: Liveness;
  metrics: Metrics;
  /** What every request context shares. */
  services: Services;
  /** Every Redis connection the engine uses, owned or injected (none on the memory engine). */
  connections: RedisClient[];
  /** Whether every Redis connection is up (always true on the memory engine). */
  redisReady(): boolean;
  /** Quits the Redis connections opened here (injected ones belong to their caller). */
  close(): Promise<void>;
}

export function createCore(config: Readonly<Config>, logger: Logger, redis?: Partial<Record<RedisRole, RedisClient>>): Core {
  const metrics = createMetrics();
  const setup = createEngine(config, {
    logger,
    ...(redis ? { redis } : {}),
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
  const redisReady = () => connections.every((c) => c.status === 'ready');
  Object.assign(metrics.sources, {
    channels: () => engine.inbox.channelCount(),
    malformed: () => engine.inbox.malformed(),
    sessions: () => liveness.sessionCount(),
    redisUp: redisReady,
    online: () => engine.onlineCount(),
  });
  return { engine, router, liveness, metrics, services: { config, engine, metrics, watch }, connections, redisReady, close: setup.close };
}
