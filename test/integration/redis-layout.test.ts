import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/server/app.js';
import { signToken } from '../../src/infra/auth.js';
import { loadConfig } from '../../src/config.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { AddFriendsDocument, MeDocument, PresencesDocument, SetPresenceDocument } from '../generated/graphql.js';
import { TEST_SECRET } from '../helpers/app.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

describe('Redis engine', () => {
  let redis: RedisProcess;
  let app: App;
  let url: string;
  let command: Redis;
  // Background liveness work (lease renewals, sweeps) is slowed right down so that the wire shows
  // only what a request sends.
  const config = () =>
    loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      METRICS_PORT: '0',
      JWT_SECRET: TEST_SECRET,
      REDIS_URL: redis.url,
      PRESENCE_BUCKETS: '4096',
      PRESENCE_LEASE_MS: '600000',
      PRESENCE_SWEEP_INTERVAL_MS: '60000',
    });

  beforeAll(async () => {
    redis = await startRedis();
    command = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    app = createApp(config(), { redis: { command } });
    ({ url } = await app.start());
  });
  afterAll(async () => {
    await app?.stop();
    command?.disconnect();
    await redis?.stop();
  });

  it('stores a user as one packed field in a bucket hash, listpack-encoded', async () => {
    const uuid = '3b241101-e2bb-4255-8caf-4136c566a962';
    const { setPresence } = await ok(url, SetPresenceDocument, { status: 'AWAY' }, await signToken(TEST_SECRET, uuid));
    const keys = createKeys('presence:', 4096);
    const { key, field } = keys.locate(uuid);
    const inspect = redis.client();
    expect(field).toHaveLength(16);
    const stored = await inspect.hgetBuffer(key, field);
    expect(Number(stored!.toString())).toBe(setPresence.version * 32 + 2); // t*32 + no sticky + AWAY
    expect(await inspect.object('ENCODING', key)).toBe('listpack');
  });

  it('counts hidden moves in the same integer, still listpack-encoded, and keeps what friends read', async () => {
    const user = 'hidden-counter';
    const token = await signToken(TEST_SECRET, user);
    await ok(url, SetPresenceDocument, { status: 'ONLINE' }, token);
    const vanished = (await ok(url, SetPresenceDocument, { status: 'INVISIBLE' }, token)).setPresence.version;
    for (let i = 0; i < 3; i++) {
      await ok(url, SetPresenceDocument, { status: 'OFFLINE' }, token);
      await ok(url, SetPresenceDocument, { status: 'INVISIBLE' }, token);
    }
    const keys = createKeys('presence:', 4096);
    const { key, field } = keys.locate(user);
    const inspect = redis.client();
    const stored = (await inspect.hgetBuffer(key, field))!.toString();
    // h = 6 moves in the digits above 10^15, then t*32 + sticky INVISIBLE (2)*8 + INVISIBLE (4).
    expect(stored).toBe(`6${String(vanished * 32 + 2 * 8 + 4).padStart(15, '0')}`);
    expect(BigInt(stored) < 2n ** 63n).toBe(true);
    expect(await inspect.object('ENCODING', key)).toBe('listpack');
    expect((await ok(url, MeDocument, {}, token)).me).toMatchObject({ status: 'INVISIBLE', version: vanished + 6 });
  });

  it('answers presence(ids) for 500 ids over hundreds of buckets in one round trip and one command', async () => {
    const viewer = 'viewer-rt';
    const ids = Array.from({ length: 500 }, (_, i) => `rt-user-${i}`);
    const svc = await signToken(TEST_SECRET, 'svc', { service: true });
    await ok(url, AddFriendsDocument, { userId: viewer, friendIds: ids.slice(0, 100) }, svc);
    for (const id of ids.slice(0, 20)) await ok(url, SetPresenceDocument, { status: 'ONLINE' }, await signToken(TEST_SECRET, id));
    const token = await signToken(TEST_SECRET, viewer);
    const buckets = new Set(ids.map((id) => createKeys('presence:', 4096).locate(id).key));
    expect(buckets.size).toBeGreaterThan(400);

    // The script is loaded by the first read (EVALSHA, then EVAL once): measure the next one.
    await ok(url, PresencesDocument, { ids: [viewer] }, token);
    // Watch both ends: every command Redis receives (MONITOR: from the app, or run by a script)
    // and every write on the app's socket.
    const monitor = await redis.client().monitor();
    const sent: string[] = [];
    const scripted: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) =>
      (source === 'lua' ? scripted : sent).push(args[0]!.toLowerCase()),
    );
    await new Promise((r) => setTimeout(r, 50));
    const socket = (command as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
    const write = socket.write;
    let writes = 0;
    socket.write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return write.apply(this, args);
    };
    let presence;
    try {
      ({ presence } = await ok(url, PresencesDocument, { ids: [...ids, viewer, ids[0]!] }, token));
    } finally {
      socket.write = write;
    }
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();

    expect(writes).toBe(1);
    expect(sent).toEqual(['evalsha']); // one command for the node (READ_MANY)
    expect(scripted.filter((c) => c === 'hmget')).toHaveLength(
      new Set([...buckets, createKeys('presence:', 4096).locate(viewer).key]).size,
    );
    expect(scripted.filter((c) => c === 'smismember')).toHaveLength(1);
    expect(scripted.filter((c) => c !== 'hmget' && c !== 'smismember')).toEqual([]);
    expect(presence).toHaveLength(502);
    expect(presence.filter((p) => p.status === 'ONLINE').map((p) => p.userId)).toEqual([...ids.slice(0, 20), ids[0]]);
  });

  it('keeps formerly colliding ids apart through the API and refuses ids that are not well-formed Unicode', async () => {
    // Issue 12, defect 4: these two read and overwrote each other's status.
    const tilde = '~aaaaaaaaaaaaaa';
    const uuid = '7e7e6161-6161-6161-6161-616161616161';
    const tildeToken = await signToken(TEST_SECRET, tilde);
    const uuidToken = await signToken(TEST_SECRET, uuid);
    expect((await ok(url, SetPresenceDocument, { status: 'BUSY' }, tildeToken)).setPresence.status).toBe('BUSY');
    expect((await ok(url, MeDocument, {}, uuidToken)).me).toEqual({ userId: uuid, status: 'OFFLINE', lastActiveAt: null, version: 0 });
    await ok(url, SetPresenceDocument, { status: 'AWAY' }, uuidToken);
    expect((await ok(url, MeDocument, {}, tildeToken)).me.status).toBe('BUSY');
    expect((await ok(url, MeDocument, {}, uuidToken)).me.status).toBe('AWAY');

    // Lone surrogates collapsed to U+FFFD: 'sur\ud800' and 'sur\udfff' shared a record and a friend set.
    const svc = await signToken(TEST_SECRET, 'svc', { service: true });
    const viewer = await signToken(TEST_SECRET, 'surrogate-viewer');
    for (const bad of ['sur\ud800', 'sur\udfff', '\udc00lead', 'pair\ud83d']) {
      expect(codes(await request(url, PresencesDocument, { ids: [bad] }, viewer))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await request(url, AddFriendsDocument, { userId: bad, friendIds: ['someone'] }, svc))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await request(url, AddFriendsDocument, { userId: 'someone', friendIds: [bad] }, svc))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await request(url, SetPresenceDocument, { status: 'ONLINE', deviceId: bad }, viewer))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await request(url, MeDocument, {}, await signToken(TEST_SECRET, bad)))).toEqual(['UNAUTHENTICATED']);
    }
    // A proper surrogate pair is a character like any other.
    const emoji = 'smile-\ud83d\ude00';
    expect((await ok(url, SetPresenceDocument, { status: 'ONLINE' }, await signToken(TEST_SECRET, emoji))).setPresence.userId).toBe(emoji);
  });

  it('masks a Redis outage as an unexpected error, then recovers when Redis is back', async () => {
    const token = await signToken(TEST_SECRET, 'outage-user');
    await redis.kill();
    const res = await request(url, MeDocument, {}, token);
    expect(codes(res)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(res.errors![0]!.message).toBe('Unexpected error.');
    expect(JSON.stringify(res)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/);
    await redis.restart();
    await expect.poll(async () => (await request(url, MeDocument, {}, token)).data?.me.status, { timeout: 10_000 }).toBe('OFFLINE');
    expect((await ok(url, SetPresenceDocument, { status: 'ONLINE' }, token)).setPresence.status).toBe('ONLINE');
  });
});
