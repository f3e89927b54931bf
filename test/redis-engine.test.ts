import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { signToken } from '../src/auth.js';
import { loadConfig } from '../src/config.js';
import { createKeys } from '../src/engine/redis/keys.js';
import { bucketOf, packId, unpackId } from '../src/ids.js';
import { AddFriendsDocument, MeDocument, PresencesDocument, SetPresenceDocument } from './generated/graphql.js';
import { TEST_SECRET } from './helpers/app.js';
import { codes, ok, request } from './helpers/graphql.js';
import { startRedis, type RedisProcess } from './helpers/redis.js';

describe('id packing', () => {
  it('packs canonical UUIDs to 16 bytes and round-trips every kind of id', () => {
    const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(packId(uuid)).toHaveLength(16);
    for (const id of [uuid, 'alice', 'ABCDEFGH-ÄÖÜ', '0F8FAD5B-D9CB-469F-A165-70867728950E', 'exactly16bytes!!', '~tilde', '~']) {
      expect(unpackId(packId(id))).toBe(id);
    }
  });

  it('never maps two ids to one field', () => {
    // A 16-byte raw id and the UUID with the same bytes must differ.
    const raw = 'abcdefghijklmnop';
    const twin = Buffer.from(raw).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    expect(packId(raw).equals(packId(twin))).toBe(false);
    expect(packId('~x').equals(packId('x'))).toBe(false);
  });

  it('spreads ids over buckets', () => {
    const used = new Set(Array.from({ length: 5000 }, (_, i) => bucketOf(packId(`user-${i}`), 1024)));
    expect(used.size).toBeGreaterThan(900);
  });
});

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

  it('answers presence(ids) for 500 ids over hundreds of buckets in one round trip', async () => {
    const viewer = 'viewer-rt';
    const ids = Array.from({ length: 500 }, (_, i) => `rt-user-${i}`);
    const svc = await signToken(TEST_SECRET, 'svc', { service: true });
    await ok(url, AddFriendsDocument, { userId: viewer, friendIds: ids.slice(0, 100) }, svc);
    for (const id of ids.slice(0, 20)) await ok(url, SetPresenceDocument, { status: 'ONLINE' }, await signToken(TEST_SECRET, id));
    const token = await signToken(TEST_SECRET, viewer);
    const buckets = new Set(ids.map((id) => createKeys('presence:', 4096).locate(id).key));
    expect(buckets.size).toBeGreaterThan(400);

    // Watch both ends: every command Redis receives (MONITOR) and every write on the app's socket.
    const monitor = await redis.client().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args[0]!.toLowerCase()));
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
    expect(seen.filter((c) => c === 'hmget')).toHaveLength(new Set([...buckets, createKeys('presence:', 4096).locate(viewer).key]).size);
    expect(seen.filter((c) => c === 'smismember')).toHaveLength(1);
    expect(seen.filter((c) => c !== 'hmget' && c !== 'smismember')).toEqual([]);
    expect(presence).toHaveLength(502);
    expect(presence.filter((p) => p.status === 'ONLINE').map((p) => p.userId)).toEqual([...ids.slice(0, 20), ids[0]]);
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
