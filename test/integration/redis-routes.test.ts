import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/engine/redis/keys.js';
import { AddFriendsDocument, FriendPresenceChangedDocument, PresenceChangedDocument, SetPresenceDocument } from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { collect, waitFor, wsClient, type Collected } from '../helpers/ws.js';

const keys = createKeys('presence:', 65_536);

describe('Redis routes and inbox: cleanup and outages', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  const channelsOnRedis = async () => (await redis.client().pubsub('CHANNELS', 'presence:*')) as string[];
  const routeKeys = async () => (await redis.client().keys('presence:*:r:*')).length;
  /** Instances routed for a viewer whose inbox is subscribed: the viewer's changes reach them. */
  const liveRoutes = async (viewer: string) => {
    const ids = await redis.client().smembers(keys.routes(viewer));
    const subs = await Promise.all(ids.map(async (id) => ((await redis.client().pubsub('NUMSUB', keys.inbox(id))) as [string, number])[1]));
    return subs.filter((n) => n === 1).length;
  };

  beforeAll(async () => {
    redis = await startRedis();
    srv = await startApp({ REDIS_URL: redis.url, WS_MAX_SUBSCRIPTIONS: '100' });
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  it('holds one channel and one route per viewer however many subscriptions, and releases them and their memory', async () => {
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
      await waitFor(
        () => srv.app.router.size() === subs.length,
        10_000,
        () => `${srv.app.router.size()} of ${subs.length} routed`,
      );
      // The invariant: one inbox channel for the instance and one route per viewer in Redis,
      // whatever the number of subscriptions and friends.
      expect(await channelsOnRedis()).toHaveLength(1);
      expect(await routeKeys()).toBe(viewers.length);
      expect(srv.app.engine.inbox.channelCount()).toBe(1);
      await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, hotToken);
      await Promise.all(subs.map((s) => s.take(1, 10_000)));
      await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, hotToken);
      const peak = process.memoryUsage().heapUsed;
      subs.forEach((s, i) => i % 2 === 0 && s.dispose());
      await Promise.all(clients.map((c) => c.dispose()));
      await waitFor(
        () => srv.app.router.size() === 0,
        10_000,
        () => `${srv.app.router.size()} routed left`,
      );
      await waitFor(
        async () => (await routeKeys()) === 0,
        10_000,
        () => 'route keys left',
      );
      expect(await redis.client().scard(keys.instanceRoutes(srv.app.liveness.instanceId))).toBe(0);
      expect(await channelsOnRedis()).toHaveLength(1);
      return { subscriptions: viewers.length * perViewer, peak };
    };

    await round(10); // warm-up: JIT, pools, caches
    const before = heap();
    const { subscriptions, peak } = await round(60);
    expect(subscriptions).toBeGreaterThanOrEqual(2_000);
    const after = heap();
    expect(await channelsOnRedis()).toEqual([keys.inbox(srv.app.liveness.instanceId)]);
    // Back near the start: what stayed is a small fraction of what the open subscriptions held.
    expect(after - before).toBeLessThan(Math.max(0.2 * (peak - before), 2 * 1024 * 1024));
  });

  it("a dead instance's routes and interests are dropped when it is taken over", async () => {
    const engine = srv.app.engine;
    await engine.route('dead-instance', ['dr-v1', 'dr-v2'], true);
    await engine.watch('dead-instance', ['dr-w1'], true);
    expect(await redis.client().smembers(keys.routes('dr-v1'))).toEqual(['dead-instance']);
    expect(await redis.client().smembers(keys.watchers('dr-w1'))).toEqual(['dead-instance']);
    await engine.forgetInstance('dead-instance');
    const left = await redis
      .client()
      .exists(
        keys.routes('dr-v1'),
        keys.routes('dr-v2'),
        keys.watchers('dr-w1'),
        keys.instanceRoutes('dead-instance'),
        keys.instanceWatches('dead-instance'),
      );
    expect(left).toBe(0);
  });

  it('an instance that lost its lease moves its inbox and routes to its new id, and keeps delivering', async () => {
    const svc = await srv.token('svc', { service: true });
    await ok(srv.url, AddFriendsDocument, { userId: 'ml-viewer', friendIds: ['ml-friend'] }, svc);
    const client = wsClient(srv.url, await srv.token('ml-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await liveRoutes('ml-viewer')) === 1);
    const old = srv.app.liveness.instanceId;

    // As if a survivor had judged this instance dead: its lease is gone, the next renewal re-registers.
    await redis.client().zrem(keys.instancesLive, old);
    await waitFor(() => srv.app.liveness.instanceId !== old, 10_000);
    const next = srv.app.liveness.instanceId;
    await waitFor(async () => (await redis.client().smembers(keys.routes('ml-viewer'))).join() === next, 10_000);
    expect(await liveRoutes('ml-viewer')).toBe(1);
    expect(await channelsOnRedis()).toEqual([keys.inbox(next)]);
    expect(await redis.client().exists(keys.instanceRoutes(old))).toBe(0);

    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await srv.token('ml-friend'));
    expect((await sub.take(1))[0]!.friendPresenceChanged).toMatchObject({ userId: 'ml-friend', status: 'ONLINE' });
    await client.dispose();
  });

  it('catches up after a lost lease: a change routed while a survivor had dropped the routes still arrives', async () => {
    const svc = await srv.token('svc', { service: true });
    await ok(srv.url, AddFriendsDocument, { userId: 'cu-viewer', friendIds: ['cu-friend'] }, svc);
    const client = wsClient(srv.url, await srv.token('cu-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await liveRoutes('cu-viewer')) === 1);
    const friend = await srv.token('cu-friend');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, friend);
    await sub.take(1);

    // What a survivor does to an instance it judged dead (frozen): its lease and its routes go.
    const old = srv.app.liveness.instanceId;
    await redis.client().zrem(keys.instancesLive, old);
    await redis.client().srem(keys.routes('cu-viewer'), old);
    // Routed to nobody: no instance holds the viewer's route now.
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, friend);
    await waitFor(() => srv.app.liveness.instanceId !== old, 10_000);

    // The instance re-registers, and its subscriptions catch up from the stored state.
    const events = (await sub.take(2)).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status]);
    expect(events).toEqual([
      ['cu-friend', 'ONLINE'],
      ['cu-friend', 'AWAY'],
    ]);
    await client.dispose();
  });

  it('counts a malformed inbox message, by the reason it was refused, instead of delivering it', async () => {
    const before = { ...srv.app.engine.inbox.malformed() };
    await redis.client().publish(keys.inbox(srv.app.liveness.instanceId), '{"k":"p","c":[{"u":1}]}');
    await waitFor(() => srv.app.engine.inbox.malformed()['bad-presence-change'] === before['bad-presence-change'] + 1);
    expect(srv.app.engine.inbox.malformed()).toEqual({ ...before, 'bad-presence-change': before['bad-presence-change'] + 1 });
  });

  it('delivers again after Redis restarts under open subscriptions; a write during the outage fails cleanly', async () => {
    const svc = await srv.token('svc', { service: true });
    await ok(srv.url, AddFriendsDocument, { userId: 'rs-viewer', friendIds: ['rs-friend'] }, svc);
    const client = wsClient(srv.url, await srv.token('rs-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await liveRoutes('rs-viewer')) === 1);
    const friend = await srv.token('rs-friend');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, friend);
    await sub.take(1);

    await redis.kill();
    const during = await request(srv.url, SetPresenceDocument, { status: 'AWAY' }, friend);
    expect(codes(during)).toEqual(['INTERNAL_SERVER_ERROR']);
    await redis.restart();

    // ioredis reconnects and resubscribes the inbox by itself, and the instance registers its
    // routes again (Redis lost them); no API restart, no client reconnect.
    await waitFor(async () => (await liveRoutes('rs-viewer')) >= 1, 15_000);
    // Redis kept nothing (no persistence in tests): the routes above were registered again by
    // the instance, but the friendship itself is data only its owner can restore (production runs
    // Redis with AOF). Restored, the friend starts from scratch and the open subscription, never
    // reconnected, sees the next change.
    await ok(srv.url, AddFriendsDocument, { userId: 'rs-viewer', friendIds: ['rs-friend'] }, svc);
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, friend);
    const events = await sub.take(2, 10_000);
    expect(events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'BUSY']);
    expect(sub.completed).toBe(false);
    await client.dispose();
  });
});
