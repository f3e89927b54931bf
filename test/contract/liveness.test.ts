import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  HeartbeatDocument,
  MeDocument,
  OnlineCountDocument,
  PresencesDocument,
  SetPresenceDocument,
  type FriendPresenceChangedSubscription,
} from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { engines } from '../helpers/engines.js';
import { userFactory } from '../helpers/users.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { collect, waitFor, wsClient, wsUrl, type Collected } from '../helpers/ws.js';

const GRACE = 400;
const HTTP_TTL = 1_000;
const KEEPALIVE = 200;

// Sessions, grace, heartbeats, retention and keepalive, run unchanged against every engine with
// short configured timings. Waits are bounded polls, never sleeps that assume a speed.
describe.each(engines)('liveness on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  let clients: Client[] = [];
  const users = userFactory();
  const svc = () => srv.token('svc', { service: true });
  const befriend = async (userId: string, friendIds: string[]) => ok(srv.url, AddFriendsDocument, { userId, friendIds }, await svc());
  /** A device: a socket that connects at once and so makes its user present. */
  const device = async (userId: string, deviceId?: string) => {
    const c = wsClient(srv.url, await srv.token(userId), { eager: true, ...(deviceId ? { deviceId } : {}) });
    clients.push(c);
    return c;
  };
  /** A friend watching `userId`, live before it returns. */
  const watcher = async (userId: string) => {
    const [viewer] = users('watcher');
    await befriend(viewer!, [userId]);
    const c = wsClient(srv.url, await srv.token(viewer!));
    clients.push(c);
    const before = srv.app.router.size();
    const sub = collect(c, FriendPresenceChangedDocument, {});
    // Live once the watcher's route is registered: the watched user's changes are routed here.
    await waitFor(() => srv.app.router.size() >= before + 1);
    return sub;
  };
  const statuses = (sub: Collected<FriendPresenceChangedSubscription>) => sub.events.map((e) => e.friendPresenceChanged.status);
  const status = async (userId: string) => (await ok(srv.url, MeDocument, {}, await srv.token(userId))).me.status;

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    srv = await startApp({
      ...engine.env,
      PRESENCE_BUCKETS: '64',
      PRESENCE_GRACE_MS: String(GRACE),
      PRESENCE_HTTP_TTL_MS: String(HTTP_TTL),
      PRESENCE_SWEEP_INTERVAL_MS: '50',
      PRESENCE_RETENTION_MS: '1500',
      PRESENCE_RETENTION_SCAN_MS: '200',
      WS_KEEPALIVE_MS: String(KEEPALIVE),
    });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
  });
  afterAll(async () => {
    await srv?.stop();
    await teardown?.();
  });

  it('a socket makes its user ONLINE at once; closing it turns them OFFLINE after the grace, exactly once', async () => {
    const [user] = users('user');
    const sub = await watcher(user!);
    const phone = await device(user!);
    await sub.take(1);
    expect(statuses(sub)).toEqual(['ONLINE']);

    const closedAt = Date.now();
    await phone.dispose();
    await sub.take(2, GRACE + 5_000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE - 50);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE']);
    expect(sub.events[1]!.friendPresenceChanged.lastActiveAt).not.toBeNull();

    // Nothing else was queued: the next change is the next event.
    await device(user!);
    await sub.take(3);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']);
  });

  it('a reconnect within the grace sends no events at all', async () => {
    const [user] = users('user');
    const sub = await watcher(user!);
    const first = await device(user!, 'laptop');
    await sub.take(1);
    await first.dispose();
    await device(user!, 'laptop');
    // Well past the grace and several sweeps: the user never looked offline.
    await new Promise((r) => setTimeout(r, GRACE * 2));
    expect(await status(user!)).toBe('ONLINE');
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, await srv.token(user!));
    await sub.take(2);
    expect(statuses(sub)).toEqual(['ONLINE', 'BUSY']);
  });

  it('two devices: closing one sends nothing, closing both sends OFFLINE once', async () => {
    const [user] = users('user');
    const sub = await watcher(user!);
    const phone = await device(user!, 'phone');
    const laptop = await device(user!, 'laptop');
    await sub.take(1);
    await phone.dispose();
    await new Promise((r) => setTimeout(r, GRACE * 2));
    expect(await status(user!)).toBe('ONLINE');
    await laptop.dispose();
    await sub.take(2, GRACE + 5_000);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('follows the multi-device rule: ONLINE beats AWAY; BUSY and INVISIBLE hold across devices until changed', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    await device(user!, 'phone');
    await waitFor(async () => (await status(user!)) === 'ONLINE');
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY', deviceId: 'laptop' }, token);
    expect(await status(user!)).toBe('ONLINE'); // the phone is still ONLINE
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY', deviceId: 'phone' }, token);
    expect(await status(user!)).toBe('AWAY');
    await ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE', deviceId: 'laptop' }, token);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE', deviceId: 'laptop' }, token);
    expect(await status(user!)).toBe('ONLINE'); // changed, so no longer sticky
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY', deviceId: 'laptop' }, token);
    await device(user!, 'tablet');
    await waitFor(async () => (await status(user!)) === 'BUSY');
    expect(await status(user!)).toBe('BUSY'); // a new device does not reset it
  });

  it('setPresence(OFFLINE) over the socket ends the session at once, with no grace', async () => {
    const [user] = users('user');
    const sub = await watcher(user!);
    const phone = await device(user!);
    await sub.take(1);
    // The socket stays open; its session is over now.
    const res = await new Promise<unknown>((resolve, reject) =>
      phone.subscribe(
        { query: 'mutation { setPresence(status: OFFLINE) { status } }' },
        { next: resolve, error: reject, complete: () => {} },
      ),
    );
    expect(res).toMatchObject({ data: { setPresence: { status: 'OFFLINE' } } });
    expect(await status(user!)).toBe('OFFLINE');
    await sub.take(2);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('HTTP heartbeats keep a user online; when they stop, the user turns OFFLINE after TTL plus grace', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    const sub = await watcher(user!);
    let lastBeat = 0;
    const beat = async () => {
      lastBeat = Date.now();
      return (await ok(srv.url, HeartbeatDocument, { deviceId: 'web' }, token)).heartbeat;
    };
    expect((await beat()).status).toBe('ONLINE');
    const start = Date.now();
    while (Date.now() - start < (HTTP_TTL + GRACE) * 1.5) {
      await beat();
      expect(await status(user!)).toBe('ONLINE');
      await new Promise((r) => setTimeout(r, HTTP_TTL / 5));
    }
    await sub.take(2, HTTP_TTL + GRACE + 5_000);
    // Not before TTL + grace after the last heartbeat was sent (a lower bound: safe under load).
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(HTTP_TTL + GRACE - 50);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('refuses a bad heartbeat deviceId without changing anything', async () => {
    const [user] = users('user');
    const res = await request(srv.url, HeartbeatDocument, { deviceId: '' }, await srv.token(user!));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(await status(user!)).toBe('OFFLINE');
  });

  it('closes a socket that stops answering pings, and its session ends like any other', async () => {
    const [user] = users('user');
    const sub = await watcher(user!);
    const token = await srv.token(user!);
    // A zombie: speaks graphql-ws, then never answers a ping.
    const zombie = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws', { autoPong: false });
    const closed = new Promise<number>((resolve) => zombie.on('close', (code) => resolve(code)));
    zombie.on('open', () => zombie.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    await sub.take(1);
    expect(await closed).toBe(1006); // terminated by the server, no close frame
    await sub.take(2, KEEPALIVE * 2 + GRACE + 5_000);
    expect(statuses(sub)).toEqual(['ONLINE', 'OFFLINE']);
  });

  it('keeps lastActiveAt while online, freezes it offline, and forgets the user after the retention', async () => {
    const [user, friend] = users('user', 'friend');
    await befriend(friend!, [user!]);
    const phone = await device(user!);
    await waitFor(async () => (await status(user!)) === 'ONLINE');
    const read = async () => (await ok(srv.url, PresencesDocument, { ids: [user!] }, await srv.token(friend!))).presence[0]!;
    const online = await read();
    expect(Math.abs(Date.parse(online.lastActiveAt!) - Date.now())).toBeLessThan(2_000);
    await phone.dispose();
    await waitFor(async () => (await read()).status === 'OFFLINE', GRACE + 5_000);
    const frozen = (await read()).lastActiveAt;
    await new Promise((r) => setTimeout(r, 100));
    expect((await read()).lastActiveAt).toBe(frozen);
    // Retention 1.5 s: the record disappears and the user reads as never seen.
    await waitFor(async () => (await read()).lastActiveAt === null, 10_000);
    expect(await read()).toEqual({ userId: user, status: 'OFFLINE', lastActiveAt: null, version: 0 });
  });

  it('counts online users exactly as they come and go (service tokens only)', async () => {
    const count = async () => (await ok(srv.url, OnlineCountDocument, {}, await svc())).onlineCount;
    expect(codes(await request(srv.url, OnlineCountDocument, {}, await srv.token('someone')))).toEqual(['FORBIDDEN']);
    await waitFor(async () => (await count()) === 0, 10_000);
    const [a, b] = users('a', 'b');
    const phoneA = await device(a!, 'phone');
    await device(a!, 'laptop');
    await device(b!);
    await waitFor(async () => (await count()) === 2);
    await phoneA.dispose();
    await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, await srv.token(b!));
    await waitFor(async () => (await count()) === 1);
    expect(await count()).toBe(1);
  });
});
