import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../src/engine/redis/keys.js';
import { signToken } from '../src/auth.js';
import { AddFriendsDocument, FriendPresenceChangedDocument, MeDocument, SetPresenceDocument } from './generated/graphql.js';
import { TEST_SECRET } from './helpers/app.js';
import { ok } from './helpers/graphql.js';
import { startServerProcess, type ServerProcess } from './helpers/process.js';
import { startCluster } from './helpers/cluster.js';
import { startRedis } from './helpers/redis.js';
import { collect, waitFor, wsClient } from './helpers/ws.js';

/** A Redis topology for two API processes, and how many subscribers a channel has across it. */
interface Topology {
  name: string;
  start(): Promise<{ env: Record<string, string>; numsub(channel: string): Promise<number>; stop(): Promise<void> }>;
}
const topologies: Topology[] = [
  {
    name: 'one Redis',
    start: async () => {
      const redis = await startRedis();
      return {
        env: { REDIS_URL: redis.url },
        numsub: async (channel) => ((await redis.client().pubsub('NUMSUB', channel)) as [string, number])[1],
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
        // Classic pub/sub: each subscriber is counted on the node its connection uses.
        numsub: async (channel) => {
          const counts = await Promise.all(cluster.nodes.map(async (n) => ((await cluster.client(n.port).pubsub('NUMSUB', channel)) as [string, number])[1]));
          return counts.reduce((x, y) => x + y, 0);
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
  const keys = createKeys('presence:', 65_536);
  const token = (sub: string, service = false) => signToken(TEST_SECRET, sub, { service });
  const numsub = (channel: string) => redis.numsub(channel);

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
    await waitFor(async () => (await numsub(keys.userChannel('mi-friend'))) === 1);

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
    await waitFor(async () => (await numsub(keys.userChannel('mi-friend'))) === 0);
  });

  it('both instances read the same state', async () => {
    const t = await token('mi-shared');
    await ok(a.url, SetPresenceDocument, { status: 'BUSY' }, t);
    expect((await ok(b.url, MeDocument, {}, t)).me.status).toBe('BUSY');
  });
});
