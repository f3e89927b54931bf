import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../src/engine/redis/keys.js';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  PresenceChangedDocument,
  SetPresenceDocument,
} from './generated/graphql.js';
import { startApp, type TestServer } from './helpers/app.js';
import { codes, ok, request } from './helpers/graphql.js';
import { startRedis, type RedisProcess } from './helpers/redis.js';
import { collect, waitFor, wsClient, type Collected } from './helpers/ws.js';

const keys = createKeys('presence:', 65_536);

describe('Redis channels: cleanup and outages', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  const channelsOnRedis = async () => (await redis.client().pubsub('CHANNELS', 'presence:*')) as string[];

  beforeAll(async () => {
    redis = await startRedis();
    srv = await startApp({ REDIS_URL: redis.url, WS_MAX_SUBSCRIPTIONS: '100' });
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  it('releases every channel and the memory of thousands of opened and closed subscriptions', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run vitest with --expose-gc (vitest.config.ts execArgv)').toBeTypeOf('function');
    const svc = await srv.token('svc', { service: true });
    const hot = 'leak-hot'; // one user everybody watches: concurrent subscribe/complete on one channel
    const friendsOf = (v: number) => [hot, `leak-f${v % 50}`, `leak-f${(v + 7) % 50}`];
    const viewers = Array.from({ length: 40 }, (_, v) => `leak-v${v}`);
    for (const [v, viewer] of viewers.entries()) await ok(srv.url, AddFriendsDocument, { userId: viewer, friendIds: friendsOf(v) }, svc);
    const hotToken = await srv.token(hot);

    const heap = () => {
      gc!();
      gc!();
      return process.memoryUsage().heapUsed;
    };
    const round = async (perViewer: number) => {
      const clients: Client[] = await Promise.all(viewers.map(async (v) => wsClient(srv.url, await srv.token(v))));
      const subs: Collected<unknown>[] = [];
      clients.forEach((client, v) => {
        for (let i = 0; i < perViewer; i++) {
          const sub =
            i % 2 === 0
              ? collect(client, FriendPresenceChangedDocument, {})
              : collect(client, PresenceChangedDocument, { ids: friendsOf(v) });
          // Every fourth is completed at once, before it can receive anything.
          if (i % 4 === 3) sub.dispose();
          else subs.push(sub);
        }
      });
      // Wait until the rest are live, deliver one event to all of them, then close half by
      // completing and half by dropping the socket.
      await waitFor(async () => (await redis.client().pubsub('NUMSUB', keys.userChannel(hot)))[1] === 1, 10_000);
      const followed = new Set(viewers.flatMap((_, v) => friendsOf(v)));
      const expected = viewers.length + followed.size; // a friendship channel per viewer + one per followed user
      await waitFor(() => srv.app.engine.bus.channelCount() === expected, 10_000, () => `${srv.app.engine.bus.channelCount()}`);
      await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, hotToken);
      await Promise.all(subs.map((s) => s.take(1, 10_000)));
      await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, hotToken);
      const peak = process.memoryUsage().heapUsed;
      subs.forEach((s, i) => i % 2 === 0 && s.dispose());
      await Promise.all(clients.map((c) => c.dispose()));
      await waitFor(() => srv.app.engine.bus.channelCount() === 0, 10_000, () => `${srv.app.engine.bus.channelCount()} channels left`);
      await waitFor(async () => (await channelsOnRedis()).length === 0, 10_000);
      return { subscriptions: viewers.length * perViewer, peak };
    };

    await round(10); // warm-up: JIT, pools, caches
    const before = heap();
    const { subscriptions, peak } = await round(60);
    expect(subscriptions).toBeGreaterThanOrEqual(2_000);
    const after = heap();
    expect(await channelsOnRedis()).toEqual([]);
    // Back near the start: what stayed is a small fraction of what the open subscriptions held.
    expect(after - before).toBeLessThan(Math.max(0.2 * (peak - before), 2 * 1024 * 1024));
  });

  it('delivers again after Redis restarts under open subscriptions; a write during the outage fails cleanly', async () => {
    const svc = await srv.token('svc', { service: true });
    await ok(srv.url, AddFriendsDocument, { userId: 'rs-viewer', friendIds: ['rs-friend'] }, svc);
    const client = wsClient(srv.url, await srv.token('rs-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await redis.client().pubsub('NUMSUB', keys.userChannel('rs-friend')))[1] === 1);
    const friend = await srv.token('rs-friend');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, friend);
    await sub.take(1);

    await redis.kill();
    const during = await request(srv.url, SetPresenceDocument, { status: 'AWAY' }, friend);
    expect(codes(during)).toEqual(['INTERNAL_SERVER_ERROR']);
    await redis.restart();

    // ioredis reconnects and resubscribes by itself; no API restart, no client reconnect.
    await waitFor(async () => (await redis.client().pubsub('NUMSUB', keys.userChannel('rs-friend')))[1] === 1, 15_000);
    // Redis kept nothing (no persistence in tests): the friend starts from scratch, and the
    // subscription, still following them, sees the next change.
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, friend);
    const events = await sub.take(2, 10_000);
    expect(events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'BUSY']);
    expect(sub.completed).toBe(false);
    await client.dispose();
  });
});
