import { createMemoryBus } from '../bus.js';
import type { PresenceEngine } from '../ports.js';
import { createChangeApplier } from './apply-change.js';
import { createMemoryChangeRouter } from './change-router.js';
import { createMemoryFriendGraph } from './friend-graph.js';
import { createMemoryInstanceRegistry } from './instance-registry.js';
import { createMemoryPresenceStore } from './presence-store.js';
import { createMemoryRateLimiter } from './rate-limiter.js';
import { createMemoryRouteTable } from './route-table.js';
import { createMemorySettingsStore } from './settings-store.js';
import { createMemoryState } from './state.js';

/**
 * The embedded engine: everything in this process, for running one instance with nothing else
 * installed. One module per port, like the Redis engine, around one way to apply a change
 * (apply-change.ts: status-rule.ts effectiveStatus and nextState, the rules the Redis engine's Lua
 * follows) and to route it; it passes the same contract suites. It is alone, so instance leases and
 * takeovers have nothing to do, and it forgets everything on restart.
 */
export function createMemoryEngine(opts: { friendship: boolean; maxSessionsPerUser?: number; maxFriendsPerUser?: number }): PresenceEngine {
  const { friendship } = opts;
  const state = createMemoryState();
  const bus = createMemoryBus();
  const changes = createMemoryChangeRouter({ state, bus, friendship });
  const apply = createChangeApplier({ state, changes, maxSessions: opts.maxSessionsPerUser ?? 32 });
  return {
    kind: 'memory',
    inbox: bus,
    ...createMemoryPresenceStore({ state, apply, friendship }),
    ...createMemorySettingsStore({ state, apply, changes }),
    ...createMemoryInstanceRegistry(),
    ...createMemoryRateLimiter(),
    ...createMemoryFriendGraph({ state, changes, maxFriends: opts.maxFriendsPerUser ?? 5_000 }),
    ...createMemoryRouteTable({ state }),
    async close() {
      await bus.close();
    },
  };
}
