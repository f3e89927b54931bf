import { startCluster } from './cluster.js';
import { startRedis, type RedisProcess } from './redis.js';

/**
 * The engines every contract suite runs against. Each returns the env that selects it and a
 * cleanup; Redis ones start their own redis-server on a free port.
 */
export interface EngineFixture {
  name: string;
  setup(): Promise<{ env: Record<string, string>; redis: RedisProcess | null; teardown(): Promise<void> }>;
}

export const engines: EngineFixture[] = [
  {
    name: 'memory',
    setup: async () => ({ env: {}, redis: null, teardown: async () => {} }),
  },
  {
    name: 'redis',
    setup: async () => {
      const redis = await startRedis();
      return { env: { REDIS_URL: redis.url }, redis, teardown: () => redis.stop() };
    },
  },
  {
    name: 'redis-cluster',
    setup: async () => {
      const cluster = await startCluster(3, 0);
      return { env: { REDIS_CLUSTER_NODES: cluster.seeds }, redis: null, teardown: () => cluster.stop() };
    },
  },
];
