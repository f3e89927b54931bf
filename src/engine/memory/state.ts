import type { StoredPresence } from '../../domain/presence.js';
import type { Session } from '../../domain/status-rule.js';

/**
 * Everything the memory engine keeps, shared by its ports the way the Redis engine's ports share
 * one Redis: records, sessions, friendships and privacy, and the routing table.
 */
export interface MemoryState {
  records: Map<string, StoredPresence>;
  sessions: Map<string, Map<string, Session>>;
  friends: Map<string, Set<string>>;
  /** Whom each user hides from (setPrivacy hide). */
  hiddenFrom: Map<string, Set<string>>;
  /** Users whose status message has an expiry: what the deadline sweep checks besides sessions. */
  expiring: Set<string>;
  /** The routing table, as the Redis engine keeps it: viewer -> instances, user -> watching instances. */
  routes: Map<string, Set<string>>;
  watchers: Map<string, Set<string>>;
  /** Users present now, kept exact on every change (O(1) to read, like the Redis counters). */
  online: number;
}

export function createMemoryState(): MemoryState {
  return {
    records: new Map(),
    sessions: new Map(),
    friends: new Map(),
    hiddenFrom: new Map(),
    expiring: new Set(),
    routes: new Map(),
    watchers: new Map(),
    online: 0,
  };
}

/** The set under `key`, created on first use. */
export function setOf<K, V>(table: Map<K, Set<V>>, key: K): Set<V> {
  let set = table.get(key);
  if (!set) table.set(key, (set = new Set()));
  return set;
}

/** The instances holding open subscriptions of `viewerId`. */
export const routesOf = (state: MemoryState, viewerId: string) => [...(state.routes.get(viewerId) ?? [])];
