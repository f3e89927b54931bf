import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/infra/auth.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { AddFriendsDocument, FriendPresenceChangedDocument, MeDocument, SetPresenceDocument } from '../generated/graphql.js';
import { TEST_SECRET } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

const LEASE = 1_500;
const GRACE = 500;
const SWEEP = 100;
/** The documented ghost bound for these settings (PRESENCE.md): lease + sweep + grace beyond the lease + sweep. */
const GHOST_BOUND = LEASE + SWEEP + Math.max(0, GRACE - LEASE) + SWEEP;

// Instances dying, freezing and being redeployed, as real processes on one Redis.
describe('instances failing over', () => {
  let redis: RedisProcess;
  const procs: ServerProcess[] = [];
  let clients: Client[] = [];
  let n = 0;
  const keys = createKeys('presence:', 64);
  const token = (sub: string, service = false) => signToken(TEST_SECRET, sub, { service });
  const env = () => ({
    REDIS_URL: redis.url,
    JWT_SECRET: TEST_SECRET,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PRESENCE_BUCKETS: '64',
    PRESENCE_LEASE_MS: String(LEASE),
    PRESENCE_GRACE_MS: String(GRACE),
    PRESENCE_SWEEP_INTERVAL_MS: String(SWEEP),
  });
  const instance = async () => {
    const p = await startServerProcess(env());
    procs.push(p);
    return p;
  };
  const users = (...names: string[]) => {
    n++;
    return names.map((name) => `${name}-${n}`);
  };
  /** A friend of `userId` subscribed on `at`, live before it returns. */
  const watcher = async (at: ServerProcess, userId: string) => {
    const [viewer] = users('watcher');
    await ok(at.url, AddFriendsDocument, { userId: viewer!, friendIds: [userId] }, await token('svc', true));
    const c = wsClient(at.url, await token(viewer!));
    clients.push(c);
    const sub = collect(c, FriendPresenceChangedDocument, {});
    // Live once the viewer's route is in Redis: `userId`'s changes are routed to `at`'s inbox.
    await waitFor(async () => (await redis.client().scard(keys.routes(viewer!))) >= 1);
    return sub;
  };
  const device = async (at: ServerProcess | ServerProcess[], userId: string) => {
    const list = Array.isArray(at) ? at : [at];
    const c = wsClient(list[0]!.url, await token(userId), {
      eager: true,
      deviceId: 'phone',
      urls: list.map((p) => p.url),
      retryAttempts: list.length > 1 ? 20 : 0,
    });
    clients.push(c);
    return c;
  };
  const statusOf = async (at: ServerProcess, userId: string) => (await ok(at.url, MeDocument, {}, await token(userId))).me.status;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('kill -9: friends on a surviving instance see OFFLINE within the ghost bound; its own users stay online', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const [doomed, safe] = users('doomed', 'safe');
    const seesDoomed = await watcher(b, doomed!);
    const seesSafe = await watcher(b, safe!);
    await device(a, doomed!);
    await device(b, safe!);
    await seesDoomed.take(1);
    await seesSafe.take(1);

    await a.stop('SIGKILL');
    const diedAt = Date.now();
    await seesDoomed.take(2, GHOST_BOUND + 3_000);
    const tookMs = Date.now() - diedAt;
    expect(seesDoomed.events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'OFFLINE']);
    expect(tookMs).toBeLessThan(GHOST_BOUND + 3_000);
    // Logged once the takeover finished (after the OFFLINE it published).
    await waitFor(() => b.output().includes('took over a dead instance'));

    // No false OFFLINE for users of the survivor: the next event of `safe` is the marker.
    await ok(b.url, SetPresenceDocument, { status: 'AWAY', deviceId: 'phone' }, await token(safe!));
    await seesSafe.take(2);
    expect(seesSafe.events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'AWAY']);
    expect(await statusOf(b, doomed!)).toBe('OFFLINE');
  });

  it('SIGSTOP for less than the lease, then SIGCONT: no flapping', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const [user] = users('frozen');
    const sees = await watcher(b, user!);
    await device(a, user!);
    await sees.take(1);

    a.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, LEASE / 2));
    a.proc.kill('SIGCONT');
    // Let several sweeps and lease renewals run after the thaw, then a marker.
    await new Promise((r) => setTimeout(r, LEASE + GRACE));
    expect(await statusOf(b, user!)).toBe('ONLINE');
    await ok(b.url, SetPresenceDocument, { status: 'BUSY', deviceId: 'phone' }, await token(user!));
    await sees.take(2);
    expect(sees.events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'BUSY']);
    const frozenId = /"instanceId":"([^"]+)"/.exec(a.output())![1]!;
    expect(b.output()).not.toContain(`"dead":"${frozenId}"`);
  });

  it('SIGTERM during a rolling deploy: clients move to another instance within the grace and nobody sees OFFLINE', async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const [user] = users('moving');
    const sees = await watcher(b, user!);
    await device([a, b], user!);
    await sees.take(1);

    expect(await a.stop('SIGTERM')).toBe(0);
    expect(a.output()).toContain('shutting down');
    await new Promise((r) => setTimeout(r, GRACE * 2 + LEASE));
    expect(await statusOf(b, user!)).toBe('ONLINE');
    await ok(b.url, SetPresenceDocument, { status: 'AWAY', deviceId: 'phone' }, await token(user!));
    await sees.take(2);
    expect(sees.events.map((e) => e.friendPresenceChanged.status)).toEqual(['ONLINE', 'AWAY']);
  });
});
