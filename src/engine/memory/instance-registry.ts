import type { InstanceRegistry } from '../ports.js';

/** Alone in its process: no lease to lose, nobody to take over. */
export function createMemoryInstanceRegistry(): InstanceRegistry {
  return {
    renewLease: async () => true,
    trackSession: async () => {},
    claimDeadInstances: async () => [],
    sessionsOf: async () => [],
    forgetInstance: async () => {},
  };
}
