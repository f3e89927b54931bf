import { createHash } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/engine/redis/keys.js';
import { READ_MANY } from '../../src/engine/redis/scripts.js';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  PresencesDocument,
  SetPresenceDocument,
  type PresenceStatus,
} from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { ok } from '../helpers/graphql.js';
import { startSentinel, type SentinelSetup } from '../helpers/sentinel.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

// Failovers under open subscriptions: after them, reads, writes and events work again without
// restarting the API or reconnecting the client.
describe('Redis failover under open subscriptions', () => {
  let srv: TestServer | undefined;
  let clients: Client[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
    await srv?.stop();
    srv = undefined;
  });
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  /** A viewer subscribed to a friend; returns helpers to drive and read the friend. */
  const scenario = async (prefix: string) => {
    const [viewer, friend] = [`${prefix}-viewer`, `${prefix}-friend`];
    await ok(srv!.url, AddFriendsDocument, { userId: viewer, friendIds: [friend] }, await srv!.token('svc', { service: true }));
    const client = wsClient(srv!.url, await srv!.token(viewer));
    clients.push(client);
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(() => srv!.app.router.size() === 1);
    const set = async (status: PresenceStatus) => ok(srv!.url, SetPresenceDocument, { status }, await srv!.token(friend));
    const read = async () => (await ok(srv!.url, PresencesDocument, { ids: [friend] }, await srv!.token(viewer))).presence[0]!.status;
    return { friend, sub, set, read };
  };
  /** Retries a write through the failover window (requests in flight then may fail, none hang). */
  const eventually = async (fn: () => Promise<unknown>) => {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i > 60) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };

  it('Redis Cluster: CLUSTER FAILOVER of the primary holding the user', async () => {
    const cluster: RedisCluster = await startCluster(3, 1);
    cleanups.push(() => cluster.stop());
    srv = await startApp({ REDIS_CLUSTER_NODES: cluster.seeds, RATE_LIMIT_COUNT: '1000' });
    const { friend, sub, set, read } = await scenario('cf');
    await set('ONLINE');
    await sub.take(1);

    const [bucketKey] = createKeys('presence:', 65_536).userKeys(friend);
    const { primary, replica } = await cluster.ownerOf(bucketKey);
    await cluster.client(replica!).cluster('FAILOVER');
    await waitFor(async () => (await cluster.ownerOf(bucketKey)).primary === replica, 20_000);
    expect((await cluster.ownerOf(bucketKey)).primary).not.toBe(primary);
    // A demoted primary drops its shard-channel subscribers: events are at-most-once until the
    // instance's inbox probe finds its subscription gone and subscribes again (PRESENCE.md). From
    // the moment the inbox is verified, every change is delivered, in order.
    await waitFor(() => srv!.app.engine.inbox.verify(1_000), 20_000);

    await eventually(async () => {
      await set('AWAY');
      expect(await read()).toBe('AWAY');
    });
    await set('BUSY');
    const events = await sub.take(3, 10_000);
    expect(events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'AWAY', 'BUSY']);
  });

  it('Sentinel: SENTINEL FAILOVER promotes the replica', async () => {
    const sentinel: SentinelSetup = await startSentinel();
    cleanups.push(() => sentinel.stop());
    srv = await startApp({ REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name, RATE_LIMIT_COUNT: '1000' });
    const { sub, set, read } = await scenario('sf');
    await set('ONLINE');
    await sub.take(1);

    await sentinel.failover();
    // A write the old primary acknowledged just before its demotion can be lost (replication is
    // asynchronous): retry the write until it reads back.
    await eventually(async () => {
      await set('AWAY');
      expect(await read()).toBe('AWAY');
    });
    // The subscriber reconnected to the new primary by itself; the next change reaches the viewer.
    await eventually(async () => {
      await set('BUSY');
      await set('AWAY');
      await waitFor(() => sub.events.some((e) => e.friendPresenceChanged.status === 'BUSY'), 1_000);
    });
    expect(sub.events[0]!.friendPresenceChanged.status).toBe('ONLINE');
    const versions = sub.events.map((e) => e.friendPresenceChanged.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });
});

// presence(ids) on a Cluster: one READ_MANY per primary holding any of the buckets, nothing else
// sent by the app, and the same answer as on a single server.
describe('reads on Redis Cluster', () => {
  it('reads presence(ids) with one command per node involved', async () => {
    const cluster = await startCluster(3, 0);
    const srv = await startApp({ REDIS_CLUSTER_NODES: cluster.seeds, RATE_LIMIT_COUNT: '1000' });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `cr-user-${i}`);
      const viewer = 'cr-viewer';
      await ok(srv.url, AddFriendsDocument, { userId: viewer, friendIds: ids.slice(0, 30) }, await srv.token('svc', { service: true }));
      for (const id of ids.slice(0, 5)) await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, await srv.token(id));
      const token = await srv.token(viewer);
      await ok(srv.url, PresencesDocument, { ids }, token); // loads the script on every node

      // What the app sends each node (background sweeps and leases run too: told apart by name).
      const readMany = createHash('sha1').update(READ_MANY).digest('hex');
      const sent: string[][] = cluster.nodes.map(() => []);
      const monitors = await Promise.all(cluster.nodes.map((n) => cluster.client(n.port).monitor()));
      monitors.forEach((m, i) =>
        m.on('monitor', (_t: string, args: string[], source: string) => {
          if (source === 'lua') return;
          const name = args[0]!.toLowerCase();
          sent[i]!.push(name === 'evalsha' && args[1] === readMany ? 'readMany' : name);
        }),
      );
      await new Promise((r) => setTimeout(r, 300)); // every MONITOR attached
      const { presence } = await ok(srv.url, PresencesDocument, { ids }, token);
      await new Promise((r) => setTimeout(r, 300));
      monitors.forEach((m) => m.disconnect());

      // Strangers read OFFLINE; friends show their real status.
      expect(presence.filter((p) => p.status === 'BUSY').map((p) => p.userId)).toEqual(ids.slice(0, 5));
      const reads = sent.map((cmds) => cmds.filter((c) => c === 'readMany').length);
      expect(reads.every((n) => n <= 1)).toBe(true);
      expect(reads.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(2); // 60 ids spread over several nodes
      expect(sent.flat().filter((c) => c === 'hmget' || c === 'smismember')).toEqual([]);
    } finally {
      await srv.stop();
      await cluster.stop();
    }
  });
});
