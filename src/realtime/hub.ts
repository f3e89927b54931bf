import type { PresenceChange } from '../presence.js';
import type { Bus, BusSubscription, FriendshipChange } from './bus.js';

/** Someone on this instance who wants a user's changes (one open subscription). */
export interface Watcher {
  onChange(change: PresenceChange, followed: Followed): void;
}

/** One followed user on this instance: its channel subscription and who listens locally. */
export interface Followed {
  readonly userId: string;
  readonly watchers: Set<Watcher>;
}

interface Entry extends Followed {
  sub: Promise<BusSubscription>;
}

/**
 * The instance-wide fan-out index: one bus subscription per followed user, however many local
 * subscriptions follow them, and a Set entry per (subscription, user) pair. That pair is the unit
 * of memory that grows with connections × friends, so it is kept as small as a Set entry can be;
 * the user id string is stored once per instance, not once per follower.
 */
export interface Hub {
  /** Starts delivering `userId`'s changes to `watcher`; resolves once the channel is live. */
  follow(userId: string, watcher: Watcher): { followed: Followed; ready: Promise<void> };
  /** The entry of a user followed on this instance, if any. */
  get(userId: string): Followed | undefined;
  /** Stops it; the channel is released when its last local watcher leaves. */
  unfollow(followed: Followed, watcher: Watcher): void;
  /** A viewer's own friendship channel (not shared: one per subscription). */
  friendship(userId: string, listener: (change: FriendshipChange) => void): Promise<BusSubscription>;
  /** Distinct presence channels followed (friendship channels are counted by the bus). */
  size(): number;
}

export function createHub(bus: Bus): Hub {
  const entries = new Map<string, Entry>();

  return {
    follow(userId, watcher) {
      let entry = entries.get(userId);
      if (!entry) {
        const created: Entry = { userId, watchers: new Set(), sub: null as never };
        created.sub = bus.subscribe('presence', userId, (change) => {
          for (const w of created.watchers) w.onChange(change, created);
        });
        // A failed subscribe leaves nothing behind: the next follower tries again.
        created.sub.catch(() => entries.get(userId) === created && entries.delete(userId));
        entries.set(userId, (entry = created));
      }
      entry.watchers.add(watcher);
      return { followed: entry, ready: entry.sub.then(() => undefined) };
    },

    get: (userId) => entries.get(userId),

    unfollow(followed, watcher) {
      const entry = followed as Entry;
      if (!entry.watchers.delete(watcher) || entry.watchers.size > 0) return;
      if (entries.get(entry.userId) === entry) entries.delete(entry.userId);
      // Released after its subscribe settles (see bus.ts); a new follower meanwhile gets a new
      // entry, and the bus' reference count keeps the Redis subscription across the overlap.
      void entry.sub.then(
        (s) => s.release(),
        () => {},
      );
    },

    friendship: (userId, listener) => bus.subscribe('friends', userId, listener),
    size: () => entries.size,
  };
}
