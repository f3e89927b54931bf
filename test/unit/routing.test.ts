import { describe, expect, it } from 'vitest';
import type { InboxMessage } from '../../src/engine/bus.js';
import { friendshipEntries, planFriendship, planPresence } from '../../src/engine/routing.js';

// The routing rules in isolation (the engines and the realtime suites exercise them end to end;
// inbox-wire.test.ts the format they travel in).
describe('routing', () => {
  const routes: Record<string, string[]> = { v1: ['A'], v2: ['A', 'B'], v3: ['B'], u: ['C'] };
  const routesOf = (v: string) => routes[v] ?? [];

  it('sends one message per instance, naming only the recipients it holds', () => {
    const change = { userId: 'u', prev: 0 as const, status: 1 as const, t: 5 };
    const plan = planPresence([change], [['v1', 'v2', 'v3', 'nobody', 'u']], routesOf, [['B', 'D']]);
    expect([...plan.keys()].sort()).toEqual(['A', 'B', 'C', 'D']);
    const to = (id: string) => (plan.get(id) as Extract<InboxMessage, { kind: 'presence' }>).changes.map((c) => [c.to, c.watched]);
    expect(to('A')).toEqual([[['v1', 'v2'], false]]);
    expect(to('B')).toEqual([[['v2', 'v3'], true]]);
    expect(to('C')).toEqual([[['u'], false]]);
    expect(to('D')).toEqual([[[], true]]);
  });

  it('batches several changes for one instance into one message', () => {
    const a = { userId: 'x', prev: 1 as const, status: 0 as const, t: 7 };
    const b = { userId: 'y', prev: 2 as const, status: 1 as const, t: 8 };
    const plan = planPresence([a, b], [['v1'], ['v2']], routesOf);
    expect((plan.get('A') as Extract<InboxMessage, { kind: 'presence' }>).changes.map((c) => c.userId)).toEqual(['x', 'y']);
    expect((plan.get('B') as Extract<InboxMessage, { kind: 'presence' }>).changes.map((c) => c.userId)).toEqual(['y']);
  });

  it('routes a friendship change to both sides', () => {
    const plan = planFriendship(friendshipEntries('v1', ['v3'], 'added'), routesOf);
    expect(plan.get('A')).toEqual({ kind: 'friends', changes: [{ to: 'v1', added: ['v3'], removed: [] }] });
    expect(plan.get('B')).toEqual({ kind: 'friends', changes: [{ to: 'v3', added: ['v1'], removed: [] }] });
  });
});
