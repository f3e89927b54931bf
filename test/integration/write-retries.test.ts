import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/server/app.js';
import { signToken } from '../../src/infra/auth.js';
import { loadConfig } from '../../src/config.js';
import { Status } from '../../src/domain/presence.js';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  FriendsDocument,
  HeartbeatDocument,
  MeDocument,
  RemoveFriendsDocument,
  SetPresenceDocument,
} from '../generated/graphql.js';
import { TEST_SECRET } from '../helpers/app.js';
import { codes, ok, request, type GraphQLResponse } from '../helpers/graphql.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { userFactory } from '../helpers/users.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

/** The command connection's timeout: Redis is stopped for longer than this. */
const COMMAND_TIMEOUT_MS = 300;

// Issue 12, defect 8: a write answered INTERNAL_SERVER_ERROR has an unknown outcome (Redis may run it
// when it resumes), and retrying it must converge to the state of one success.
describe('writes whose outcome is unknown (Redis stalled past the command timeout)', () => {
  let redis: RedisProcess;
  let app: App;
  let url: string;
  let command: Redis;
  let clients: Client[] = [];
  const users = userFactory();
  const token = (userId: string) => signToken(TEST_SECRET, userId);
  const svc = () => signToken(TEST_SECRET, 'svc', { service: true });

  /** Runs `write` while Redis is stopped (SIGSTOP), past the command timeout, then resumes it. */
  const stalled = async <T>(write: () => Promise<GraphQLResponse<T>>) => {
    redis.proc.kill('SIGSTOP');
    let res: GraphQLResponse<T>;
    try {
      res = await write();
      await new Promise((r) => setTimeout(r, COMMAND_TIMEOUT_MS));
    } finally {
      redis.proc.kill('SIGCONT');
    }
    expect(codes(res)).toEqual(['INTERNAL_SERVER_ERROR']);
    // Whatever Redis had received runs now; wait until a read goes through again.
    await expect.poll(async () => codes(await request(url, MeDocument, {}, await token('probe'))), { timeout: 10_000 }).toEqual([]);
    return res;
  };
  /** The same, for the engine call a mutation makes once its rate-limit check has passed. */
  const stalledEngine = async (write: () => Promise<unknown>) => {
    redis.proc.kill('SIGSTOP');
    try {
      await expect(write()).rejects.toThrow(/timed out/i);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    await expect.poll(async () => codes(await request(url, MeDocument, {}, await token('probe'))), { timeout: 10_000 }).toEqual([]);
  };
  const friendsOf = async (userId: string) => (await ok(url, FriendsDocument, {}, await token(userId))).friends.map((f) => f.userId);

  beforeAll(async () => {
    redis = await startRedis();
    command = new Redis(redis.url, { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 });
    command.on('error', () => {});
    app = createApp(loadConfig({ NODE_ENV: 'test', PORT: '0', JWT_SECRET: TEST_SECRET, REDIS_URL: redis.url }), { redis: { command } });
    ({ url } = await app.start());
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
  });
  afterAll(async () => {
    if (redis?.proc) redis.proc.kill('SIGCONT');
    await app?.stop();
    command?.disconnect();
    await redis?.stop();
  });

  it('addFriends: an error means an unknown outcome; the retry converges and open subscriptions follow', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    await ok(url, AddFriendsDocument, { userId: bob!, friendIds: [carol!] }, await svc());
    const before = app.router.size();
    const watcher = wsClient(url, await token(bob!));
    clients.push(watcher);
    const sub = collect(watcher, FriendPresenceChangedDocument, {});
    await waitFor(() => app.router.size() > before); // bob's subscription is routed

    const admin = await svc();
    await stalled(() => request(url, AddFriendsDocument, { userId: alice!, friendIds: [bob!] }, admin));
    // The outcome of an error is unknown: the stall may have caught the cap check (nothing
    // written) or the write itself (applied when Redis resumed).
    const after = await friendsOf(alice!);
    expect([[], [bob]]).toContainEqual(after);

    // Retrying is safe: the same final state, and bob's open subscription now follows alice.
    const retry = await ok(url, AddFriendsDocument, { userId: alice!, friendIds: [bob!] }, admin);
    expect(retry.addFriends).toBe(after.length ? 0 : 1); // counts what the retry itself changed
    expect(await friendsOf(alice!)).toEqual([bob]);
    expect(await friendsOf(bob!)).toEqual([alice, carol].sort());
    await ok(url, SetPresenceDocument, { status: 'ONLINE' }, await token(alice!));
    await ok(url, SetPresenceDocument, { status: 'AWAY' }, await token(carol!));
    const events = (await sub.take(2)).map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status]);
    expect(events).toEqual([
      [alice, 'ONLINE'],
      [carol, 'AWAY'],
    ]);
  });

  it('removeFriends: applied although it failed; the retry converges and open subscriptions drop the friend', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    const admin = await svc();
    await ok(url, AddFriendsDocument, { userId: bob!, friendIds: [alice!, carol!] }, admin);
    const before = app.router.size();
    const watcher = wsClient(url, await token(bob!));
    clients.push(watcher);
    const sub = collect(watcher, FriendPresenceChangedDocument, {});
    await waitFor(() => app.router.size() > before); // bob's subscription is routed

    await stalled(() => request(url, RemoveFriendsDocument, { userId: alice!, friendIds: [bob!] }, admin));
    expect(await friendsOf(alice!)).toEqual([]);

    const retry = await ok(url, RemoveFriendsDocument, { userId: alice!, friendIds: [bob!] }, admin);
    expect(retry.removeFriends).toBe(0);
    expect(await friendsOf(bob!)).toEqual([carol]);
    await ok(url, SetPresenceDocument, { status: 'ONLINE' }, await token(alice!)); // no longer delivered
    await ok(url, SetPresenceDocument, { status: 'AWAY' }, await token(carol!)); // the marker
    await sub.take(2);
    await new Promise((r) => setTimeout(r, 100));
    // The removal is announced once (version 0), however often it is routed; alice's change is not.
    expect(
      sub.events.map((e) => [e.friendPresenceChanged.userId, e.friendPresenceChanged.status, e.friendPresenceChanged.version > 0]),
    ).toEqual([
      [alice, 'OFFLINE', false],
      [carol, 'AWAY', true],
    ]);
  });

  it('setPresence and heartbeat: a retry after an unknown outcome leaves the state of one success, with one event', async () => {
    const [alice, bob] = users('alice', 'bob');
    await ok(url, AddFriendsDocument, { userId: bob!, friendIds: [alice!] }, await svc());
    const before = app.router.size();
    const watcher = wsClient(url, await token(bob!));
    clients.push(watcher);
    const sub = collect(watcher, FriendPresenceChangedDocument, {});
    await waitFor(() => app.router.size() > before);
    const aliceToken = await token(alice!);

    await stalled(() => request(url, SetPresenceDocument, { status: 'BUSY', deviceId: 'phone' }, aliceToken));
    const first = (await ok(url, SetPresenceDocument, { status: 'BUSY', deviceId: 'phone' }, aliceToken)).setPresence;
    const again = (await ok(url, SetPresenceDocument, { status: 'BUSY', deviceId: 'phone' }, aliceToken)).setPresence;
    expect({ ...again, lastActiveAt: null }).toEqual({ ...first, lastActiveAt: null }); // a second success changes nothing either
    expect(first.status).toBe('BUSY');

    await stalled(() => request(url, HeartbeatDocument, { deviceId: 'web' }, aliceToken));
    const beat = (await ok(url, HeartbeatDocument, { deviceId: 'web' }, aliceToken)).heartbeat;
    expect(beat).toMatchObject({ status: 'BUSY', version: first.version });
    expect((await ok(url, MeDocument, {}, aliceToken)).me).toMatchObject({ status: 'BUSY', version: first.version });

    // A stall that lands after the rate-limit check: the script itself times out, then runs.
    const ttl = 40_000; // PRESENCE_HTTP_TTL_MS + PRESENCE_GRACE_MS, as the resolvers pass it
    await stalledEngine(() => app.engine.setStatus(alice!, Status.AWAY, { sessionId: 'phone', owner: null }, ttl, Date.now()));
    const away = (await ok(url, MeDocument, {}, aliceToken)).me;
    expect(away.status).toBe('ONLINE'); // applied: phone AWAY (BUSY no longer sticky), web ONLINE
    const awayRetry = (await ok(url, SetPresenceDocument, { status: 'AWAY', deviceId: 'phone' }, aliceToken)).setPresence;
    expect(awayRetry).toMatchObject({ status: 'ONLINE', version: away.version });
    await stalledEngine(() => app.engine.heartbeat(alice!, 'tablet', ttl, Date.now()));
    expect((await ok(url, HeartbeatDocument, { deviceId: 'tablet' }, aliceToken)).heartbeat).toMatchObject({
      status: 'ONLINE',
      version: away.version,
    });

    await ok(url, SetPresenceDocument, { status: 'OFFLINE' }, aliceToken); // the marker: every session ends
    await sub.take(2);
    // The change applied after its writer timed out was never routed (the writer saw an error and
    // its retry changed nothing), so friends saw no ONLINE: delivery is at-most-once (README). They
    // read the true state, and the next visible change reaches them.
    expect(sub.events.map((e) => e.friendPresenceChanged.status)).toEqual(['BUSY', 'OFFLINE']);
  });
});
