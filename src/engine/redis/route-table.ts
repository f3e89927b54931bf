import type { RouteTable } from '../ports.js';
import { batch, type Command, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/** Ids registered per pipeline when an instance's routes are dropped. @default 1_000 */
const DROP_CHUNK = 1_000;

/**
 * The routing table in Redis: per viewer, the instances holding their subscriptions (`r:`); per
 * user, the instances watching them (`w:`); per instance, both indexes, to drop them at once.
 */
export function createRedisRouteTable({ client, keys }: { client: RedisClient; keys: RedisKeys }): RouteTable {
  /** Adds or removes `instanceId` in each key's set, and the members in the instance's index. */
  const register = async (index: string, keyOf: (id: string) => string, instanceId: string, ids: readonly string[], held: boolean) => {
    if (ids.length === 0) return;
    const op = held ? 'sadd' : 'srem';
    await batch(client, [[op, index, ...ids], ...ids.map((id) => [op, keyOf(id), instanceId] as Command)]);
  };
  return {
    route: (instanceId, viewerIds, held) => register(keys.instanceRoutes(instanceId), keys.routes, instanceId, viewerIds, held),
    watch: (instanceId, userIds, held) => register(keys.instanceWatches(instanceId), keys.watchers, instanceId, userIds, held),
    /** Drops every route and interest of `instanceId`, in chunks, then its indexes. */
    async dropRoutes(instanceId) {
      for (const [index, keyOf] of [
        [keys.instanceRoutes(instanceId), keys.routes],
        [keys.instanceWatches(instanceId), keys.watchers],
      ] as const) {
        const ids = await client.smembers(index);
        for (let i = 0; i < ids.length; i += DROP_CHUNK) await register(index, keyOf, instanceId, ids.slice(i, i + DROP_CHUNK), false);
        await client.del(index);
      }
    },
  };
}
