import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../src/engine/redis/keys.js';
import { signToken } from '../src/auth.js';
import { AddFriendsDocument, FriendPresenceChangedDocument, MeDocument, SetPresenceDocument } from './generated/graphql.js';
import { TEST_SECRET } from './helpers/app.js';
import { ok } from './helpers/graphql.js';
import { startServerProcess, type ServerProcess } from './helpers/process.js';
import { startRedis, type RedisProcess } from './helpers/redis.js';
import { collect, waitFor, wsClient } from './helpers/ws.js';

// Two API processes on one Redis, started the way a user starts them (npm start with REDIS_URL).
describe('fan-out across instances', () => {
  let redis: RedisProcess;
  let a: ServerProcess;
  let b: ServerProcess;
  const keys = createKeys('presence:', 65_536);
  const token = (sub: string, service = false) => signToken(TEST_SECRET, sub, { service });
  const numsub = async (channel: string) => {
    const [, count] = (await redis.client().pubsub('NUMSUB', channel)) as [string, number];
    return count;
  };

  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, JWT_SECRET: TEST_SECRET, NODE_ENV: 'test', LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('a viewer on instance A gets a change made through instance B within a second, exactly once, in order', async () => {
    await ok(b.url, AddFriendsDocument, { userId: 'mi-viewer', friendIds: ['mi-friend'] }, await token('svc', true));
    const client = wsClient(a.url, await token('mi-viewer'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await numsub(keys.userChannel('mi-friend'))) === 1);

    const friend = await token('mi-friend');
    const sequence = ['ONLINE', 'AWAY', 'BUSY', 'ONLINE', 'OFFLINE'] as const;
    const sentAt: number[] = [];
    for (const status of sequence) {
      await ok(b.url, SetPresenceDocument, { status }, friend);
      sentAt.push(Date.now());
    }
    const events = await sub.take(sequence.length, 1_000 + 500 * sequence.length);
    expect(events.map((e) => e.friendPresenceChanged.status)).toEqual(sequence);
    expect(events.every((e) => e.friendPresenceChanged.userId === 'mi-friend')).toBe(true);

    // Exactly once: a marker change arrives next, with nothing in between.
    await ok(b.url, SetPresenceDocument, { status: 'AWAY' }, friend);
    await sub.take(sequence.length + 1);
    expect(sub.events.slice(sequence.length).map((e) => e.friendPresenceChanged.status)).toEqual(['AWAY']);
    await client.dispose();
    await waitFor(async () => (await numsub(keys.userChannel('mi-friend'))) === 0);
  });

  it('both instances read the same state', async () => {
    const t = await token('mi-shared');
    await ok(a.url, SetPresenceDocument, { status: 'BUSY' }, t);
    expect((await ok(b.url, MeDocument, {}, t)).me.status).toBe('BUSY');
  });
});
