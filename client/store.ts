import type { Presence } from './documents.js';

/**
 * The version rule, pure so it can be tested alone: a user's `version` grows with every change, so
 * an event or a read is applied only when its version is above the last one applied for that user.
 * Repeated and stale (out of order, or re-read after a reconnect) entries are dropped. Version 0
 * is the exception: nothing may be shown of the user any more (the friendship ended, or they hide
 * from the viewer), and it replaces whatever was known.
 */
export function isNewer(known: Presence | null | undefined, next: Presence, resets = true): boolean {
  return known == null || next.version > known.version || (resets && next.version === 0 && known.version !== 0);
}

export interface Merged {
  /** The new map, or the same object when nothing was applied. */
  map: ReadonlyMap<string, Presence>;
  updated: Presence[];
  removed: string[];
}

/**
 * Applies live events (in order) by the version rule. `resets(id)`: whether a version-0 entry may
 * replace a known one (always for live events; for a read, not when a live event came since).
 */
export function applyEvents(
  map: ReadonlyMap<string, Presence>,
  events: readonly Presence[],
  resets: (userId: string) => boolean = () => true,
): Merged {
  let next: Map<string, Presence> | null = null;
  const updated: Presence[] = [];
  for (const p of events) {
    if (!isNewer((next ?? map).get(p.userId), p, resets(p.userId))) continue;
    next ??= new Map(map);
    next.set(p.userId, p);
    updated.push(p);
  }
  return { map: next ?? map, updated, removed: [] };
}

/**
 * Merges a full read of `friends`: each entry by the version rule, and users no longer in the list
 * (the friendship ended) removed, except those in `keep` (seen live since the read began: a friend
 * added after the server read the list).
 */
export function mergeSnapshot(
  map: ReadonlyMap<string, Presence>,
  snapshot: readonly Presence[],
  keep: ReadonlySet<string> = new Set(),
): Merged {
  // A version 0 in the read (never seen, or hiding from the viewer) resets what is known, unless a
  // live event came since the read began: that one is newer than anything the read saw.
  const applied = applyEvents(map, snapshot, (id) => !keep.has(id));
  const listed = new Set(snapshot.map((p) => p.userId));
  const removed = [...applied.map.keys()].filter((id) => !listed.has(id) && !keep.has(id));
  if (removed.length === 0) return applied;
  const next = new Map(applied.map);
  for (const id of removed) next.delete(id);
  return { map: next, updated: applied.updated, removed };
}

export type ConnectionState =
  /** The first connection (or first HTTP round) is under way. */
  | 'connecting'
  /** Live: the socket is acknowledged (or the last HTTP round succeeded). */
  | 'connected'
  /** Lost; waiting out a backoff delay or trying again. */
  | 'reconnecting'
  /** `close()` was called. */
  | 'closed'
  /** Stopped for good: see `error` (a refused token, retries exhausted). */
  | 'failed';

/** What one `onChange` notification carries. */
export interface PresenceChange {
  /** Friends whose entry changed (applied by the version rule), in the order applied. */
  readonly updated: readonly Presence[];
  /** Friends no longer in the list (the friendship ended). */
  readonly removed: readonly string[];
  /** `me` changed. */
  readonly me: boolean;
  /** `connection` (or `error`) changed. */
  readonly connection: boolean;
}

export type Listener = (change: PresenceChange) => void;

/**
 * The live state and its listeners. `friends` is replaced (copy on write) on every change, so a
 * UI can compare it by identity (React's useSyncExternalStore).
 */
export function createState() {
  let friends: ReadonlyMap<string, Presence> = new Map();
  let me: Presence | null = null;
  let connection: ConnectionState = 'connecting';
  let error: unknown = null;
  const listeners = new Set<Listener>();
  /** Ids applied live while a friends read is in flight, one set per read. */
  const reads = new Set<Set<string>>();

  const notify = (change: PresenceChange) => {
    for (const l of [...listeners]) {
      try {
        l(change);
      } catch (err) {
        // A listener's bug must not stop the others or the client; surface it asynchronously.
        setTimeout(() => {
          throw err;
        });
      }
    }
  };
  const none = { updated: [], removed: [], me: false, connection: false };

  return {
    get friends() {
      return friends;
    },
    get me() {
      return me;
    },
    get connection() {
      return connection;
    },
    get error() {
      return error;
    },
    subscribe(listener: Listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    /** Live events. */
    applyFriends(events: readonly Presence[]) {
      const r = applyEvents(friends, events);
      if (r.updated.length === 0) return;
      friends = r.map;
      for (const set of reads) for (const p of r.updated) set.add(p.userId);
      notify({ ...none, updated: r.updated });
    },
    /** Starts a friends read; call the returned function with its result. */
    beginRead() {
      const seen = new Set<string>();
      reads.add(seen);
      return {
        finish(snapshot: readonly Presence[]) {
          reads.delete(seen);
          const r = mergeSnapshot(friends, snapshot, seen);
          if (r.updated.length === 0 && r.removed.length === 0) return;
          friends = r.map;
          notify({ ...none, updated: r.updated, removed: r.removed });
        },
        abandon: () => void reads.delete(seen),
      };
    },
    applyMe(next: Presence) {
      if (!isNewer(me, next)) return;
      me = next;
      notify({ ...none, me: true });
    },
    setConnection(state: ConnectionState, err: unknown = error) {
      if (state === connection && err === error) return;
      connection = state;
      error = err;
      notify({ ...none, connection: true });
    },
  };
}

export type State = ReturnType<typeof createState>;
