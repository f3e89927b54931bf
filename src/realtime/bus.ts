import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { RedisClient } from '../engine/redis/connect.js';
import type { RedisKeys } from '../engine/redis/keys.js';
import { statusNames, type PresenceChange, type StatusCode } from '../presence.js';

/**
 * The one typed seam over pub/sub. Channels are per user and per topic; payloads are defined
 * here and decoded here, so nothing else ever sees graphql-redis-subscriptions' `any`.
 */
export interface FriendshipChange {
  added: string[];
  removed: string[];
}

/** The message for `ids` joining or leaving a user's friend set. */
export const friendshipChange = (kind: 'added' | 'removed', ids: string[]): FriendshipChange =>
  kind === 'added' ? { added: ids, removed: [] } : { added: [], removed: ids };

/** Tells `userId` and each of `changed` about the pairs that changed between them. */
export async function announceFriendship(bus: Bus, userId: string, changed: string[], kind: 'added' | 'removed') {
  if (changed.length === 0) return;
  await Promise.all([
    bus.publish('friends', userId, friendshipChange(kind, changed)),
    ...changed.map((f) => bus.publish('friends', f, friendshipChange(kind, [userId]))),
  ]);
}

export interface Topics {
  /** A user's stored presence changed. Published by the Lua write script (Redis) or the engine. */
  presence: PresenceChange;
  /** A user's friend set changed. Published after the friend sets are written. */
  friends: FriendshipChange;
}
export type Topic = keyof Topics;

export interface BusSubscription {
  /** Stops delivery; resolves once the channel reference is dropped. Idempotent. */
  release(): Promise<void>;
}

export interface Bus {
  /** Resolves once messages on the channel are being received. */
  subscribe<K extends Topic>(topic: K, userId: string, listener: (msg: Topics[K]) => void): Promise<BusSubscription>;
  publish<K extends Topic>(topic: K, userId: string, msg: Topics[K]): Promise<void>;
  /** Distinct channels this process is subscribed to (a gauge for /metrics and leak tests). */
  channelCount(): number;
  close(): Promise<void>;
}

// ---- wire format -------------------------------------------------------------------------------
// presence: {"u": userId, "p": previous status code, "s": status code, "t": ms, "h": hidden changes
//           (only when > 0; presence.ts StoredPresence)}; written by Lua.
// friends:  {"a": [ids added], "r": [ids removed]}.

const isCode = (v: unknown): v is StatusCode => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < statusNames.length;
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function encode<K extends Topic>(topic: K, msg: Topics[K]): string {
  if (topic === 'presence') {
    const c = msg as PresenceChange;
    return JSON.stringify(c.h ? { u: c.userId, p: c.prev, s: c.status, t: c.t, h: c.h } : { u: c.userId, p: c.prev, s: c.status, t: c.t });
  }
  const f = msg as FriendshipChange;
  return JSON.stringify({ a: f.added, r: f.removed });
}

/** Parses a wire message; null for anything malformed (dropped, never thrown into a listener). */
export function decode<K extends Topic>(topic: K, raw: unknown): Topics[K] | null {
  let m: Record<string, unknown>;
  try {
    m = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof m !== 'object' || m === null) return null;
  if (topic === 'presence') {
    if (typeof m['u'] !== 'string' || !isCode(m['p']) || !isCode(m['s']) || typeof m['t'] !== 'number') return null;
    if (m['h'] !== undefined && typeof m['h'] !== 'number') return null;
    const h = m['h'] ? { h: m['h'] } : {};
    return { userId: m['u'], prev: m['p'], status: m['s'], t: m['t'], ...h } as Topics[K];
  }
  if (!isIds(m['a']) || !isIds(m['r'])) return null;
  return { added: m['a'], removed: m['r'] } as Topics[K];
}

// ---- implementations ---------------------------------------------------------------------------

/** In-process bus for the memory engine: same contract, delivered on a later microtask like Redis. */
export function createMemoryBus(): Bus {
  const listeners = new Map<string, Set<(raw: string) => void>>();
  const channel = (topic: Topic, userId: string) => `${topic}:${userId}`;
  return {
    async subscribe(topic, userId, listener) {
      const name = channel(topic, userId);
      const deliver = (raw: string) => {
        const msg = decode(topic, raw);
        if (msg) listener(msg);
      };
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(deliver);
      return {
        async release() {
          const s = listeners.get(name);
          if (s?.delete(deliver) && s.size === 0) listeners.delete(name);
        },
      };
    },
    async publish(topic, userId, msg) {
      const raw = encode(topic, msg);
      const set = listeners.get(channel(topic, userId));
      if (set) queueMicrotask(() => set.forEach((deliver) => deliver(raw)));
    },
    channelCount: () => listeners.size,
    async close() {
      listeners.clear();
    },
  };
}

/**
 * Redis bus: graphql-redis-subscriptions' RedisPubSub over injected publisher and subscriber
 * connections. RedisPubSub counts references per channel, so a thousand viewers of one user share
 * one Redis SUBSCRIBE. No pattern subscriptions.
 */
export function createRedisBus(opts: { publisher: RedisClient; subscriber: RedisClient; keys: RedisKeys }): Bus {
  const { keys } = opts;
  // Messages reach us raw: decode() validates them instead of the library's lenient JSON.parse.
  const pubsub = new RedisPubSub({
    publisher: opts.publisher as never,
    subscriber: opts.subscriber as never,
    deserializer: (source: string | Buffer) => source.toString(),
  });
  const channel = (topic: Topic, userId: string) =>
    topic === 'presence' ? keys.userChannel(userId) : keys.friendsChannel(userId);
  // Our own count of references per channel, mirroring RedisPubSub's private one, for channelCount().
  const refs = new Map<string, number>();

  return {
    async subscribe(topic, userId, listener) {
      const name = channel(topic, userId);
      // RedisPubSub.unsubscribe() must not run before its subscribe() resolves: the id would be
      // added to the channel's references afterwards, leaking the channel and breaking onMessage.
      // Awaiting here guarantees release() only ever sees a completed subscription.
      const id = await pubsub.subscribe(name, (raw: unknown) => {
        const msg = decode(topic, raw);
        if (msg) listener(msg);
      });
      refs.set(name, (refs.get(name) ?? 0) + 1);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          pubsub.unsubscribe(id);
          const left = (refs.get(name) ?? 1) - 1;
          if (left === 0) refs.delete(name);
          else refs.set(name, left);
        },
      };
    },
    async publish(topic, userId, msg) {
      await opts.publisher.publish(channel(topic, userId), encode(topic, msg));
    },
    channelCount: () => refs.size,
    async close() {
      // Connections are injected; their owner quits them.
    },
  };
}
