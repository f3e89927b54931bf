import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  HeartbeatDocument,
  MeDocument,
  MyDevicesDocument,
  PresencesWithDevicesDocument,
  ReportActivityDocument,
  SetPresenceDocument,
  type FriendPresenceChangedSubscription,
} from '../generated/graphql.js';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { engines } from '../helpers/engines.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { userFactory } from '../helpers/users.js';
import { collect, waitFor, wsClient, wsUrl, type Collected } from '../helpers/ws.js';

const IDLE = 300;
const GRACE = 400;
const HTTP_TTL = 600;

describe('PRESENCE_IDLE_MS', () => {
  it('defaults to 10 minutes and refuses values that are not whole milliseconds in range', () => {
    expect(loadConfig({}).liveness.idleMs).toBe(600_000);
    expect(loadConfig({ PRESENCE_IDLE_MS: '300' }).liveness.idleMs).toBe(300);
    for (const bad of ['0', '99', '1.5', 'ten', String(86_400_001)]) {
      expect(() => loadConfig({ PRESENCE_IDLE_MS: bad })).toThrow(ConfigError);
    }
  });
});

/** Resolves after `ms`; only to let the configured idle time pass, never to assert a speed. */
const pass = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one operation over a graphql-ws client (its socket's device session) and returns its data. */
async function overSocket<T, V extends Record<string, unknown>>(client: Client, doc: TypedDocumentNode<T, V>, variables: V): Promise<T> {
  const result = await new Promise<{ data?: T; errors?: unknown }>((resolve, reject) =>
    client.subscribe<T>({ query: print(doc), variables }, { next: resolve as never, error: reject, complete: () => {} }),
  );
  if (result.errors || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

// Issue 13, automatic away and devices, run unchanged against every engine with a short
// PRESENCE_IDLE_MS. Waits are bounded polls; the only sleeps let the idle time pass.
describe.each(engines)('automatic away on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  let clients: Client[] = [];
  const users = userFactory();
  const svc = () => srv.token('svc', { service: true });
  const befriend = async (userId: string, friendIds: string[]) => ok(srv.url, AddFriendsDocument, { userId, friendIds }, await svc());
  const device = async (userId: string, deviceId: string) => {
    const c = wsClient(srv.url, await srv.token(userId), { eager: true, deviceId });
    clients.push(c);
    return c;
  };
  /** A friend watching `userId` with friendPresenceChanged, live before it returns. */
  const watcher = async (userId: string) => {
    const [viewer] = users('watcher');
    await befriend(viewer!, [userId]);
    const c = wsClient(srv.url, await srv.token(viewer!));
    clients.push(c);
    const before = srv.app.router.size();
    const sub = collect(c, FriendPresenceChangedDocument, {});
    await waitFor(() => srv.app.router.size() >= before + 1);
    return { sub, viewer: viewer! };
  };
  const statuses = (sub: Collected<FriendPresenceChangedSubscription>) => sub.events.map((e) => e.friendPresenceChanged.status);
  const status = async (userId: string) => (await ok(srv.url, MeDocument, {}, await srv.token(userId))).me.status;
  const devices = async (userId: string) => (await ok(srv.url, MyDevicesDocument, {}, await srv.token(userId))).me.devices!;

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    srv = await startApp({
      ...engine.env,
      PRESENCE_BUCKETS: '64',
      PRESENCE_IDLE_MS: String(IDLE),
      PRESENCE_GRACE_MS: String(GRACE),
      PRESENCE_HTTP_TTL_MS: String(HTTP_TTL),
      PRESENCE_SWEEP_INTERVAL_MS: '50',
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

  it('a laptop left alone turns AWAY by itself, a friend is told, and activity brings it back ONLINE', async () => {
    const [user] = users('user');
    const { sub } = await watcher(user!);
    const laptop = await device(user!, 'laptop');
    await sub.take(1);
    const reported = await overSocket(laptop, ReportActivityDocument, {});
    expect(reported.reportActivity.status).toBe('ONLINE');
    // No client call: the deadline sweep turns it AWAY once the idle time has passed.
    await sub.take(2, IDLE * 2 + 5_000);
    expect(statuses(sub)).toEqual(['ONLINE', 'AWAY']);
    expect(await status(user!)).toBe('AWAY');
    const [idle] = await devices(user!);
    expect(idle).toMatchObject({ deviceId: 'laptop', status: 'AWAY', transport: 'websocket' });

    expect((await overSocket(laptop, ReportActivityDocument, {})).reportActivity.status).toBe('ONLINE');
    await sub.take(3);
    expect(statuses(sub)).toEqual(['ONLINE', 'AWAY', 'ONLINE']);
    // And it idles again, once.
    await sub.take(4, IDLE * 2 + 5_000);
    expect(statuses(sub)).toEqual(['ONLINE', 'AWAY', 'ONLINE', 'AWAY']);
  });

  it('a phone in use keeps its user ONLINE while the laptop idles; reports over HTTP keep the session alive', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    const { sub } = await watcher(user!);
    const laptop = await device(user!, 'laptop');
    await overSocket(laptop, ReportActivityDocument, {});
    await sub.take(1);
    // The phone reports over HTTP only (no heartbeat), for longer than TTL + grace and several idle times.
    const report = async () => (await ok(srv.url, ReportActivityDocument, { deviceId: 'phone' }, token)).reportActivity;
    const start = Date.now();
    while (Date.now() - start < HTTP_TTL + GRACE + IDLE) {
      expect((await report()).status).toBe('ONLINE');
      expect(await status(user!)).toBe('ONLINE');
      await pass(IDLE / 2);
    }
    await report();
    const listed = await devices(user!);
    expect(listed.map((d) => [d.deviceId, d.status, d.transport])).toEqual([
      ['laptop', 'AWAY', 'websocket'],
      ['phone', 'ONLINE', 'http'],
    ]);
    expect(Date.parse(listed[0]!.lastActiveAt)).toBeLessThan(Date.parse(listed[1]!.lastActiveAt));
    expect(statuses(sub)).toEqual(['ONLINE']);

    // The phone goes into a pocket: both idle now, so the user is AWAY, once.
    await sub.take(2, IDLE * 2 + 5_000);
    expect(statuses(sub)).toEqual(['ONLINE', 'AWAY']);
  });

  it('sockets and HTTP devices that never report activity keep their status however long they are left', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    const { sub } = await watcher(user!);
    await device(user!, 'laptop');
    await ok(srv.url, HeartbeatDocument, { deviceId: 'web' }, token);
    await sub.take(1);
    await pass(IDLE * 2);
    expect(await status(user!)).toBe('ONLINE');
    const before = Date.now();
    const listed = await devices(user!);
    expect(listed.map((d) => [d.deviceId, d.status, d.transport])).toEqual([
      ['laptop', 'ONLINE', 'websocket'],
      ['web', 'ONLINE', 'http'],
    ]);
    // Present and never reported: active now.
    for (const d of listed) expect(Date.parse(d.lastActiveAt)).toBeGreaterThanOrEqual(before - 1_000);
    expect(statuses(sub)).toEqual(['ONLINE']);
  });

  it('a chosen ONLINE or AWAY is not overridden by idleness; the next activity turns the device ONLINE again', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    await ok(srv.url, ReportActivityDocument, {}, token); // over HTTP: the 'default' device
    expect((await devices(user!)).map((d) => [d.deviceId, d.transport])).toEqual([['default', 'http']]);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, token);
    await pass(IDLE * 2);
    expect(await status(user!)).toBe('ONLINE');
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, token);
    expect((await ok(srv.url, ReportActivityDocument, {}, token)).reportActivity.status).toBe('ONLINE');
    await waitFor(async () => (await status(user!)) === 'AWAY', IDLE * 2 + 5_000);
  });

  it('a sticky BUSY holds while a device idles and comes back; its device still reads AWAY in devices', async () => {
    const [user] = users('user');
    const laptop = await device(user!, 'laptop');
    await overSocket(laptop, ReportActivityDocument, {});
    await overSocket(laptop, SetPresenceDocument, { status: 'BUSY' });
    await waitFor(async () => (await devices(user!))[0]?.status === 'AWAY', IDLE * 2 + 5_000);
    expect(await status(user!)).toBe('BUSY');
    expect((await overSocket(laptop, ReportActivityDocument, {})).reportActivity.status).toBe('BUSY');
    expect((await devices(user!))[0]?.status).toBe('ONLINE');
  });

  it('a closed socket lingering in its grace reads as an http device and keeps its idle state', async () => {
    const [user] = users('user');
    const laptop = await device(user!, 'laptop');
    await overSocket(laptop, ReportActivityDocument, {});
    await waitFor(async () => (await status(user!)) === 'AWAY', IDLE * 2 + 5_000);
    await laptop.dispose();
    await waitFor(async () => (await devices(user!))[0]?.transport === 'http');
    expect(await devices(user!)).toMatchObject([{ deviceId: 'laptop', status: 'AWAY', transport: 'http' }]);
    await waitFor(async () => (await status(user!)) === 'OFFLINE', GRACE + 5_000);
    expect(await devices(user!)).toEqual([]);
  });

  it('a socket connecting with connectionParams.status is a choice: the device holds it however long it idles', async () => {
    const [user] = users('user');
    const laptop = await device(user!, 'laptop');
    await overSocket(laptop, ReportActivityDocument, {});
    await waitFor(async () => (await status(user!)) === 'AWAY', IDLE * 2 + 5_000);
    await laptop.dispose();
    const again = createClient({
      url: wsUrl(srv.url),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await srv.token(user!)}`, deviceId: 'laptop', status: 'ONLINE' },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
    });
    clients.push(again);
    await waitFor(async () => (await status(user!)) === 'ONLINE');
    await pass(IDLE * 2);
    expect(await status(user!)).toBe('ONLINE');
    expect(await devices(user!)).toMatchObject([{ deviceId: 'laptop', status: 'ONLINE', transport: 'websocket' }]);
  });

  it('lists devices for the viewer only: null on a friend and a stranger', async () => {
    const [user, friend, stranger] = users('user', 'friend', 'stranger');
    await befriend(user!, [friend!]);
    await ok(srv.url, ReportActivityDocument, { deviceId: 'desk' }, await srv.token(friend!));
    await ok(srv.url, ReportActivityDocument, { deviceId: 'desk' }, await srv.token(stranger!));
    const { presence } = await ok(srv.url, PresencesWithDevicesDocument, { ids: [user!, friend!, stranger!] }, await srv.token(user!));
    expect(presence.map((p) => [p.status, p.devices])).toEqual([
      ['OFFLINE', []],
      ['ONLINE', null],
      ['OFFLINE', null],
    ]);
    expect((await ok(srv.url, PresencesWithDevicesDocument, { ids: [friend!] }, await srv.token(friend!))).presence[0]!.devices).toEqual([
      { deviceId: 'desk' },
    ]);
  });

  it('refuses a bad deviceId with BAD_USER_INPUT and a flood with RATE_LIMITED, changing nothing', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    for (const deviceId of ['', 'x'.repeat(129), 'a\u0000b']) {
      expect(codes(await request(srv.url, ReportActivityDocument, { deviceId }, token))).toEqual(['BAD_USER_INPUT']);
    }
    expect(await status(user!)).toBe('OFFLINE');
    const { rateLimitCount } = srv.config.limits;
    const replies = [];
    for (let i = 0; i <= rateLimitCount; i++) replies.push(codes(await request(srv.url, ReportActivityDocument, {}, token)));
    expect(replies.slice(0, rateLimitCount).every((c) => c.length === 0)).toBe(true);
    expect(replies[rateLimitCount]).toEqual(['RATE_LIMITED']);
  });

  it('a report that changes nothing changes nothing stored and publishes nothing', async () => {
    const [user] = users('user');
    const first = await srv.app.engine.reportActivity(user!, { sessionId: 'pad', owner: null }, IDLE, 60_000, Date.now());
    expect(first.changed).toBe(true);
    const again = await srv.app.engine.reportActivity(user!, { sessionId: 'pad', owner: null }, IDLE, 60_000, Date.now());
    expect(again).toEqual({ changed: false, record: first.record });
    expect((await srv.app.engine.devices(user!, IDLE, Date.now())).map((d) => d.deviceId)).toEqual(['pad']);
  });
});

// What automatic away stores and costs in Redis: only devices that report carry anything more, and
// a report that changes nothing writes nothing.
describe('automatic away in Redis: layout and cost', () => {
  let srv: TestServer;
  let redis: RedisProcess;
  let client: Redis;
  let clients: Client[] = [];
  const users = userFactory();
  const keys = createKeys('presence:', 64);
  /** Calls per command since the server started (INFO commandstats). */
  const calls = async () => {
    const info = await client.info('commandstats');
    return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
  };
  const delta = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(after).flatMap(([k, n]) => (n - (before[k] ?? 0) && k !== 'info' ? [[k, n - (before[k] ?? 0)]] : [])),
    );

  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
    // No sweep and no lease renewal while a cost is measured: only the request's own commands count.
    srv = await startApp({
      REDIS_URL: redis.url,
      PRESENCE_BUCKETS: '64',
      // Nothing here waits for idleness. A report within a tenth of this of the last one writes
      // nothing; at 300 ms that left a loaded machine 30 ms between two reports.
      PRESENCE_IDLE_MS: '60000',
      PRESENCE_SWEEP_INTERVAL_MS: '60000',
      PRESENCE_LEASE_MS: '600000',
    });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  it('stores the idle moment only on devices that report, as a suffix of their session value', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    const [bucket, sessions] = keys.userKeys(user!);
    const laptop = wsClient(srv.url, token, { eager: true, deviceId: 'laptop' });
    clients.push(laptop);
    await ok(srv.url, HeartbeatDocument, { deviceId: 'web' }, token);
    await waitFor(async () => (await client.hlen(sessions)) === 2);
    const record = await client.hget(bucket, keys.locate(user!).field);
    // Never reported: exactly today's values.
    expect(await client.hgetall(sessions)).toEqual({ laptop: expect.stringMatching(/^w1[^|]+$/), web: expect.stringMatching(/^d1\d+$/) });

    await overSocket(laptop, ReportActivityDocument, {});
    await ok(srv.url, ReportActivityDocument, { deviceId: 'web' }, token);
    expect(await client.hgetall(sessions)).toEqual({
      laptop: expect.stringMatching(/^w1[^|]+\|\d{13}$/),
      web: expect.stringMatching(/^d1\d{13}\|\d{13}$/),
    });
    // The user's record (one integer) is untouched: nothing visible changed.
    expect(await client.hget(bucket, keys.locate(user!).field)).toBe(record);
  });

  it('a report that changes nothing is one rate-limit call and one script, and writes nothing', async () => {
    const [user] = users('user');
    const token = await srv.token(user!);
    const laptop = wsClient(srv.url, token, { eager: true, deviceId: 'laptop' });
    clients.push(laptop);
    await overSocket(laptop, ReportActivityDocument, {});
    await ok(srv.url, ReportActivityDocument, { deviceId: 'web' }, token);
    const [, sessions] = keys.userKeys(user!);
    const stored = await client.hgetall(sessions);

    for (const report of [
      () => overSocket(laptop, ReportActivityDocument, {}),
      () => ok(srv.url, ReportActivityDocument, { deviceId: 'web' }, token),
    ]) {
      const before = await calls();
      await report();
      const spent = delta(before, await calls());
      // HIT (INCR, PTTL) and PRESENCE (TIME, HGET record, HGET session, HGETALL sessions, ZADD index).
      expect(spent).toEqual({ evalsha: 2, incr: 1, pttl: 1, time: 1, hget: 2, hgetall: 1, zadd: 1 });
    }
    expect(await client.hgetall(sessions)).toEqual(stored);
  });
});
