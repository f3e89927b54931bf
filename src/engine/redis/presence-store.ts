import { Status, type StatusCode } from '../../domain/presence.js';
import { activitySlackMs, DEFAULT_DEVICE } from '../../domain/status-rule.js';
import type { DeviceView, PresenceStore } from '../ports.js';
import type { ChangeRouter, Routable } from './change-router.js';
import { batch, type Command, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';
import { createPresenceReader } from './presence-reads.js';
import { routableOf, type PresenceRunner } from './presence-runner.js';
import { SessionValue } from './scripts.js';

/**
 * Users claimed per shard and sweep, and how long a claim shields them from other sweepers.
 * @default 500 users, 5_000 ms
 */
const SWEEP_LIMIT = 500;
const SWEEP_RETRY_MS = 5_000;
/** Buckets scanned per retention round trip. @default 128 */
const RETENTION_BATCH = 128;
/** Changes of one sweep routed per group of pipelines. @default 50 */
const ROUTE_BATCH = 50;

const code = (s: StatusCode | null) => (s === null ? '' : String(s));

export interface RedisPresenceStoreOptions {
  client: RedisClient;
  keys: RedisKeys;
  runner: PresenceRunner;
  changes: Pick<ChangeRouter, 'presence'>;
  /** Visibility 'friends': reads ask whether the viewer is each user's friend. */
  friendship: boolean;
}

/** Records and device sessions: every write one PRESENCE call, reads one script per node. */
export function createRedisPresenceStore(opts: RedisPresenceStoreOptions): PresenceStore {
  const { client, keys, runner } = opts;
  return {
    load: createPresenceReader(opts),
    setStatus: (userId, status, target, ttlMs, nowMs) =>
      runner.run('set', userId, nowMs, {
        session: target.sessionId ?? (status === Status.OFFLINE ? '' : DEFAULT_DEVICE),
        status,
        ttlMs,
        owner: target.owner ?? '',
      }),
    openSession: (userId, session, owner, status, nowMs) => runner.run('open', userId, nowMs, { session, owner, status: code(status) }),
    reopenSession: (userId, session, previousOwner, owner, activity, nowMs) =>
      runner.run('reopen', userId, nowMs, { session, owner, previousOwner, status: code(activity) }),
    closeSession: (userId, session, owner, graceMs, nowMs) => runner.run('close', userId, nowMs, { session, owner, graceMs }),
    takeOverSession: (userId, session, owner, deadlineMs, nowMs) =>
      runner.run('takeover', userId, nowMs, { session, owner, deadline: Math.floor(deadlineMs) }),
    heartbeat: (userId, session, ttlMs, nowMs) => runner.run('beat', userId, nowMs, { session, ttlMs }),
    reportActivity: (userId, target, idleMs, ttlMs, nowMs) =>
      runner.run('activity', userId, nowMs, {
        session: target.sessionId ?? DEFAULT_DEVICE,
        idleMs,
        idleSlack: activitySlackMs(idleMs),
        ttlMs,
        ttlSlack: activitySlackMs(ttlMs),
        owner: target.owner ?? '',
      }),
    async devices(userId, idleMs, nowMs) {
      const all = await client.hgetall(keys.userKeys(userId)[1]);
      return Object.entries(all)
        .flatMap(([deviceId, value]) => deviceOf(deviceId, value, idleMs, nowMs) ?? [])
        .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    },
    sweepDeadlines: (nowMs) => sweepDeadlines(opts, nowMs),
    sweepRetention: (cutoffMs, claimMs) => sweepRetention(opts, cutoffMs, claimMs),
    async onlineCount() {
      const counts = (await batch(
        client,
        Array.from({ length: keys.shards }, (_, s) => ['get', keys.online(s)] as Command),
      )) as (string | null)[];
      return counts.reduce((sum, c) => sum + Number(c ?? 0), 0);
    },
  };
}

/** Every shard's due users in one pipeline per node, then one PRESENCE 'expire' per due user. */
async function sweepDeadlines({ client, keys, runner, changes }: RedisPresenceStoreOptions, nowMs: number): Promise<number> {
  const shards = Array.from({ length: keys.shards }, (_, s) => s);
  const due = (await batch(
    client,
    shards.map((s) => ['claimDue', keys.deadlines(s), SWEEP_LIMIT, SWEEP_RETRY_MS]),
  )) as string[][];
  const users = due.flat();
  if (users.length === 0) return 0;
  const replies = (await batch(
    client,
    users.map((u) => runner.command('expire', u, nowMs, {})),
  )) as (number | string)[][];
  const routable: Routable[] = users.flatMap((u, i) => routableOf(u, runner.decode(replies[i]!)) ?? []);
  // Routed in groups, so one sweep's pipelines stay bounded (friends x users).
  for (let i = 0; i < routable.length; i += ROUTE_BATCH) await changes.presence(routable.slice(i, i + ROUTE_BATCH));
  return users.length;
}

/**
 * Each shard is scanned by one instance per period: the first to claim it. Buckets go in small
 * batches so lease renewals on the same connection never wait behind the scan.
 */
async function sweepRetention({ client, keys }: RedisPresenceStoreOptions, cutoffMs: number, claimMs: number): Promise<number> {
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
}

/**
 * One session value (SessionValue) as its owner sees it: idleness applied at `nowMs`, null when it
 * is a deadline session already past (the next sweep removes it).
 */
function deviceOf(deviceId: string, value: string, idleMs: number, nowMs: number): DeviceView | null {
  const bar = value.indexOf(SessionValue.idleMark, 2);
  const x = bar === -1 ? value.slice(2) : value.slice(2, bar);
  const socket = value[0] === SessionValue.socket;
  if (!socket && Number(x) <= nowMs) return null;
  const idleAt = bar === -1 ? null : Number(value.slice(bar + 1));
  const own = Number(value[1]) === Status.AWAY ? Status.AWAY : Status.ONLINE;
  return {
    deviceId,
    status: own === Status.ONLINE && idleAt !== null && idleAt <= nowMs ? Status.AWAY : own,
    lastActiveAt: idleAt === null ? nowMs : Math.min(nowMs, idleAt - idleMs - activitySlackMs(idleMs)),
    transport: socket ? 'websocket' : 'http',
  };
}
