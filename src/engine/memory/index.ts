import { nextPresence, type StoredPresence } from '../../presence.js';
import { announceFriendship, createMemoryBus } from '../../realtime/bus.js';
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

  const bus = createMemoryBus();

  return {
    kind: 'memory',
    bus,

    async load(viewerId, ids) {
      const mine = viewerId !== null && opts.friendship ? friends.get(viewerId) : undefined;
      return ids.map((id) => ({ record: records.get(id) ?? null, friend: mine?.has(id) ?? false }));
    },

    async setStatus(userId, status, nowMs) {
      const prev = records.get(userId) ?? null;
      const next = nextPresence(prev, status, Math.floor(nowMs));
      if (!next) return { record: prev!, changed: false };
      records.set(userId, next);
      await bus.publish('presence', userId, { userId, prev: prev?.status ?? 0, status: next.status, t: next.t });
      return { record: next, changed: true };
    },

    async friendsOf(userId) {
      return [...(friends.get(userId) ?? [])].sort();
    },

    async addFriends(userId, friendIds) {
      const created: string[] = [];
      for (const f of friendIds) {
        if (!setOf(userId).has(f)) created.push(f);
        setOf(userId).add(f);
        setOf(f).add(userId);
      }
      await announceFriendship(bus, userId, created, 'added');
      return created.length;
    },

    async removeFriends(userId, friendIds) {
      const removed: string[] = [];
      for (const f of friendIds) {
        if (friends.get(userId)?.delete(f)) removed.push(f);
        friends.get(f)?.delete(userId);
      }
      await announceFriendship(bus, userId, removed, 'removed');
      return removed.length;
    },

    async close() {
      await bus.close();
    },
  };
}
