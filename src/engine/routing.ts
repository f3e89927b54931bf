import type { PresenceChange } from '../domain/status-rule.js';
import type { FriendshipChange, InboxMessage, RoutedChange, RoutedFriendship } from './bus.js';

/**
 * How a write becomes inbox messages, shared by both engines (they differ only in how they read
 * friends and routes). Each change goes to the instances holding a subscription of one of its
 * `viewers` (the user's friends and the user themselves) or watching the user; every instance
 * gets one message naming its recipients, however many of them it holds.
 */
export function planPresence(
  changes: readonly PresenceChange[],
  /** Per change: the viewers who may see it (friends of the user, and the user). */
  viewers: readonly (readonly string[])[],
  /** Instances holding open subscriptions of a viewer. */
  routesOf: (viewerId: string) => readonly string[],
  /** Per change: instances watching the user regardless of friendship. */
  watchers: readonly (readonly string[])[] = [],
): Map<string, InboxMessage> {
  const out = new Map<string, RoutedChange[]>();
  changes.forEach((change, i) => {
    const mine = new Map<string, RoutedChange>();
    const entry = (instanceId: string) => {
      let e = mine.get(instanceId);
      if (!e) {
        mine.set(instanceId, (e = { ...change, to: [], watched: false }));
        const list = out.get(instanceId);
        if (list) list.push(e);
        else out.set(instanceId, [e]);
      }
      return e;
    };
    for (const viewer of viewers[i]!) for (const instanceId of routesOf(viewer)) entry(instanceId).to.push(viewer);
    for (const instanceId of watchers[i] ?? []) entry(instanceId).watched = true;
  });
  return new Map([...out].map(([id, c]) => [id, { kind: 'presence', changes: c }]));
}

/** The friendship entries of one call: `userId` gains (loses) `changed`, and each of them gains `userId`. */
export function friendshipEntries(userId: string, changed: readonly string[], kind: 'added' | 'removed'): RoutedFriendship[] {
  const of = (ids: string[]): FriendshipChange => (kind === 'added' ? { added: ids, removed: [] } : { added: [], removed: ids });
  return [{ to: userId, ...of([...changed]) }, ...changed.map((f) => ({ to: f, ...of([userId]) }))];
}

export function planFriendship(
  entries: readonly RoutedFriendship[],
  routesOf: (viewerId: string) => readonly string[],
): Map<string, InboxMessage> {
  const out = new Map<string, RoutedFriendship[]>();
  for (const e of entries) {
    for (const instanceId of routesOf(e.to)) {
      const list = out.get(instanceId);
      if (list) list.push(e);
      else out.set(instanceId, [e]);
    }
  }
  return new Map([...out].map(([id, c]) => [id, { kind: 'friends', changes: c }]));
}
