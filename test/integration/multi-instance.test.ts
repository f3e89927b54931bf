import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/engine/redis/keys.js';
import { signToken } from '../../src/infra/auth.js';
import { AddFriendsDocument, FriendPresenceChangedDocument, MeDocument, SetPresenceDocument } from '../generated/graphql.js';
import { TEST_SECRET } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startCluster } from '../helpers/cluster.js';
import { startRedis } from '../helpers/redis.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

const keys = createKeys('presence:', 65_536);

/**
 * A Redis topology for two API processes: how many instances hold a viewer's route, and which
 * pub/sub channels exist across it (classic ones, and sharded ones on a cluster).
 */
interface Topology {
  name: string;
  start(): Promise<{
    env: Record<string, string>;
    routes(viewer: string): Promise<number>;
    channels(): Promise<string[]>;
    stop(): Promise<void>;
  }>;
}
const topologies: Topology[] = [
  {
    name: 'one Redis',
    start: async () => {
      const redis = await startRedis();
      return {
        env: { REDIS_URL: redis.url },
        routes: (viewer) => redis.client().scard(keys.routes(viewer)),
        channels: async () => (await redis.client().pubsub('CHANNELS', 'presence:*')) as string[],
        stop: () => redis.stop(),
      };
    },
  },
  {
    name: 'Redis Cluster',
    start: async () => {
      const cluster = await startCluster(3, 0);
      return {
        env: { REDIS_CLUSTER_NODES: cluster.seeds },
        routes: async (viewer) => cluster.client((await cluster.ownerOf(keys.routes(viewer))).primary).scard(keys.routes(viewer)),
        // The inboxes are shard channels, each on the node owning its slot; no classic channel at all.
        channels: async () => {
          const per = await Promise.all(
            cluster.nodes.map(async (n) => {
              const c = cluster.client(n.port);
              const classic = (await c.pubsub('CHANNELS', 'presence:*')) as string[];
              const sharded = (await c.call('PUBSUB', 'SHARDCHANNELS', 'presence:*')) as string[];
              return [...classic.map((x) => `classic ${x}`), ...sharded];
            }),
          );
          return per.flat();
        },
        stop: () => cluster.stop(),
      };
    },
  },
];

// Two API processes on one Redis deployment, started the way a user starts them (npm start).
describe.each(topologies)('fan-out across instances on $name', (topology) => {
  let redis: Awaited<ReturnType<Topology['start']>>;
  let a: ServerProcess;
  let b: ServerProcess;
  const token = (sub: string, service = false) => signToken(TEST_SECRET, sub, { service });

  beforeAll(async () => {
    redis = await topology.start();
    const env = { ...redis.env, JWT_SECRET: TEST_SECRET, NODE_ENV: 'test', LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('a viewer on instance A gets a change made through instance B within a second, exactly once, in order', async () => {
    await ok(b.url, AddFriendsDocument, { userId: 'mi-viewer', friendIds: ['mi-friend'] }, await token('svc', true));
    const client = wsClient(a.url, await token('mi-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await redis.routes('mi-viewer')) === 1);
    // One inbox per instance, whatever they hold: no channel per user.
    const inboxes = await redis.channels();
    expect(inboxes).toHaveLength(2);
    expect(inboxes.every((c) => /^presence:\{i:[^}]+\}:inbox$/.test(c))).toBe(true);

    const friend = await token('mi-friend');
    const sequence = ['ONLINE', 'AWAY', 'BUSY', 'ONLINE', 'OFFLINE'] as const;
    const sentAt: number[] = [];
    for (const status of sequence) {
      await ok(b.url, SetPresenceDocument, { status }, friend);
      sentAt.push(Date.now());
    }
    const events = await sub.take(sequence.length, 1_000 + 500 * sequence.length);
    expect(events.map((e) => e.friendPresenceChanged.status)).toEqual(sequence);
    expect(events.every((e) => e.friendPresenceChanged.userId === 'mi-friend')).toBe(true);

    // Exactly once: a marker change arrives next, with nothing in between.
    await ok(b.url, SetPresenceDocument, { status: 'AWAY' }, friend);
    await sub.take(sequence.length + 1);
    expect(sub.events.slice(sequence.length).map((e) => e.friendPresenceChanged.status)).toEqual(['AWAY']);
    await client.dispose();
    await waitFor(async () => (await redis.routes('mi-viewer')) === 0);
  });

  it('both instances read the same state', async () => {
    const t = await token('mi-shared');
    await ok(a.url, SetPresenceDocument, { status: 'BUSY' }, t);
    expect((await ok(b.url, MeDocument, {}, t)).me.status).toBe('BUSY');
  });
});
