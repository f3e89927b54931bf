import { nextPresence, type StoredPresence } from '../../presence.js';
import type { PresenceEngine } from '../types.js';

/**
 * The embedded engine: everything in this process, for running one instance with nothing else
 * installed. Same contract as the Redis engine (test/contract.test.ts runs against both), so state
 * changes follow the same nextPresence() rule; it simply forgets everything on restart.
 */
export function createMemoryEngine(opts: { friendship: boolean }): PresenceEngine {
  const records = new Map<string, StoredPresence>();
  const friends = new Map<string, Set<string>>();
  const setOf = (id: string) => {
    let s = friends.get(id);
    if (!s) friends.set(id, (s = new Set()));
    return s;
  };

  return {
    kind: 'memory',

    async load(viewerId, ids) {
      const mine = viewerId !== null && opts.friendship ? friends.get(viewerId) : undefined;
      return ids.map((id) => ({ record: records.get(id) ?? null, friend: mine?.has(id) ?? false }));
    },

    async setStatus(userId, status, nowMs) {
      const prev = records.get(userId) ?? null;
      const next = nextPresence(prev, status, Math.floor(nowMs));
      if (!next) return { record: prev!, changed: false };
      records.set(userId, next);
      return { record: next, changed: true };
    },

    async friendsOf(userId) {
      return [...(friends.get(userId) ?? [])].sort();
    },

    async addFriends(userId, friendIds) {
      let created = 0;
      for (const f of friendIds) {
        if (!setOf(userId).has(f)) created++;
        setOf(userId).add(f);
        setOf(f).add(userId);
      }
      return created;
    },

    async removeFriends(userId, friendIds) {
      let removed = 0;
      for (const f of friendIds) {
        if (friends.get(userId)?.delete(f)) removed++;
        friends.get(f)?.delete(userId);
      }
      return removed;
    },

    async close() {},
  };
}
