import type { PresenceChange } from '../../domain/status-rule.js';
import type { Outbox, RoutedFriendship } from '../bus.js';
import { planFriendship, planPresence } from '../routing.js';
import { routesOf, type MemoryState } from './state.js';

/** Routes what the engine stored to the inboxes of the instances whose subscribers may see it. */
export interface MemoryChangeRouter {
  presence(change: PresenceChange): Promise<void>;
  friendship(entries: readonly RoutedFriendship[]): Promise<void>;
}

/**
 * Like the Redis engine's change router: a change only the user may see goes to them alone; the
 * viewers the user hides from are left out (and named for instances watching the user regardless
 * of friendship, under visibility 'everyone').
 */
export function createMemoryChangeRouter(opts: { state: MemoryState; bus: Outbox; friendship: boolean }): MemoryChangeRouter {
  const { state, bus, friendship } = opts;
  const routes = (viewerId: string) => routesOf(state, viewerId);
  return {
    async presence(c) {
      const hidden = state.hiddenFrom.get(c.userId);
      if (hidden && !friendship && !c.self) c.hiddenFrom = [...hidden];
      const viewers = c.self ? [c.userId] : [...(state.friends.get(c.userId) ?? [])].filter((f) => !hidden?.has(f)).concat(c.userId);
      const watchers = friendship || c.self ? [] : [[...(state.watchers.get(c.userId) ?? [])]];
      await bus.send(planPresence([c], [viewers], routes, watchers));
    },
    async friendship(entries) {
      if (entries.length) await bus.send(planFriendship(entries, routes));
    },
  };
}
