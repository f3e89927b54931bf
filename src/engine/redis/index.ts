import type { Redis } from 'ioredis';
import { decodeRecord, type StatusCode, type StoredPresence } from '../../presence.js';
import { announceFriendship, type Bus } from '../../realtime/bus.js';
import { SessionLimitError } from '../../errors.js';
import type { ChangeResult, LoadedPresence, PresenceEngine } from '../types.js';
import { batch, type Command, type RedisClient } from './connect.js';
import { createKeys, type RedisKeys } from './keys.js';
import { CLAIM_DEAD, CLAIM_DUE, HIT, PRESENCE, RENEW_LEASE, RETENTION } from './scripts.js';

export interface RedisEngineOptions {
  /** Command connection (reads, scripts, friend sets). Injected: the caller owns its lifecycle. */
  client: RedisClient;
  prefix: string;
  buckets: number;
  /** When false, load() skips the friendship lookup (visibility 'everyone'). */
  friendship: boolean;
  /** Pub/sub over the publisher and subscriber connections (src/realtime/bus.ts). */
  bus: Bus;
  /** Device sessions one user may hold. @default 32 */
  maxSessionsPerUser?: number;
}

/**
 * Users claimed per shard and sweep, and how long a claim shields them from other sweepers.
 * @default 500 users, 5_000 ms
 */
const SWEEP_LIMIT = 500;
const SWEEP_RETRY_MS = 5_000;
/** Buckets scanned per retention round trip. @default 128 */
const RETENTION_BATCH = 128;

type Arg = string | Buffer | number;
type Scripted = {
  presence(...args: Arg[]): Promise<[number, number, string, number, number]>;
  claimDue(key: string, ...args: Arg[]): Promise<string[]>;
  renewLease(key: string, ...args: Arg[]): Promise<number>;
  claimDead(...args: Arg[]): Promise<string[]>;
  retention(key: string, cutoff: Arg): Promise<number>;
  hit(key: string, windowMs: number): Promise<[number, number]>;
};

export function createRedisEngine(opts: RedisEngineOptions): PresenceEngine & { keys: RedisKeys } {
  const { client, bus } = opts;
  const keys = createKeys(opts.prefix, opts.buckets);
  const define = (name: string, numberOfKeys: number, lua: string) =>
    (client as Redis).defineCommand(name, { numberOfKeys, lua });
  define('presence', 4, PRESENCE);
  define('claimDue', 1, CLAIM_DUE);
  define('renewLease', 1, RENEW_LEASE);
  define('claimDead', 3, CLAIM_DEAD);
  define('retention', 1, RETENTION);
  define('hit', 1, HIT);
  const scripted = client as unknown as Scripted;

  const decode = (raw: string | null): StoredPresence | null => (raw === null ? null : decodeRecord(raw));

  const maxSessions = opts.maxSessionsPerUser ?? 32;
  /** The arguments of one PRESENCE call for `userId`, before the op's own. */
  const presenceArgs = (op: string, userId: string, nowMs: number): Arg[] => [
    ...keys.userKeys(userId),
    op,
    keys.locate(userId).field,
    userId,
    keys.userChannel(userId),
    JSON.stringify(userId),
    Math.floor(nowMs),
    maxSessions,
  ];
  const result = ([changed, status, t, sticky, h]: [number, number, string, number, number]): ChangeResult => {
    if (changed === -1) throw new SessionLimitError(`at most ${maxSessions} device sessions per user`);
    if (t === '0' && status === 0 && sticky === 0) return { changed: false, record: null };
    const record: StoredPresence = { status: status as StatusCode, t: Number(t), sticky: sticky as 0 };
    if (h > 0) record.h = h;
    return { changed: changed === 1, record };
  };
  const run = async (op: string, userId: string, nowMs: number, ...rest: Arg[]) =>
    result(await scripted.presence(...presenceArgs(op, userId, nowMs), ...rest));
  const code = (s: StatusCode | null) => (s === null ? '' : String(s));

  return {
    kind: 'redis',
    keys,
    bus,

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

    setStatus: (userId, status, target, ttlMs, nowMs) =>
      run('set', userId, nowMs, target.sessionId ?? (status === 0 ? '' : 'default'), status, ttlMs, target.owner ?? ''),
    openSession: (userId, sessionId, owner, status, nowMs) => run('open', userId, nowMs, sessionId, owner, code(status)),
    reopenSession: (userId, sessionId, previousOwner, owner, activity, nowMs) =>
      run('reopen', userId, nowMs, sessionId, owner, previousOwner, code(activity)),
    closeSession: (userId, sessionId, owner, graceMs, nowMs) => run('close', userId, nowMs, sessionId, owner, graceMs),
    takeOverSession: (userId, sessionId, owner, deadlineMs, nowMs) =>
      run('takeover', userId, nowMs, sessionId, owner, Math.floor(deadlineMs)),
    heartbeat: (userId, sessionId, ttlMs, nowMs) => run('beat', userId, nowMs, sessionId, ttlMs),

    async sweepDeadlines(nowMs) {
      // Every shard's index in one pipeline per node, then one re-evaluation per due user.
      const shards = Array.from({ length: keys.shards }, (_, s) => s);
      const due = (await batch(
        client,
        shards.map((s) => ['claimDue', keys.deadlines(s), SWEEP_LIMIT, SWEEP_RETRY_MS]),
      )) as string[][];
      const users = due.flat();
      if (users.length === 0) return 0;
      await batch(
        client,
        users.map((u) => ['presence', ...presenceArgs('expire', u, nowMs)] as Command),
      );
      return users.length;
    },

    async sweepRetention(cutoffMs, claimMs) {
      // Each shard is scanned by one instance per period: the first to claim it. Buckets go in
      // small batches so lease renewals on the same connection never wait behind the scan.
      const shards = Array.from({ length: keys.shards }, (_, s) => s);
      const claims = (await batch(
        client,
        shards.map((s) => ['set', keys.retentionClaim(s), '1', 'PX', claimMs, 'NX']),
      )) as (string | null)[];
      const buckets = shards.filter((_, i) => claims[i] === 'OK').flatMap((s) => keys.bucketsOfShard(s));
      let removed = 0;
      for (let i = 0; i < buckets.length; i += RETENTION_BATCH) {
        const counts = (await batch(
          client,
          buckets.slice(i, i + RETENTION_BATCH).map((b) => ['retention', b, Math.floor(cutoffMs)] as Command),
        )) as number[];
        removed += counts.reduce((a, b) => a + b, 0);
      }
      return removed;
    },

    async onlineCount() {
      const counts = (await batch(
        client,
        Array.from({ length: keys.shards }, (_, s) => ['get', keys.online(s)] as Command),
      )) as (string | null)[];
      return counts.reduce((sum, c) => sum + Number(c ?? 0), 0);
    },

    async renewLease(instanceId, leaseMs, register) {
      return (await scripted.renewLease(keys.instancesLive, instanceId, leaseMs, register ? '1' : '0')) === 1;
    },

    async trackSession(instanceId, session, held) {
      const member = JSON.stringify([session.userId, session.sessionId, session.owner]);
      if (held) await client.sadd(keys.instanceSessions(instanceId), member);
      else await client.srem(keys.instanceSessions(instanceId), member);
    },

    async claimDeadInstances(self, leaseMs, claimMs) {
      const flat = await scripted.claimDead(keys.instancesLive, keys.instancesDead, keys.instancesAlive, leaseMs, claimMs, 100, self);
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
      await client.del(keys.instanceSessions(instanceId));
      await batch(client, [
        ['zrem', keys.instancesDead, instanceId],
        ['hdel', keys.instancesAlive, instanceId],
      ]);
    },

    async hit(key, count, windowMs) {
      const [n, ttl] = await scripted.hit(keys.rateLimit(key), windowMs);
      return { allowed: n <= count, retryAfterMs: ttl };
    },

    async friendsOf(userId) {
      const ids = await client.smembers(keys.friends(userId));
      return ids.sort();
    },

    addFriends: (userId, friendIds) => mutateFriendship(client, keys, bus, 'sadd', userId, friendIds),
    removeFriends: (userId, friendIds) => mutateFriendship(client, keys, bus, 'srem', userId, friendIds),

    async close() {
      // The connections are injected; their owner quits them.
    },
  };
}

/**
 * Friendship is stored in both users' sets. The two sides live on different slots, so the update
 * is one pipelined batch rather than a transaction; both commands are idempotent, and the count is
 * taken from the caller's side so a retried call after a partial failure repairs without recounting.
 * The announcement is published after the write, for every pair asked for, so a retry after an
 * unknown outcome (README, "Errors") also repairs open subscriptions. Pub/sub is at-most-once: a
 * subscriber that misses it still sees the friendship on its next read.
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
  const [count] = (await batch(client, commands)) as number[];
  // Announce every pair asked for, changed now or not, so open subscriptions follow them without
  // reconnecting. Announcing only what changed would lose the announcement of a call answered with
  // an error after Redis applied it (a stall past the command timeout): its retry changes nothing.
  // A repeated announcement is a no-op for a subscriber that already follows (or not) the friend.
  await announceFriendship(bus, userId, [...friendIds], op === 'sadd' ? 'added' : 'removed');
  return count!;
}
