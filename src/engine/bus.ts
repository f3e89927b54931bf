import type { Cluster, Redis } from 'ioredis';
import { statusNames, type Extras, type StatusCode } from '../domain/presence.js';
import { type PresenceChange } from '../domain/status-rule.js';

/**
 * The inbox bus: one channel per instance, and the one description of what travels on it.
 *
 * A writer (any instance making a change) addresses each message to one instance and names the
 * recipients there, so an instance receives only what its own subscribers may see, and Redis holds
 * one channel per instance however many sockets and friends there are. The engine publishes;
 * src/realtime only receives and fans out locally.
 *
 * ## Wire format (JSON, one message per instance per write)
 *
 * ```
 * presence: {"k":"p","c":[{"u":userId,"p":prev,"s":status,"t":ms,"to":[viewerIds],"w":1?,"h":n?,"o":1?,
 *                            "x":{"v":n,"n":1?,"m":[text,emoji|null,expiresAt|null]?}?,"hf":[ids]?}, ...]}
 * friends:  {"k":"f","c":[{"to":viewerId,"a":[ids added],"r":[ids removed]}, ...]}
 * ```
 * - `p`, `s`: status codes (presence.ts `Status`); `t`: the record's time, which is its version.
 * - `to`: viewers with an open subscription on the receiving instance who are routed for the user
 *   (the user's friends, and the user themselves). `w`: the receiving instance also registered an
 *   interest in the user (`presenceChanged(ids)` under `PRESENCE_VISIBILITY=everyone`).
 * - `h`: changes only the user sees since `t`; `o`: only the user may see this change (it is routed
 *   to them alone); `x`: the user's settings (presence.ts Extras: version offset, lastActive NOBODY,
 *   status message), present only for a user who has any; `hf`: under visibility 'everyone', with
 *   `w`, the viewers the user hides from.
 * - `c` batches changes of one write (a sweep ends many sessions at once) for that instance.
 * - `{"k":"probe","n":seq}`: an instance's own liveness probe of its inbox (Redis bus only).
 *
 * A malformed message is counted by the reason it was refused (`malformed`, decodeInbox), never
 * thrown into a listener.
 */
export interface RoutedChange extends PresenceChange {
  /** Viewers on the receiving instance routed for this user (friends, or the user themselves). */
  to: string[];
  /** The receiving instance watches this user for `presenceChanged(ids)` regardless of friendship. */
  watched: boolean;
}

export interface FriendshipChange {
  added: string[];
  removed: string[];
}

export interface RoutedFriendship extends FriendshipChange {
  /** The viewer whose friend set changed. */
  to: string;
}

export type InboxMessage = { kind: 'presence'; changes: RoutedChange[] } | { kind: 'friends'; changes: RoutedFriendship[] };

const isCode = (v: unknown): v is StatusCode => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < statusNames.length;
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const encodeExtras = (x: Extras) => {
  const out: Record<string, unknown> = { v: x.v };
  if (x.nobody) out['n'] = 1;
  if (x.message) out['m'] = [x.message.text, x.message.emoji, x.message.expiresAt];
  return out;
};
const isNullable = (v: unknown, type: 'string' | 'number') => v === null || typeof v === type;
function decodeExtras(x: unknown): Extras | null {
  if (!isObject(x) || typeof x['v'] !== 'number') return null;
  const m = x['m'];
  if (m !== undefined && !(Array.isArray(m) && typeof m[0] === 'string' && isNullable(m[1], 'string') && isNullable(m[2], 'number')))
    return null;
  const message = m ? { text: m[0] as string, emoji: m[1] as string | null, expiresAt: m[2] as number | null } : null;
  return { v: x['v'], nobody: x['n'] === 1, message };
}

export function encodeInbox(msg: InboxMessage): string {
  if (msg.kind === 'presence') {
    return JSON.stringify({
      k: 'p',
      c: msg.changes.map((c) => {
        const out: Record<string, unknown> = { u: c.userId, p: c.prev, s: c.status, t: c.t, to: c.to };
        if (c.watched) out['w'] = 1;
        if (c.h) out['h'] = c.h;
        if (c.self) out['o'] = 1;
        if (c.x) out['x'] = encodeExtras(c.x);
        if (c.watched && c.hiddenFrom?.length) out['hf'] = c.hiddenFrom;
        return out;
      }),
    });
  }
  return JSON.stringify({
    k: 'f',
    c: msg.changes.map((c) => ({ to: c.to, a: c.added, r: c.removed })),
  });
}

/**
 * Why a wire message was refused: not JSON; no `c` list; a presence change (`k: "p"`) or a
 * friendship change (`k: "f"`) missing a field or holding one of the wrong type; another `k`.
 */
export const MALFORMED = ['not-json', 'no-changes', 'bad-presence-change', 'bad-friendship-change', 'unknown-kind'] as const;
export type Malformed = (typeof MALFORMED)[number];

/** A wire message decoded, or the reason it was refused. */
export type Decoded = { message: InboxMessage } | { malformed: Malformed };

/** Parses a wire message; a malformed one is refused with its reason, never half-read. */
export function decodeInbox(raw: string): Decoded {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return { malformed: 'not-json' };
  }
  if (!isObject(m) || !Array.isArray(m['c'])) return { malformed: 'no-changes' };
  const list = m['c'] as unknown[];
  if (m['k'] === 'p') {
    const changes = list.map(decodeChange);
    return changes.every((c) => c !== null) ? { message: { kind: 'presence', changes } } : { malformed: 'bad-presence-change' };
  }
  if (m['k'] === 'f') {
    const changes = list.map(decodeFriendship);
    return changes.every((c) => c !== null) ? { message: { kind: 'friends', changes } } : { malformed: 'bad-friendship-change' };
  }
  return { malformed: 'unknown-kind' };
}

function decodeChange(c: unknown): RoutedChange | null {
  if (!isObject(c) || typeof c['u'] !== 'string' || !isCode(c['p']) || !isCode(c['s']) || typeof c['t'] !== 'number' || !isIds(c['to']))
    return null;
  const change: RoutedChange = { userId: c['u'], prev: c['p'], status: c['s'], t: c['t'], to: c['to'], watched: c['w'] === 1 };
  if (typeof c['h'] === 'number' && c['h'] > 0) change.h = c['h'];
  if (c['o'] === 1) change.self = 1;
  if (c['x'] !== undefined) {
    const x = decodeExtras(c['x']);
    if (!x) return null;
    change.x = x;
  }
  if (c['hf'] !== undefined) {
    if (!isIds(c['hf'])) return null;
    change.hiddenFrom = c['hf'];
  }
  return change;
}

function decodeFriendship(c: unknown): RoutedFriendship | null {
  if (!isObject(c) || typeof c['to'] !== 'string' || !isIds(c['a']) || !isIds(c['r'])) return null;
  return { to: c['to'], added: c['a'], removed: c['r'] };
}

/** Refused messages, counted by reason (the inbox's `malformed`). */
function malformedCounts() {
  const counts = Object.fromEntries(MALFORMED.map((r) => [r, 0])) as Record<Malformed, number>;
  return {
    counts: counts as Readonly<Record<Malformed, number>>,
    /** Hands a decoded message to `deliver`, or counts why it was refused. */
    take(decoded: Decoded, deliver: (msg: InboxMessage) => void) {
      if ('malformed' in decoded) counts[decoded.malformed]++;
      else deliver(decoded.message);
    },
  };
}

/** The receiving side of the bus, as src/realtime sees it. */
export interface Inbox {
  /**
   * Receives the messages addressed to `instanceId` from now on (resolves once subscribed). An
   * instance that must change its id (lease lost) opens the new inbox before closing the old one.
   */
  open(instanceId: string, listener: (msg: InboxMessage) => void): Promise<void>;
  /** Stops receiving `instanceId`'s messages. */
  release(instanceId: string): Promise<void>;
  /**
   * Called each time the subscription is re-established after a lost connection (Redis restart,
   * failover): what Redis kept of the routing table may be gone, so the caller asserts it again.
   */
  onReconnect(listener: () => void): void;
  /** Channels this process is subscribed to: one per open inbox (a gauge and the leak tests' invariant). */
  channelCount(): number;
  /** Messages dropped because they did not parse, by reason (decodeInbox). */
  malformed(): Readonly<Record<Malformed, number>>;
  /**
   * Sends a probe through each open inbox and resolves true once it came back (false after
   * `timeoutMs`): the inbox delivers again, e.g. after a failover.
   */
  verify(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The sending side, used by the engines only. */
export interface Outbox {
  /** Sends one message to each instance of the map (instanceId -> message), all at once. */
  send(messages: Map<string, InboxMessage>): Promise<void>;
}

// ---- in-process (memory engine) ----------------------------------------------------------------

/** Same contract in one process: delivered on a later microtask, like Redis. */
export function createMemoryBus(): Inbox & Outbox {
  const listeners = new Map<string, (msg: InboxMessage) => void>();
  const refused = malformedCounts();
  return {
    async open(instanceId, listener) {
      listeners.set(instanceId, listener);
    },
    async release(instanceId) {
      listeners.delete(instanceId);
    },
    onReconnect: () => {},
    channelCount: () => listeners.size,
    malformed: () => refused.counts,
    verify: async () => true,
    async send(messages) {
      for (const [instanceId, msg] of messages) {
        const raw = encodeInbox(msg); // the same bytes as on Redis: the format is exercised here too
        queueMicrotask(() => refused.take(decodeInbox(raw), (decoded) => listeners.get(instanceId)?.(decoded)));
      }
    },
    async close() {
      listeners.clear();
    },
  };
}

// ---- Redis ---------------------------------------------------------------------------------------

/**
 * The typed seam over ioredis pub/sub. Standalone and Sentinel use classic SUBSCRIBE/PUBLISH. On
 * Cluster, classic PUBLISH is broadcast to every node of the cluster, so the inboxes use sharded
 * pub/sub: SPUBLISH reaches only the shard owning the inbox's slot, and the subscriber must be a
 * Cluster client created with `shardedSubscribers: true` (ioredis then holds one subscriber
 * connection per primary and re-issues SSUBSCRIBE after a failover or slot move).
 *
 * A primary demoted by a failover drops its shard-channel subscribers (Redis sends SUNSUBSCRIBE),
 * and the subscriber learns of the new primary only on its next slot refresh. So on Cluster each
 * instance probes its own inbox every `probeMs`: a probe not back within three periods refreshes
 * the slot map, subscribes again and re-asserts the routes (onReconnect). Events published in
 * between are lost (at-most-once, PRESENCE.md); one SPUBLISH per second per instance is the cost.
 *
 * graphql-redis-subscriptions is not used here: it can neither SSUBSCRIBE nor address a message
 * to one instance, and the payload would be `any` past this module.
 */
export interface RedisBusOptions {
  publisher: Redis | Cluster;
  subscriber: Redis | Cluster;
  sharded: boolean;
  /** The inbox channel of an instance (keys.ts). */
  channel(instanceId: string): string;
  /** Cluster: how often an instance probes its own inbox. @default 1_000 // 1 s (0 disables) */
  probeMs?: number;
}

export function createRedisBus(opts: RedisBusOptions): Inbox & Outbox {
  const { publisher, subscriber, sharded } = opts;
  const open = new Map<string, (msg: InboxMessage) => void>(); // channel -> listener
  const reconnectListeners: (() => void)[] = [];
  const refused = malformedCounts();
  let readyOnce = !sharded && subscriber.status === 'ready';
  const reconnected = () => {
    for (const l of reconnectListeners) l();
  };
  const probes = createInboxProbes({ ...opts, channels: () => open.keys(), reconnected });

  const onMessage = (channel: string, raw: string) => {
    const listener = open.get(channel);
    if (!listener || probes.received(channel, raw)) return;
    refused.take(decodeInbox(raw), listener);
  };
  subscriber.on(sharded ? 'smessage' : 'message', onMessage);
  const onReady = () => {
    // The first 'ready' is the boot; every later one follows a reconnect (ioredis re-issues the
    // SUBSCRIBE itself), after which the routing table is asserted again.
    if (!readyOnce) {
      readyOnce = true;
      return;
    }
    reconnected();
  };
  // A Cluster's sharded subscribers announce 'subscribersReady' after every (re)build of their
  // group (boot, failover, slot move), once they have re-issued SSUBSCRIBE.
  const readyEvent = sharded ? 'subscribersReady' : 'ready';
  subscriber.on(readyEvent, onReady);

  return {
    async open(instanceId, listener) {
      const channel = opts.channel(instanceId);
      open.set(channel, listener);
      probes.opened(channel);
      if (sharded) await subscriber.ssubscribe(channel);
      else await subscriber.subscribe(channel);
    },
    async release(instanceId) {
      const channel = opts.channel(instanceId);
      if (!open.delete(channel)) return;
      probes.released(channel);
      if (sharded) await subscriber.sunsubscribe(channel);
      else await subscriber.unsubscribe(channel);
    },
    onReconnect: (l) => void reconnectListeners.push(l),
    channelCount: () => open.size,
    malformed: () => refused.counts,
    verify: (timeoutMs) => probes.verify([...open.keys()], timeoutMs),
    async send(messages) {
      await Promise.all(
        [...messages].map(([instanceId, msg]) => {
          const channel = opts.channel(instanceId);
          const raw = encodeInbox(msg);
          return sharded ? publisher.spublish(channel, raw) : publisher.publish(channel, raw);
        }),
      );
    },
    async close() {
      probes.stop();
      subscriber.off(sharded ? 'smessage' : 'message', onMessage);
      subscriber.off(readyEvent, onReady);
      open.clear();
    },
  };
}

/**
 * An instance's probes of its own inboxes: `verify` on demand, and on Cluster every `probeMs`,
 * where a probe not back within three periods refreshes the slot map, subscribes again and calls
 * `reconnected` (createRedisBus).
 */
function createInboxProbes(
  opts: RedisBusOptions & {
    /** The open inbox channels, read at each round. */
    channels(): Iterable<string>;
    reconnected(): void;
  },
) {
  const { publisher, subscriber, sharded } = opts;
  const probeMs = opts.probeMs ?? 1_000;
  /** Per open channel: when its last probe came back. */
  const lastProbe = new Map<string, number>();
  const waiting = new Set<(channel: string) => void>();
  let probes = 0;
  const PROBE = '{"k":"probe"';
  const send = (channel: string) => {
    const raw = `${PROBE},"n":${++probes}}`;
    return sharded ? publisher.spublish(channel, raw) : publisher.publish(channel, raw);
  };
  const resubscribe = async (channel: string) => {
    if ('refreshSlotsCache' in subscriber) subscriber.refreshSlotsCache();
    await subscriber.ssubscribe(channel);
    opts.reconnected();
  };
  const round = async () => {
    for (const channel of opts.channels()) {
      if (Date.now() - (lastProbe.get(channel) ?? 0) > 3 * probeMs) {
        lastProbe.set(channel, Date.now()); // one attempt per three periods
        await resubscribe(channel).catch(() => {});
      }
      await send(channel).catch(() => {});
    }
  };
  let probing = false;
  const timer =
    sharded && probeMs > 0
      ? setInterval(() => {
          if (probing) return;
          probing = true;
          void round().finally(() => (probing = false));
        }, probeMs)
      : null;
  timer?.unref();

  return {
    /** Whether `raw` is a probe (then noted as back), not a message. */
    received(channel: string, raw: string): boolean {
      if (!raw.startsWith(PROBE)) return false;
      lastProbe.set(channel, Date.now());
      for (const w of waiting) w(channel);
      return true;
    },
    opened: (channel: string) => void lastProbe.set(channel, Date.now()),
    released: (channel: string) => void lastProbe.delete(channel),
    /** Sends a probe through each channel; true once every one came back, false after `timeoutMs`. */
    async verify(channels: string[], timeoutMs: number): Promise<boolean> {
      const pending = new Set(channels);
      let done!: (ok: boolean) => void;
      const result = new Promise<boolean>((resolve) => (done = resolve));
      const seen = (channel: string) => pending.delete(channel) && pending.size === 0 && done(true);
      waiting.add(seen);
      const timer = setTimeout(() => done(pending.size === 0), timeoutMs);
      await Promise.all(channels.map((c) => send(c).catch(() => {})));
      if (pending.size === 0) done(true);
      const ok = await result;
      clearTimeout(timer);
      waiting.delete(seen);
      return ok;
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
