import type { Client } from 'graphql-ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/engine/redis/keys.js';
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
