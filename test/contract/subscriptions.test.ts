import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  PresenceChangedDocument,
  RemoveFriendsDocument,
  SetPresenceDocument,
  type PresenceStatus,
} from '../generated/graphql.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { startApp, type TestServer } from '../helpers/app.js';
import type { RedisProcess } from '../helpers/redis.js';
import { engines } from '../helpers/engines.js';
import { userFactory } from '../helpers/users.js';
import { ok } from '../helpers/graphql.js';
import { collect, waitFor, wsClient, wsUrl } from '../helpers/ws.js';

/** A bare graphql-ws socket with one subscription: the frames exactly as a client receives them. */
async function rawSubscription(httpUrl: string, token: string, query: string) {
  const ws = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws');
  const frames: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (m) => {
      const text = String(m);
      if (JSON.parse(text).type === 'connection_ack') {
        ws.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: { query } }));
        resolve();
      } else frames.push(text);
    });
  });
  return { frames, close: () => ws.close() };
}

// Subscriptions over graphql-ws, run unchanged against every engine.
describe.each(engines)('subscriptions on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  let clients: Client[] = [];
  const users = userFactory();
  const set = async (userId: string, status: PresenceStatus) => ok(srv.url, SetPresenceDocument, { status }, await srv.token(userId));
  const svc = () => srv.token('svc', { service: true });
  const befriend = async (userId: string, friendIds: string[]) => ok(srv.url, AddFriendsDocument, { userId, friendIds }, await svc());
  const connect = async (userId: string) => {
    const c = wsClient(srv.url, await srv.token(userId));
    clients.push(c);
    return c;
  };
  const routed = () => srv.app.router.size();
  /** Resolves once `count` subscriptions of this process are routed: they are live. */
  const subscribed = (count: number) =>
    waitFor(
      () => routed() === count,
      5_000,
      () => `routed: ${routed()}`,
    );
  /** Pub/sub channels this process listens on: its inbox, however many subscriptions and friends. */
  const channels = () => srv.app.engine.inbox.channelCount();

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    srv = await startApp(engine.env);
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
    // Every route a finished test held is released; the inbox stays the only channel.
    await subscribed(0);
    expect(channels()).toBe(1);
  });
  afterAll(async () => {
    await srv?.stop();
    await teardown?.();
  });

  it('streams each visible change of a friend once, in order, with growing versions', async () => {
    const [viewer, friend, stranger] = users('viewer', 'friend', 'stranger');
    await befriend(viewer!, [friend!]);
    const sub = collect(await connect(viewer!), FriendPresenceChangedDocument, {});
    await subscribed(1);

    await set(stranger!, 'ONLINE'); // not a friend: never delivered
    await set(friend!, 'ONLINE');
    await set(friend!, 'ONLINE'); // no change: nothing
    await set(friend!, 'AWAY');
    await set(friend!, 'BUSY');
    await set(friend!, 'INVISIBLE'); // friends see OFFLINE once...
    await set(friend!, 'OFFLINE'); // ...and nothing more
    await set(friend!, 'ONLINE');
    const events = (await sub.take(5)).map((e) => e.friendPresenceChanged);
    expect(events.map((e) => [e.userId, e.status])).toEqual([
      [friend, 'ONLINE'],
      [friend, 'AWAY'],
      [friend, 'BUSY'],
      [friend, 'OFFLINE'],
      [friend, 'ONLINE'],
    ]);
    const versions = events.map((e) => e.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(new Set(versions).size).toBe(5);
    expect(events[3]!.lastActiveAt).not.toBeNull();

    // A marker change proves nothing else was queued before it.
    await set(friend!, 'AWAY');
    await sub.take(6);
    expect(sub.events.map((e) => e.friendPresenceChanged.status).slice(5)).toEqual(['AWAY']);
  });

  it('follows friends added and removed while the subscription is open, without reconnecting', async () => {
    const [viewer, early, late] = users('viewer', 'early', 'late');
    await befriend(viewer!, [early!]);
    await set(late!, 'BUSY');
    const sub = collect(await connect(viewer!), FriendPresenceChangedDocument, {});
    await subscribed(1);

    await befriend(late!, [viewer!]); // late's status becomes visible: sent at once
    await set(late!, 'ONLINE'); // routed to the viewer from now on, and ordered after the BUSY
    expect((await sub.take(2)).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status])).toEqual([
      [late, 'BUSY'],
      [late, 'ONLINE'],
    ]);

    await ok(srv.url, RemoveFriendsDocument, { userId: viewer!, friendIds: [late!] }, await svc());
    await set(late!, 'AWAY'); // no longer a friend: not routed to the viewer
    await set(early!, 'ONLINE');
    await sub.take(4);
    // One last event for the removed friend, as a stranger reads them (version 0: forget them).
    expect(
      sub.events.slice(2).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status, e.friendPresenceChanged.version]),
    ).toEqual([
      [late, 'OFFLINE', 0],
      [early, 'ONLINE', expect.any(Number)],
    ]);
    expect(sub.events[3]!.friendPresenceChanged.lastActiveAt).not.toBeNull();
  });

  it('since: 0 starts with the state of every friend seen before; strangers and the never-seen send nothing', async () => {
    const [viewer, online, away, gone, never, stranger] = users(
      'since-viewer',
      'since-online',
      'since-away',
      'since-gone',
      'since-never',
      'since-stranger',
    );
    await befriend(viewer!, [online!, away!, gone!, never!]);
    await set(online!, 'ONLINE');
    await set(away!, 'AWAY');
    await set(gone!, 'ONLINE');
    await set(gone!, 'OFFLINE');
    await set(stranger!, 'ONLINE');
    const sub = collect(await connect(viewer!), FriendPresenceChangedDocument, { since: 0 });
    const first = (await sub.take(3)).map((e) => e.friendPresenceChanged);
    expect(first.map((p) => [p.userId, p.status]).sort()).toEqual(
      [
        [away, 'AWAY'],
        [gone, 'OFFLINE'],
        [online, 'ONLINE'],
      ].sort(),
    );
    expect(first.every((p) => p.version > 0)).toBe(true);
    // Then live changes, the first one after the snapshot exactly once.
    await set(away!, 'BUSY');
    await sub.take(4);
    expect(sub.events.slice(3).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status])).toEqual([[away, 'BUSY']]);
  });

  it('resumes after a reconnect with since = the highest version seen: the latest state, nothing repeated', async () => {
    const [viewer, friend, other] = users('resume-viewer', 'resume-friend', 'resume-other');
    await befriend(viewer!, [friend!, other!]);
    const before = routed();
    const live = collect(await connect(viewer!), FriendPresenceChangedDocument, {});
    await subscribed(before + 1);
    await set(friend!, 'ONLINE');
    await set(other!, 'AWAY');
    const seen = (await live.take(2)).map((e) => e.friendPresenceChanged);
    const highest = Math.max(...seen.map((p) => p.version));
    live.dispose();
    await subscribed(before);

    // While the viewer is away: the friend changes twice; the other friend does not change.
    await set(friend!, 'AWAY');
    await set(friend!, 'BUSY');
    const resumed = collect(await connect(viewer!), FriendPresenceChangedDocument, { since: highest });
    const [first] = await resumed.take(1);
    expect(first!.friendPresenceChanged).toMatchObject({ userId: friend, status: 'BUSY' });
    expect(first!.friendPresenceChanged.version).toBeGreaterThan(highest);
    // A marker: the next live change comes next, so nothing else (no AWAY, no repeat) was sent.
    await set(other!, 'ONLINE');
    await resumed.take(2);
    expect(resumed.events.map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status])).toEqual([
      [friend, 'BUSY'],
      [other, 'ONLINE'],
    ]);
  });

  it('presenceChanged(ids, since) resumes the same way, under the same visibility', async () => {
    const [viewer, friend, stranger] = users('ids-since-viewer', 'ids-since-friend', 'ids-since-stranger');
    await befriend(viewer!, [friend!]);
    await set(friend!, 'AWAY');
    await set(stranger!, 'ONLINE');
    const sub = collect(await connect(viewer!), PresenceChangedDocument, { ids: [stranger!, friend!], since: 0 });
    const [first] = await sub.take(1);
    expect(first!.presenceChanged).toMatchObject({ userId: friend, status: 'AWAY' });
    await set(friend!, 'ONLINE');
    await sub.take(2);
    expect(sub.events.map((e) => e.presenceChanged.userId)).toEqual([friend, friend]);
  });

  it('refuses a negative since with BAD_USER_INPUT', async () => {
    const sub = collect(await connect(users('neg-since')[0]!), FriendPresenceChangedDocument, { since: -1 });
    await waitFor(() => sub.errors.length > 0);
    expect(JSON.stringify(sub.errors)).toContain('BAD_USER_INPUT');
  });

  it('presenceChanged(ids) applies the same visibility: self and friends yes, strangers never', async () => {
    const [viewer, friend, stranger] = users('viewer', 'friend', 'stranger');
    await befriend(viewer!, [friend!]);
    const sub = collect(await connect(viewer!), PresenceChangedDocument, { ids: [stranger!, friend!, viewer!, friend!] });
    await subscribed(1); // one route for the viewer: friends' and own changes; nothing for the stranger

    await set(stranger!, 'ONLINE');
    await set(friend!, 'AWAY');
    await set(viewer!, 'INVISIBLE'); // the owner sees their own INVISIBLE
    await set(stranger!, 'BUSY');
    await set(friend!, 'ONLINE');
    expect((await sub.take(3)).map((e) => [e.presenceChanged.userId, e.presenceChanged.status])).toEqual([
      [friend, 'AWAY'],
      [viewer, 'INVISIBLE'],
      [friend, 'ONLINE'],
    ]);
  });

  it('refuses bad ids in presenceChanged with BAD_USER_INPUT and keeps the socket usable', async () => {
    const [viewer, friend] = users('viewer', 'friend');
    await befriend(viewer!, [friend!]);
    const client = await connect(viewer!);
    const bad = collect(client, PresenceChangedDocument, { ids: [''] });
    await waitFor(() => bad.errors.length > 0);
    expect(JSON.stringify(bad.errors)).toContain('BAD_USER_INPUT');

    const good = collect(client, PresenceChangedDocument, { ids: [friend!] });
    await subscribed(1);
    await set(friend!, 'ONLINE');
    expect((await good.take(1))[0]!.presenceChanged.status).toBe('ONLINE');
  });

  it('renders an event once per distinct selection on the instance; the wire frames are what clients always got', async () => {
    const [friend, ...viewers] = users('friend', 'r1', 'r2', 'r3', 'r4');
    await befriend(friend!, viewers);
    const query = 'subscription { friendPresenceChanged { userId status } }';
    const raws = await Promise.all(viewers.slice(0, 3).map(async (v) => rawSubscription(srv.url, await srv.token(v), query)));
    const other = collect(await connect(viewers[3]!), FriendPresenceChangedDocument, {}); // another selection
    await subscribed(4);
    const rendered = async () => (await srv.app.metrics.rendered.get()).values[0]?.value ?? 0;
    const before = await rendered();

    await set(friend!, 'ONLINE');
    await other.take(1);
    await waitFor(() => raws.every((r) => r.frames.length === 1));
    for (const r of raws) {
      expect(r.frames[0]).toBe(
        `{"id":"s1","type":"next","payload":{"data":{"friendPresenceChanged":{"userId":"${friend}","status":"ONLINE"}}}}`,
      );
    }
    expect((await rendered()) - before).toBe(2); // one execution per selection, not one per subscriber
    raws.forEach((r) => r.close());
  });

  it('fans one change out to many subscribers of the same user through one inbox', async () => {
    const [friend, ...viewers] = users('friend', 'v1', 'v2', 'v3', 'v4', 'v5');
    await befriend(friend!, viewers);
    const subs = await Promise.all(viewers.map(async (v) => collect(await connect(v), FriendPresenceChangedDocument, {})));
    await subscribed(viewers.length);
    expect(channels()).toBe(1); // no channel per followed user or per viewer: the instance's inbox
    await set(friend!, 'ONLINE');
    for (const sub of subs) expect((await sub.take(1))[0]!.friendPresenceChanged).toMatchObject({ userId: friend, status: 'ONLINE' });
  });
});

// PRESENCE_VISIBILITY=everyone: presenceChanged(ids) may name strangers, so it registers an
// interest in each id; friendPresenceChanged stays routed through the viewer's friends.
describe.each(engines.filter((e) => e.name !== 'redis-cluster'))(
  'subscriptions under visibility=everyone on the $name engine',
  (fixture) => {
    let srv: TestServer;
    let teardown: () => Promise<void>;
    let redis: RedisProcess | null = null;
    const users = userFactory();

    beforeAll(async () => {
      const engine = await fixture.setup();
      teardown = engine.teardown;
      redis = engine.redis;
      srv = await startApp({ ...engine.env, PRESENCE_VISIBILITY: 'everyone' });
    });
    afterAll(async () => {
      await srv?.stop();
      await teardown?.();
    });

    it('presenceChanged(ids) streams strangers too; friendPresenceChanged only friends; both release what they registered', async () => {
      const [viewer, friend, stranger] = users('viewer', 'friend', 'stranger');
      await ok(srv.url, AddFriendsDocument, { userId: viewer!, friendIds: [friend!] }, await srv.token('svc', { service: true }));
      const client = wsClient(srv.url, await srv.token(viewer!));
      const ids = collect(client, PresenceChangedDocument, { ids: [stranger!, friend!] });
      const friends = collect(client, FriendPresenceChangedDocument, {});
      await waitFor(() => srv.app.router.size() === 2);
      const set = async (userId: string, status: PresenceStatus) => ok(srv.url, SetPresenceDocument, { status }, await srv.token(userId));

      await set(stranger!, 'ONLINE');
      await set(friend!, 'AWAY');
      await set(stranger!, 'BUSY');
      expect((await ids.take(3)).map((e) => [e.presenceChanged.userId, e.presenceChanged.status])).toEqual([
        [stranger, 'ONLINE'],
        [friend, 'AWAY'],
        [stranger, 'BUSY'],
      ]);
      await set(friend!, 'ONLINE');
      expect((await friends.take(2)).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status])).toEqual([
        [friend, 'AWAY'],
        [friend, 'ONLINE'],
      ]);
      expect(friends.events).toHaveLength(2);

      await client.dispose();
      await waitFor(() => srv.app.router.size() === 0);
      if (redis) {
        // The interest in each id and the viewer's route are released with the last subscription.
        const keys = createKeys('presence:', srv.config.buckets);
        await waitFor(
          async () => (await redis!.client().exists(keys.watchers(stranger!), keys.watchers(friend!), keys.routes(viewer!))) === 0,
        );
      }
    });
  },
);
