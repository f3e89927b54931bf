import type { InstanceRegistry, RouteTable } from '../ports.js';
import { scriptsOf } from './commands.js';
import { batch, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/** Dead instances claimed per sweep. @default 100 */
const CLAIM_LIMIT = 100;

/**
 * Instance leases (a sorted set by expiry, on the Redis clock), the socket sessions each instance
 * holds, and the claims by which survivors take dead instances over (src/liveness).
 */
export function createRedisInstanceRegistry(opts: {
  client: RedisClient;
  keys: RedisKeys;
  /** A forgotten instance's routes go with it. */
  routes: Pick<RouteTable, 'dropRoutes'>;
}): InstanceRegistry {
  const { client, keys, routes } = opts;
  const scripted = scriptsOf(client);
  return {
    async renewLease(instanceId, leaseMs, register) {
      return (await scripted.renewLease(keys.instancesLive, instanceId, leaseMs, register ? '1' : '0')) === 1;
    },

    async trackSession(instanceId, session, held) {
      const member = JSON.stringify([session.userId, session.sessionId, session.owner]);
      if (held) await client.sadd(keys.instanceSessions(instanceId), member);
      else await client.srem(keys.instanceSessions(instanceId), member);
    },

    async claimDeadInstances(self, leaseMs, claimMs) {
      const flat = await scripted.claimDead(
        keys.instancesLive,
        keys.instancesDead,
        keys.instancesAlive,
        leaseMs,
        claimMs,
        CLAIM_LIMIT,
        self,
      );
      const out = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, lastAliveMs: Number(flat[i + 1]) });
      return out;
    },

    async sessionsOf(instanceId) {
      const members = await client.smembers(keys.instanceSessions(instanceId));
      return members.flatMap((m) => {
        const pair: unknown = JSON.parse(m);
        return Array.isArray(pair) && pair.length === 3 && pair.every((p) => typeof p === 'string')
          ? [{ userId: pair[0] as string, sessionId: pair[1] as string, owner: pair[2] as string }]
          : [];
      });
    },

    async forgetInstance(instanceId) {
      await routes.dropRoutes(instanceId);
      await client.del(keys.instanceSessions(instanceId));
      await batch(client, [
        ['zrem', keys.instancesDead, instanceId],
        ['hdel', keys.instancesAlive, instanceId],
      ]);
    },
  };
}
