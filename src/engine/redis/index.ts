import type { Inbox, Outbox } from '../bus.js';
import type { PresenceEngine } from '../ports.js';
import { createChangeRouter } from './change-router.js';
import type { RedisClient } from './connect.js';
import { createRedisFriendGraph } from './friend-graph.js';
import { createRedisInstanceRegistry } from './instance-registry.js';
import { createKeys, type RedisKeys } from './keys.js';
import { createPresenceRunner } from './presence-runner.js';
import { createRedisPresenceStore } from './presence-store.js';
import { createRedisRateLimiter } from './rate-limiter.js';
import { createRedisRouteTable } from './route-table.js';
import { createRedisSettingsStore } from './settings-store.js';

export interface RedisEngineOptions {
  /** Command connection (reads, scripts, friend sets). Injected: the caller owns its lifecycle. */
  client: RedisClient;
  prefix: string;
  buckets: number;
  /**
   * When false (visibility 'everyone'), load() skips the friendship lookup and writers also read
   * who watches the changed user (presenceChanged(ids) interest registrations).
   */
  friendship: boolean;
  /** The instance inboxes over the publisher and subscriber connections (engine/bus.ts). */
  bus: Inbox & Outbox;
  /** Device sessions one user may hold. @default 32 */
  maxSessionsPerUser?: number;
  /** Friends one user may have. @default 5_000 */
  maxFriendsPerUser?: number;
  /**
   * A change was stored but its fan-out failed (Redis unreachable between the two): the event is
   * lost for its viewers (at-most-once, PRESENCE.md) and the write still stands.
   */
  onFanoutError?: (err: Error) => void;
}

/**
 * The Redis engine: one module per port (presence-store.ts, settings-store.ts, ...), each built
 * around the one way to run the PRESENCE script (presence-runner.ts) and to route what it stored
 * (change-router.ts). Works on a single server, Sentinel and Cluster alike (keys.ts).
 */
export function createRedisEngine(opts: RedisEngineOptions): PresenceEngine & { keys: RedisKeys } {
  const { client, bus, friendship } = opts;
  const keys = createKeys(opts.prefix, opts.buckets);
  const changes = createChangeRouter({
    client,
    keys,
    bus,
    friendship,
    ...(opts.onFanoutError ? { onFanoutError: opts.onFanoutError } : {}),
  });
  const runner = createPresenceRunner({ client, keys, changes, maxSessions: opts.maxSessionsPerUser ?? 32 });
  const routes = createRedisRouteTable({ client, keys });
  return {
    kind: 'redis',
    keys,
    inbox: bus,
    ...createRedisPresenceStore({ client, keys, runner, changes, friendship }),
    ...createRedisSettingsStore({ client, keys, runner }),
    ...createRedisInstanceRegistry({ client, keys, routes }),
    ...createRedisRateLimiter({ client, keys }),
    ...createRedisFriendGraph({ client, keys, changes, maxFriends: opts.maxFriendsPerUser ?? 5_000 }),
    ...routes,
    async close() {
      // The connections are injected; their owner quits them.
    },
  };
}
