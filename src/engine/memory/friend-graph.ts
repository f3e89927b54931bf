import { FriendLimitError } from '../../domain/errors.js';
import type { FriendGraph } from '../ports.js';
import { friendshipEntries } from '../routing.js';
import type { MemoryChangeRouter } from './change-router.js';
import { setOf, type MemoryState } from './state.js';

/** Mutual friendships in this process; every pair asked for is routed, like the Redis engine. */
export function createMemoryFriendGraph(opts: { state: MemoryState; changes: MemoryChangeRouter; maxFriends: number }): FriendGraph {
  const { state, changes, maxFriends } = opts;
  const { friends } = state;
  return {
    async friendsOf(userId) {
      return [...(friends.get(userId) ?? [])].sort();
    },

    async addFriends(userId, friendIds) {
      const fresh = friendIds.filter((f) => !friends.get(userId)?.has(f));
      const over = fresh.filter((f) => (friends.get(f)?.size ?? 0) + 1 > maxFriends);
      if ((friends.get(userId)?.size ?? 0) + fresh.length > maxFriends) over.unshift(userId);
      if (over.length) throw new FriendLimitError(`at most ${maxFriends} friends per user (${over.slice(0, 3).join(', ')} would pass it)`);
      const created: string[] = [];
      for (const f of friendIds) {
        if (!setOf(friends, userId).has(f)) created.push(f);
        setOf(friends, userId).add(f);
        setOf(friends, f).add(userId);
      }
      // Every pair asked for, like the Redis engine (a retry repairs open subscriptions).
      if (friendIds.length) await changes.friendship(friendshipEntries(userId, friendIds, 'added'));
      return created.length;
    },

    async removeFriends(userId, friendIds) {
      const removed: string[] = [];
      for (const f of friendIds) {
        if (friends.get(userId)?.delete(f)) removed.push(f);
        friends.get(f)?.delete(userId);
      }
      if (friendIds.length) await changes.friendship(friendshipEntries(userId, friendIds, 'removed'));
      return removed.length;
    },
  };
}
