import { bucketOf, packId } from '../../domain/ids.js';

/**
 * Every Redis key and channel name Presence uses, in one place (README, "Redis layout").
 *
 * Users are hashed to buckets, buckets to shards (bucket % shards). The shard number is the hash
 * tag, so everything about a user — its bucket, its session hash, its shard's deadline index and
 * online counter, its channels — lives in one Cluster slot, and one Lua script can change all of
 * it atomically (sharded pub/sub stays possible too).
 *
 * - `<p>{<shard>}:<bucket>`       hash: packed user id -> `[h*10^15 +] t*32 + sticky*8 + status` (presence.ts)
 * - `<p>{<shard>}:s:<userId>`     hash: the user's live sessions (liveness, scripts.ts)
 * - `<p>{<shard>}:x:<userId>`     hash: the user's settings, only while they have any: `mt` message
 *                                 text, `me` emoji, `mx` expiry (ms), `p` 'N' for lastActive NOBODY,
 *                                 `v` version offset (presence.ts Extras); the record is then flagged
 * - `<p>{<shard>}:h:<userId>`     set: the ids the user hides from (setPrivacy hide)
 * - `<p>{<shard>}:dl`             sorted set: userId -> earliest session deadline (ms)
 * - `<p>{<shard>}:on`             counter: users of the shard present now
 * - `<p>{<shard>}:r:<userId>`     set: instance ids holding open subscriptions of the viewer (routes)
 * - `<p>{<shard>}:w:<userId>`     set: instance ids watching the user regardless of friendship
 * - `<p>friends:<userId>`         set: the user's friends
 * - `<p>{instances}:live`         sorted set: instance id -> lease expiry (ms)
 * - `<p>{instances}:dead`         sorted set: instance id -> takeover claim expiry (ms)
 * - `<p>{instances}:alive`        hash: dead instance id -> last moment it was known alive (ms)
 * - `<p>{i:<instance>}:sessions`  set: the socket sessions an instance holds, for takeover
 * - `<p>{i:<instance>}:routes`    set: the viewers routed to an instance (to drop its routes)
 * - `<p>{i:<instance>}:watches`   set: the users an instance watches (to drop its interest)
 * - `<p>{i:<instance>}:inbox`     channel: messages for the instance (engine/bus.ts)
 * - `<p>{<shard>}:ret`            string: retention-scan claim of a shard (expires)
 * - `<p>rl:<key>`                 string: a rate-limit window counter (expires with the window)
 */
export interface RedisKeys {
  prefix: string;
  shards: number;
  /** The hash key and field where a user's record lives. */
  locate(userId: string): { key: string; field: Buffer; bucket: number; shard: number };
  /** The keys of one user's state, in the order the presence script takes them. */
  userKeys(userId: string): [bucket: string, sessions: string, deadlines: string, online: string, settings: string, hiddenFrom: string];
  /** The user's settings hash and hidden-from set (read only for a flagged record). */
  settings(userId: string): string;
  hiddenFrom(userId: string): string;
  bucketsOfShard(shard: number): string[];
  deadlines(shard: number): string;
  online(shard: number): string;
  retentionClaim(shard: number): string;
  friends(userId: string): string;
  routes(viewerId: string): string;
  watchers(userId: string): string;
  instancesLive: string;
  instancesDead: string;
  instancesAlive: string;
  instanceSessions(instanceId: string): string;
  instanceRoutes(instanceId: string): string;
  instanceWatches(instanceId: string): string;
  inbox(instanceId: string): string;
  rateLimit(key: string): string;
}

export function createKeys(prefix: string, buckets: number, shards = 1024): RedisKeys {
  const nShards = Math.min(shards, buckets);
  const tag = (shard: number) => `${prefix}{${shard}}`;
  const locate = (userId: string) => {
    const field = packId(userId);
    const bucket = bucketOf(field, buckets);
    const shard = bucket % nShards;
    return { key: `${tag(shard)}:${bucket}`, field, bucket, shard };
  };
  const shardOf = (userId: string) => tag(locate(userId).shard);
  return {
    prefix,
    shards: nShards,
    locate,
    userKeys: (userId) => {
      const { key, shard } = locate(userId);
      const t = tag(shard);
      return [key, `${t}:s:${userId}`, `${t}:dl`, `${t}:on`, `${t}:x:${userId}`, `${t}:h:${userId}`];
    },
    settings: (userId) => `${shardOf(userId)}:x:${userId}`,
    hiddenFrom: (userId) => `${shardOf(userId)}:h:${userId}`,
    bucketsOfShard: (shard) => {
      const out: string[] = [];
      for (let b = shard; b < buckets; b += nShards) out.push(`${tag(shard)}:${b}`);
      return out;
    },
    deadlines: (shard) => `${tag(shard)}:dl`,
    online: (shard) => `${tag(shard)}:on`,
    retentionClaim: (shard) => `${tag(shard)}:ret`,
    friends: (userId) => `${prefix}friends:${userId}`,
    routes: (viewerId) => `${shardOf(viewerId)}:r:${viewerId}`,
    watchers: (userId) => `${shardOf(userId)}:w:${userId}`,
    instancesLive: `${prefix}{instances}:live`,
    instancesDead: `${prefix}{instances}:dead`,
    instancesAlive: `${prefix}{instances}:alive`,
    instanceSessions: (id) => `${prefix}{i:${id}}:sessions`,
    instanceRoutes: (id) => `${prefix}{i:${id}}:routes`,
    instanceWatches: (id) => `${prefix}{i:${id}}:watches`,
    inbox: (id) => `${prefix}{i:${id}}:inbox`,
    rateLimit: (key) => `${prefix}rl:${key}`,
  };
}
