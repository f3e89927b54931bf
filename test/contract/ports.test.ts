import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimiter } from '../../src/engine/ports.js';
import { createMemoryRateLimiter } from '../../src/engine/memory/rate-limiter.js';
import { createMemoryRouteTable } from '../../src/engine/memory/route-table.js';
import { createMemoryState } from '../../src/engine/memory/state.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { createRedisRateLimiter } from '../../src/engine/redis/rate-limiter.js';
import { createRedisRouteTable } from '../../src/engine/redis/route-table.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

// A port is a module: each is built here alone, from nothing but what it needs (a connection and
// the key names, or the memory engine's state), and keeps its contract.
describe('engine ports built alone', () => {
  let redis: RedisProcess;
  let client: Redis;
  const keys = createKeys('ports:', 64);

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const limiters: [string, () => RateLimiter][] = [
    ['memory', () => createMemoryRateLimiter()],
    ['redis', () => createRedisRateLimiter({ client, keys })],
  ];
  it.each(limiters)('a %s RateLimiter allows `count` calls per window, then says when the window ends', async (_name, create) => {
    const limiter = create();
    const windowMs = 60_000;
    const first = await limiter.hit('alice', 2, windowMs);
    expect(first).toEqual({ allowed: true, retryAfterMs: expect.any(Number) });
    expect((await limiter.hit('alice', 2, windowMs)).allowed).toBe(true);
    const third = await limiter.hit('alice', 2, windowMs);
    expect(third.allowed).toBe(false);
    expect(third.retryAfterMs).toBeGreaterThan(0);
    expect(third.retryAfterMs).toBeLessThanOrEqual(windowMs);
    expect((await limiter.hit('bob', 2, windowMs)).allowed).toBe(true); // windows are per key
  });

  it('a Redis RouteTable registers routes and interests, and drops an instance’s at once', async () => {
    const routes = createRedisRouteTable({ client, keys });
    await routes.route('A', ['v1', 'v2'], true);
    await routes.watch('A', ['u1'], true);
    await routes.route('B', ['v1'], true);
    expect((await client.smembers(keys.routes('v1'))).sort()).toEqual(['A', 'B']);
    expect(await client.smembers(keys.watchers('u1'))).toEqual(['A']);
    await routes.route('A', ['v2'], false);
    expect(await client.smembers(keys.routes('v2'))).toEqual([]);
    await routes.dropRoutes('A');
    expect(await client.smembers(keys.routes('v1'))).toEqual(['B']);
    expect(await client.smembers(keys.watchers('u1'))).toEqual([]);
    expect(await client.exists(keys.instanceRoutes('A'), keys.instanceWatches('A'))).toBe(0);
  });

  it('a memory RouteTable keeps the same table in its state, and drops an instance’s at once', async () => {
    const state = createMemoryState();
    const routes = createMemoryRouteTable({ state });
    await routes.route('A', ['v1', 'v2'], true);
    await routes.watch('A', ['u1'], true);
    await routes.route('B', ['v1'], true);
    expect([...state.routes.get('v1')!].sort()).toEqual(['A', 'B']);
    await routes.route('A', ['v2'], false);
    expect(state.routes.has('v2')).toBe(false);
    await routes.dropRoutes('A');
    expect([...state.routes.get('v1')!]).toEqual(['B']);
    expect(state.watchers.size).toBe(0);
  });
});
