import type { Redis } from 'ioredis';
import { decodeRecord, Status, type Extras, type StatusCode, type StoredPresence } from '../../domain/presence.js';
import { activitySlackMs, type PresenceChange } from '../../domain/status-rule.js';
import { FriendLimitError, HiddenLimitError, SessionLimitError } from '../../domain/errors.js';
import type { Inbox, Outbox, RoutedFriendship } from '../bus.js';
import { friendshipEntries, planFriendship, planPresence } from '../routing.js';
import type { ChangeResult, DeviceView, LoadedPresence, PresenceEngine } from '../ports.js';
import { batch, groupByNode, type Command, type RedisClient } from './connect.js';
import { createKeys, type RedisKeys } from './keys.js';
import { CLAIM_DEAD, CLAIM_DUE, HIT, PRESENCE, READ_MANY, RENEW_LEASE, RETENTION, SETTINGS_MANY } from './scripts.js';

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
 * Users claimed per shard and sweep, and how long a claim shields them from other sweepers.
 * @default 500 users, 5_000 ms
 */
const SWEEP_LIMIT = 500;
const SWEEP_RETRY_MS = 5_000;
/** Buckets scanned per retention round trip. @default 128 */
const RETENTION_BATCH = 128;
/** Changes of one sweep routed per group of pipelines. @default 50 */
const ROUTE_BATCH = 50;

type Arg = string | Buffer | number;
/**
 * PRESENCE's reply: scope, status, t, sticky, h, previous status, v, flagged, nobody, message
 * text, emoji, expiry, hides, then the ids whose hidden state changed ('+id' / '-id').
 */
type Reply = [number, number, string, number, number, number, number, number, number, string, string, string, number, ...string[]];
/** A stored change to route, and whether its user hides from anyone (their set is read then). */
interface Routable {
  change: PresenceChange;
  hides: boolean;
}
type Scripted = {
  presence(...args: Arg[]): Promise<Reply>;
  claimDue(key: string, ...args: Arg[]): Promise<string[]>;
  renewLease(key: string, ...args: Arg[]): Promise<number>;
  claimDead(...args: Arg[]): Promise<string[]>;
  retention(key: string, cutoff: Arg): Promise<number>;
  hit(key: string, windowMs: number): Promise<[number, number]>;
  /** READ_MANY: the number of keys, the keys, then the arguments. */
  readMany(...args: Arg[]): Promise<unknown[]>;
  /** SETTINGS_MANY: likewise. */
  settingsMany(...args: Arg[]): Promise<(string | number | null)[][]>;
};

export function createRedisEngine(opts: RedisEngineOptions): PresenceEngine & { keys: RedisKeys } {
  const { client, bus } = opts;
  const keys = createKeys(opts.prefix, opts.buckets);
  const define = (name: string, numberOfKeys: number | undefined, lua: string) =>
    (client as Redis).defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  define('presence', 6, PRESENCE);
  define('claimDue', 1, CLAIM_DUE);
  define('renewLease', 1, RENEW_LEASE);
  define('claimDead', 3, CLAIM_DEAD);
  define('retention', 1, RETENTION);
  define('hit', 1, HIT);
  define('readMany', undefined, READ_MANY);
  define('settingsMany', undefined, SETTINGS_MANY);
  const scripted = client as unknown as Scripted;

  const decode = (raw: string | null): StoredPresence | null => (raw === null ? null : decodeRecord(raw));

  const maxSessions = opts.maxSessionsPerUser ?? 32;
  /** The arguments of one PRESENCE call for `userId`, before the op's own. */
  const presenceArgs = (op: string, userId: string, nowMs: number): Arg[] => [
    ...keys.userKeys(userId),
    op,
    keys.locate(userId).field,
    userId,
    Math.floor(nowMs),
    maxSessions,
  ];
  /** The settings part of a reply, as presence.ts keeps them (absent when the user has none). */
  const extrasOf = (r: Reply): Extras | undefined =>
    r[7] === 1
      ? {
          v: r[6],
          nobody: r[8] === 1,
          message: r[9] === '' ? null : { text: r[9], emoji: r[10] || null, expiresAt: r[11] === '' ? null : Number(r[11]) },
        }
      : undefined;
  const result = (reply: Reply): ChangeResult => {
    const [scope, status, t, sticky, h] = reply;
    if (scope === -1) throw new SessionLimitError(`at most ${maxSessions} device sessions per user`);
    if (scope === -2) throw new HiddenLimitError('hidden from too many users');
    const x = extrasOf(reply);
    if (t === '0' && status === 0 && sticky === 0 && !x) return { changed: false, record: null };
    const record: StoredPresence = { status: status as StatusCode, t: Number(t), sticky: sticky as 0 };
    if (h > 0) record.h = h;
    if (x) record.x = x;
    return { changed: scope > 0, record };
  };
  const changeOf = (userId: string, reply: Reply): Routable | null => {
    if (reply[0] <= 0) return null;
    const x = extrasOf(reply);
    const change: PresenceChange = { userId, prev: reply[5] as StatusCode, status: reply[1] as StatusCode, t: Number(reply[2]) };
    if (reply[4]) change.h = reply[4];
    if (x) change.x = x;
    if (reply[0] === 1) change.self = 1;
    return { change, hides: reply[12] === 1 };
  };
  const run = async (op: string, userId: string, nowMs: number, ...rest: Arg[]) => {
    const reply = await scripted.presence(...presenceArgs(op, userId, nowMs), ...rest);
    const out = result(reply);
    const change = changeOf(userId, reply);
    if (change) await routeChanges([change]);
    const hidden = reply.slice(13) as string[];
    if (hidden.length) {
      // What a friendship removal (hide) or addition (unhide) would tell each of them.
      const entries: RoutedFriendship[] = hidden.map((h) =>
        h[0] === '+' ? { to: h.slice(1), added: [], removed: [userId] } : { to: h.slice(1), added: [userId], removed: [] },
      );
      await routeEntries(entries);
    }
    return out;
  };

  const fanout = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      if (!opts.onFanoutError) throw err;
      opts.onFanoutError(err as Error);
    }
  };
  /**
   * Routes stored changes: the users' friends (and, for a user who hides from anyone, that set; one
   * pipeline), then the routes of every viewer and, under visibility 'everyone', who watches each
   * user (one pipeline per Redis node), then one message per instance inbox. Three round trips
   * after the write, whatever the friend count. A change only the user may see goes to them alone.
   */
  const routeChanges = (routable: Routable[]) =>
    fanout(async () => {
      const watch = !opts.friendship;
      const reads: Command[] = [];
      for (const { change, hides } of routable) {
        if (!change.self) reads.push(['smembers', keys.friends(change.userId)]);
        if (hides && !change.self) reads.push(['smembers', keys.hiddenFrom(change.userId)]);
      }
      const lists = (await batch(client, reads)) as string[][];
      let r = 0;
      const changes = routable.map(({ change, hides }) => {
        if (change.self) return { change, viewers: [change.userId] };
        const friends = lists[r++]!;
        if (!hides) return { change, viewers: [...friends, change.userId] };
        const hiddenFrom = lists[r++]!;
        const hidden = new Set(hiddenFrom);
        // Instances watching the user regardless of friendship filter their viewers themselves.
        if (watch) change.hiddenFrom = hiddenFrom;
        return { change, viewers: [...friends.filter((f) => !hidden.has(f)), change.userId] };
      });
      const distinct = [...new Set(changes.flatMap((c) => c.viewers))];
      const commands: Command[] = distinct.map((v) => ['smembers', keys.routes(v)]);
      const watches = (c: (typeof changes)[number]) => watch && !c.change.self;
      for (const c of changes) if (watches(c)) commands.push(['smembers', keys.watchers(c.change.userId)]);
      const replies = (await batch(client, commands)) as string[][];
      const routes = new Map(distinct.map((v, i) => [v, replies[i]!]));
      let w = distinct.length;
      const watchers = changes.map((c) => (watches(c) ? replies[w++]! : []));
      await bus.send(
        planPresence(
          changes.map((c) => c.change),
          changes.map((c) => c.viewers),
          (v) => routes.get(v) ?? [],
          watchers,
        ),
      );
    });
  /** Sends friendship entries to the instances of their viewers. */
  const routeEntries = (entries: RoutedFriendship[]) =>
    fanout(async () => {
      const replies = (await batch(
        client,
        entries.map((e) => ['smembers', keys.routes(e.to)] as Command),
      )) as string[][];
      const routes = new Map(entries.map((e, i) => [e.to, replies[i]!]));
      await bus.send(planFriendship(entries, (v) => routes.get(v) ?? []));
    });
  /** Routes a friendship change to both sides' instances. */
  const routeFriendship = async (userId: string, changed: string[], kind: 'added' | 'removed') => {
    if (changed.length) await routeEntries(friendshipEntries(userId, changed, kind));
  };
  /** Adds or removes `instanceId` in each key's set, and the members in the instance's index. */
  const register = async (index: string, keyOf: (id: string) => string, instanceId: string, ids: readonly string[], held: boolean) => {
    if (ids.length === 0) return;
    const op = held ? 'sadd' : 'srem';
    await batch(client, [[op, index, ...ids], ...ids.map((id) => [op, keyOf(id), instanceId] as Command)]);
  };
  /** Drops every route and interest of `instanceId`, in chunks, then its indexes. */
  const dropRoutes = async (instanceId: string) => {
    for (const [index, keyOf] of [
      [keys.instanceRoutes(instanceId), keys.routes],
      [keys.instanceWatches(instanceId), keys.watchers],
    ] as const) {
      const ids = await client.smembers(index);
      for (let i = 0; i < ids.length; i += 1_000) await register(index, keyOf, instanceId, ids.slice(i, i + 1_000), false);
      await client.del(index);
    }
  };
  const maxFriends = opts.maxFriendsPerUser ?? 5_000;
  const code = (s: StatusCode | null) => (s === null ? '' : String(s));

  /** Off once Redis refused the script for good (older than 7: no shebang flags). */
  let scriptReads = true;
  /**
   * Runs `run` once per Redis node holding the commands' keys (one read script per node). False
   * when reads cannot go this way (a slot not yet known or moving, Redis < 7): the caller then
   * sends plain commands.
   */
  const perNode = async (commands: Command[], run: (indexes: number[]) => Promise<void>): Promise<boolean> => {
    if (!scriptReads || commands.length === 0) return false;
    const { groups, unknown } = groupByNode(client, commands);
    if (unknown.length) return false;
    try {
      await Promise.all(groups.map(run));
    } catch (err) {
      const message = (err as Error).message;
      if (/shebang|flags|unknown lua/i.test(message)) scriptReads = false;
      else if (!/CROSSSLOT|MOVED|ASK|TRYAGAIN|CLUSTERDOWN|slot/i.test(message)) throw err;
      return false;
    }
    return true;
  };
  /**
   * The HMGETs and the SMISMEMBER of one read, as one READ_MANY per node: the same replies in the
   * same order as batch() would give. Null when they cannot go this way (perNode).
   */
  const readMany = async (commands: Command[]): Promise<unknown[] | null> => {
    const out: unknown[] = new Array(commands.length);
    const done = await perNode(commands, async (indexes) => {
      const reads = indexes.filter((i) => commands[i]![0] === 'hmget');
      const member = indexes.find((i) => commands[i]![0] === 'smismember');
      const keys = [...reads, ...(member === undefined ? [] : [member])].map((i) => commands[i]![1]!);
      const args: Arg[] = [member === undefined ? '0' : '1', keys.length, ...keys];
      for (const i of reads) args.push(commands[i]!.length - 2, ...commands[i]!.slice(2));
      if (member !== undefined) args.push(...commands[member]!.slice(2));
      // One declared key, to route the call to the node (see READ_MANY).
      const replies = await scripted.readMany(1, keys[0]!, ...args);
      reads.forEach((i, j) => (out[i] = replies[j]));
      if (member !== undefined) out[member] = replies[reads.length];
    });
    return done ? out : null;
  };

  /**
   * The settings of the flagged records among `out` (a message, privacy), and whether each hides
   * from the viewer: one more round trip per node, only when a read meets such a user.
   */
  const readSettings = async (viewerId: string | null, ids: readonly string[], out: LoadedPresence[]) => {
    if (!out.some((l) => l.record?.x)) return; // the common case: nobody in the answer has settings
    const flagged = [...new Set(ids.filter((_, i) => out[i]!.record?.x))];
    const viewer = viewerId ?? '';
    const replies = (await settingsMany(viewer, flagged)) ?? (await settingsByCommands(viewer, flagged));
    const read = new Map<string, { x: Extras; hidden: boolean }>();
    flagged.forEach((id, i) => {
      const [mt, me, mx, p, v, hidden] = replies[i]!;
      const message = mt ? { text: String(mt), emoji: me ? String(me) : null, expiresAt: mx ? Number(mx) : null } : null;
      read.set(id, { x: { v: Number(v ?? 0), message, nobody: p === 'N' }, hidden: id !== viewerId && hidden === 1 });
    });
    ids.forEach((id, i) => {
      const got = read.get(id);
      if (!got) return;
      // Each slot gets its own record: a DataLoader may hand the same id's object to two callers.
      out[i]!.record = { ...out[i]!.record!, x: got.x };
      out[i]!.hidden = got.hidden;
    });
  };
  /** One SETTINGS_MANY per node; null when it cannot go this way (perNode). */
  const settingsMany = async (viewer: string, flagged: string[]) => {
    const out: (string | number | null)[][] = new Array(flagged.length);
    const done = await perNode(
      flagged.map((id) => ['hmget', keys.settings(id)]),
      async (indexes) => {
        const args = indexes.flatMap((i) => [keys.settings(flagged[i]!), keys.hiddenFrom(flagged[i]!)]);
        const replies = await scripted.settingsMany(1, args[0]!, viewer, ...args);
        indexes.forEach((i, j) => (out[i] = replies[j]!));
      },
    );
    return done ? out : null;
  };
  /** The same reads as plain commands (Redis older than 7, a slot moving). */
  const settingsByCommands = async (viewer: string, flagged: string[]) => {
    const commands: Command[] = [];
    for (const id of flagged) {
      commands.push(['hmget', keys.settings(id), 'mt', 'me', 'mx', 'p', 'v']);
      commands.push(['sismember', keys.hiddenFrom(id), viewer]);
    }
    const replies = await batch(client, commands);
    return flagged.map((_, i) => [...(replies[2 * i] as (string | null)[]), replies[2 * i + 1] as number]);
  };

  return {
    kind: 'redis',
    keys,
    inbox: bus,

    async load(viewerId, ids) {
      // One READ_MANY per node holding any of the buckets (and the friend set): one round trip
      // per node, one command each. Plain HMGETs when the script cannot run (see readMany).
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

      const replies = (await readMany(commands)) ?? (await batch(client, commands));
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
      await readSettings(viewerId, ids, out);
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

    setMessage: (userId, message, nowMs) =>
      run(
        'message',
        userId,
        nowMs,
        message?.text ?? '',
        message?.emoji ?? '',
        message?.expiresAt === null || !message ? '' : Math.floor(message.expiresAt),
      ),
    setPrivacy: (userId, change, maxHidden, nowMs) =>
      run(
        'privacy',
        userId,
        nowMs,
        change.nobody === undefined ? '' : change.nobody ? 'N' : 'F',
        maxHidden,
        change.hide.length,
        ...change.hide,
        change.unhide.length,
        ...change.unhide,
      ),
    async privacy(userId) {
      const [p, hidden] = (await batch(client, [
        ['hget', keys.settings(userId), 'p'],
        ['smembers', keys.hiddenFrom(userId)],
      ])) as [string | null, string[]];
      return { nobody: p === 'N', hiddenFrom: hidden.sort() };
    },

    async sweepDeadlines(nowMs) {
      // Every shard's index in one pipeline per node, then one re-evaluation per due user.
      const shards = Array.from({ length: keys.shards }, (_, s) => s);
      const due = (await batch(
        client,
        shards.map((s) => ['claimDue', keys.deadlines(s), SWEEP_LIMIT, SWEEP_RETRY_MS]),
      )) as string[][];
      const users = due.flat();
      if (users.length === 0) return 0;
      const replies = (await batch(
        client,
        users.map((u) => ['presence', ...presenceArgs('expire', u, nowMs)] as Command),
      )) as Reply[];
      const changes = users.flatMap((u, i) => changeOf(u, replies[i]!) ?? []);
      // Routed in groups, so one sweep's pipelines stay bounded (friends x users).
      for (let i = 0; i < changes.length; i += ROUTE_BATCH) await routeChanges(changes.slice(i, i + ROUTE_BATCH));
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
      await dropRoutes(instanceId);
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

    async addFriends(userId, friendIds) {
      if (friendIds.length === 0) return 0;
      // The cap is checked before anything is written, so a refused call stores nothing. Checks and
      // writes are separate round trips: concurrent calls for one user may overshoot it by their
      // own size, which still bounds one change's fan-out.
      const [count, member, ...sizes] = (await batch(client, [
        ['scard', keys.friends(userId)],
        ['smismember', keys.friends(userId), ...friendIds],
        ...friendIds.map((f) => ['scard', keys.friends(f)] as Command),
      ])) as [number, number[], ...number[]];
      const fresh = friendIds.filter((_, i) => member[i] !== 1);
      const over = friendIds.filter((_, i) => member[i] !== 1 && sizes[i]! + 1 > maxFriends);
      if (count + fresh.length > maxFriends) over.unshift(userId);
      if (over.length) throw new FriendLimitError(`at most ${maxFriends} friends per user (${over.slice(0, 3).join(', ')} would pass it)`);
      const created = await mutateFriendship(client, keys, 'sadd', userId, friendIds);
      await routeFriendship(userId, [...friendIds], 'added');
      return created;
    },
    async removeFriends(userId, friendIds) {
      const count = await mutateFriendship(client, keys, 'srem', userId, friendIds);
      await routeFriendship(userId, [...friendIds], 'removed');
      return count;
    },

    route: (instanceId, viewerIds, held) => register(keys.instanceRoutes(instanceId), keys.routes, instanceId, viewerIds, held),
    watch: (instanceId, userIds, held) => register(keys.instanceWatches(instanceId), keys.watchers, instanceId, userIds, held),
    dropRoutes,

    async close() {
      // The connections are injected; their owner quits them.
    },

    reportActivity: (userId, target, idleMs, ttlMs, nowMs) =>
      run('activity', userId, nowMs, target.sessionId, idleMs, activitySlackMs(idleMs), ttlMs, activitySlackMs(ttlMs), target.owner ?? ''),
    async devices(userId, idleMs, nowMs) {
      const all = await client.hgetall(keys.userKeys(userId)[1]);
      return Object.entries(all)
        .flatMap(([deviceId, value]) => deviceOf(deviceId, value, idleMs, nowMs) ?? [])
        .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    },
  };
}

/**
 * One session value as its owner sees it (the format is PRESENCE's, scripts.ts): idleness applied
 * at `nowMs`, null when it is a deadline session already past (the next sweep removes it).
 */
function deviceOf(deviceId: string, value: string, idleMs: number, nowMs: number): DeviceView | null {
  const bar = value.indexOf('|', 2);
  const x = bar === -1 ? value.slice(2) : value.slice(2, bar);
  const socket = value[0] === 'w';
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

/**
 * Friendship is stored in both users' sets. The two sides live on different slots, so the update
 * is one pipelined batch rather than a transaction; both commands are idempotent. The count is
 * taken from the caller's side so a retried call after a partial failure repairs without
 * recounting. The caller routes every pair asked for as changed, changed now or not: a call answered with
 * an error after Redis applied it (a stall past the command timeout) changes nothing when retried,
 * and routing only what changed would then never tell open subscriptions (README, "Errors"). A
 * repeated announcement is a no-op for a subscriber. The change is routed after the write: inbox
 * delivery is at-most-once, and a subscriber that misses it still sees the friendship on its next
 * read.
 */
async function mutateFriendship(
  client: RedisClient,
  keys: RedisKeys,
  op: 'sadd' | 'srem',
  userId: string,
  friendIds: readonly string[],
): Promise<number> {
  if (friendIds.length === 0) return 0;
  const commands: Command[] = [[op, keys.friends(userId), ...friendIds]];
  for (const f of friendIds) commands.push([op, keys.friends(f), userId]);
  const [count] = (await batch(client, commands)) as number[];
  return count!;
}
