import type { Redis } from 'ioredis';
import { type StatusCode, type StoredPresence } from '../../presence.js';
import { announceFriendship, type Bus } from '../../realtime/bus.js';
import type { LoadedPresence, PresenceEngine, SetStatusResult } from '../types.js';
import { batch, type Command, type RedisClient } from './connect.js';
import { createKeys, type RedisKeys } from './keys.js';
import { SET_STATUS } from './scripts.js';

export interface RedisEngineOptions {
  /** Command connection (reads, scripts, friend sets). Injected: the caller owns its lifecycle. */
  client: RedisClient;
  prefix: string;
  buckets: number;
  /** When false, load() skips the friendship lookup (visibility 'everyone'). */
  friendship: boolean;
  /** Pub/sub over the publisher and subscriber connections (src/realtime/bus.ts). */
  bus: Bus;
}

type Scripted = { presenceSet(key: string, ...args: (string | Buffer | number)[]): Promise<[number, number, string]> };

export function createRedisEngine(opts: RedisEngineOptions): PresenceEngine & { keys: RedisKeys } {
  const { client } = opts;
  const keys = createKeys(opts.prefix, opts.buckets);
  (client as Redis).defineCommand('presenceSet', { numberOfKeys: 1, lua: SET_STATUS });
  const scripted = client as unknown as Scripted;

  const decode = (raw: string | null): StoredPresence | null => {
    if (raw === null) return null;
    const v = Number(raw);
    const status = (v % 8) as StatusCode;
    return { status, t: (v - status) / 8 };
  };

  return {
    kind: 'redis',
    keys,
    bus: opts.bus,

    async load(viewerId, ids) {
      // One HMGET per bucket plus one SMISMEMBER, sent together: a single round trip per node.
      const byBucket = new Map<string, { fields: Buffer[]; at: number[] }>();
      ids.forEach((id, i) => {
        const { key, field } = keys.locate(id);
        const group = byBucket.get(key);
        if (group) {
          group.fields.push(field);
          group.at.push(i);
        } else byBucket.set(key, { fields: [field], at: [i] });
      });
      const commands: Command[] = [...byBucket].map(([key, g]) => ['hmget', key, ...g.fields]);
      const askFriendship = opts.friendship && viewerId !== null && ids.length > 0;
      if (askFriendship) commands.push(['smismember', keys.friends(viewerId), ...ids]);

      const replies = await batch(client, commands);
      const out: LoadedPresence[] = ids.map(() => ({ record: null, friend: false }));
      let r = 0;
      for (const g of byBucket.values()) {
        const values = replies[r++] as (string | null)[];
        g.at.forEach((i, j) => (out[i]!.record = decode(values[j] ?? null)));
      }
      if (askFriendship) {
        const member = replies[r] as number[];
        member.forEach((m, i) => (out[i]!.friend = m === 1));
      }
      return out;
    },

    async setStatus(userId, status, nowMs): Promise<SetStatusResult> {
      const { key, field } = keys.locate(userId);
      const [changed, prev, t] = await scripted.presenceSet(
        key,
        field,
        status,
        Math.floor(nowMs),
        keys.userChannel(userId),
        JSON.stringify(userId),
      );
      return { changed: changed === 1, record: { status: changed === 1 ? status : (prev as StatusCode), t: Number(t) } };
    },

    async friendsOf(userId) {
      const ids = await client.smembers(keys.friends(userId));
      return ids.sort();
    },

    async addFriends(userId, friendIds) {
      return mutateFriendship(client, keys, opts.bus, 'sadd', userId, friendIds);
    },

    async removeFriends(userId, friendIds) {
      return mutateFriendship(client, keys, opts.bus, 'srem', userId, friendIds);
    },

    async close() {
      // The client is injected; its owner quits it.
    },
  };
}

/**
 * Friendship is stored in both users' sets. The two sides live on different slots, so the update
 * is one pipelined batch rather than a transaction; both commands are idempotent, and the count is
 * taken from the caller's side so a retried call after a partial failure repairs without recounting.
 * The announcement is published after the write: pub/sub is at-most-once, and a subscriber that
 * misses it still sees the friendship on its next read.
 */
async function mutateFriendship(
  client: RedisClient,
  keys: RedisKeys,
  bus: Bus,
  op: 'sadd' | 'srem',
  userId: string,
  friendIds: readonly string[],
): Promise<number> {
  if (friendIds.length === 0) return 0;
  const commands: Command[] = [[op, keys.friends(userId), ...friendIds]];
  for (const f of friendIds) commands.push([op, keys.friends(f), userId]);
  const [count, ...perFriend] = (await batch(client, commands)) as number[];
  // Announce the pairs that changed, so open subscriptions follow them without reconnecting.
  const changed = friendIds.filter((_, i) => perFriend[i] === 1);
  await announceFriendship(bus, userId, changed, op === 'sadd' ? 'added' : 'removed');
  return count!;
}

