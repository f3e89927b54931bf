import type { Config } from '../config.js';
import type { Logger } from '../infra/logger.js';
import { createRedisBus } from './bus.js';
import { createMemoryEngine } from './memory/index.js';
import { connectRedis, type RedisClient } from './redis/connect.js';
import { createRedisEngine } from './redis/index.js';
import { createKeys } from './redis/keys.js';
import type { PresenceEngine } from './ports.js';

export type RedisRole = 'command' | 'publisher' | 'subscriber';

export interface EngineSetup {
  engine: PresenceEngine;
  /** Every Redis connection the engine uses, owned or injected: the app waits for them at start. */
  connections: RedisClient[];
  /** Quits the connections opened here (injected ones belong to their caller). */
  close(): Promise<void>;
}

/**
 * The engine the configuration asks for: the Redis engine over three connections (commands,
 * publishing, the inbox subscriber; injected ones are used as given), or the memory engine.
 */
export function createEngine(
  config: Readonly<Config>,
  opts: {
    logger: Logger;
    redis?: Partial<Record<RedisRole, RedisClient>>;
    /** A stored change whose routing failed (its event is lost). */
    onFanoutError(err: Error): void;
  },
): EngineSetup {
  const { logger } = opts;
  const friendship = config.visibility === 'friends';
  const { sessionsPerUser, friendsPerUser } = config.limits;
  if (!config.redis) {
    const engine = createMemoryEngine({ friendship, maxSessionsPerUser: sessionsPerUser, maxFriendsPerUser: friendsPerUser });
    return { engine, connections: [], close: () => engine.close() };
  }
  const topology = config.redis;
  // On Cluster the inboxes are shard channels (SSUBSCRIBE/SPUBLISH, engine/bus.ts).
  const sharded = topology.kind === 'cluster';
  const owned: RedisClient[] = [];
  const connections: RedisClient[] = [];
  const client = (role: RedisRole) => {
    const injected = opts.redis?.[role];
    const c =
      injected ?? connectRedis(topology, { shardedSubscribers: sharded && role === 'subscriber', autoPipelining: role === 'command' });
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
  const engine = createRedisEngine({
    client: command,
    prefix: config.redisKeyPrefix,
    buckets: config.buckets,
    friendship,
    bus,
    maxSessionsPerUser: sessionsPerUser,
    maxFriendsPerUser: friendsPerUser,
    onFanoutError: opts.onFanoutError,
  });
  return {
    engine,
    connections,
    async close() {
      await engine.close();
      await bus.close();
      await Promise.all(owned.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
