import type { RouteTable } from '../ports.js';
import { setOf, type MemoryState } from './state.js';

/** The routing table in this process, kept as the Redis engine keeps it (viewer -> instances). */
export function createMemoryRouteTable({ state }: { state: MemoryState }): RouteTable {
  const toggle = (table: Map<string, Set<string>>, key: string, instanceId: string, held: boolean) => {
    if (held) setOf(table, key).add(instanceId);
    else if (table.get(key)?.delete(instanceId) && table.get(key)!.size === 0) table.delete(key);
  };
  return {
    async route(instanceId, viewerIds, held) {
      for (const v of viewerIds) toggle(state.routes, v, instanceId, held);
    },
    async watch(instanceId, userIds, held) {
      for (const u of userIds) toggle(state.watchers, u, instanceId, held);
    },
    async dropRoutes(instanceId) {
      for (const table of [state.routes, state.watchers]) for (const key of [...table.keys()]) toggle(table, key, instanceId, false);
    },
  };
}
