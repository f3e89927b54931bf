import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/infra/auth.js';
import { FriendPresenceChangedDocument, MeDocument, SetPresenceDocument } from '../generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from '../helpers/app.js';
import { codes, ok } from '../helpers/graphql.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { post, rawSocket } from '../helpers/raw.js';
import { waitFor, wsClient } from '../helpers/ws.js';

// The operator's side: /health, /ready, /metrics and production defaults, and what a client is
// told while Redis is stalled, out of memory or down (not an auth failure).
describe('operations endpoints and production defaults', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    srv = await startApp({ REDIS_URL: redis.url, NODE_ENV: 'production', JWT_SECRET: TEST_SECRET });
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  it('/health is alive; /ready follows Redis', async () => {
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    expect((await fetch(`${srv.url}/ready`)).status).toBe(200);
    await redis.kill();
    await waitFor(async () => (await fetch(`${srv.url}/ready`)).status !== 200, 10_000);
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    await redis.restart();
    await waitFor(async () => (await fetch(`${srv.url}/ready`)).status === 200, 15_000);
  });

  it('/metrics exposes yoga and Presence metrics in Prometheus format', async () => {
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await srv.token('metered'));
    const text = await (await fetch(`${srv.metricsUrl}/metrics`)).text();
    for (const name of [
      'graphql_yoga_http_duration',
      'graphql_envelop_request_duration',
      'presence_ws_connections',
      'presence_subscriptions_active',
      'presence_redis_channels',
      'presence_sessions',
      'presence_online_users',
      'presence_events_published_total',
      'presence_events_delivered_total',
      'presence_sweeps_total',
      'presence_takeovers_total',
      'presence_engine_duration_seconds',
      'presence_redis_up 1',
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(/presence_events_published_total [1-9]/);
  });

  it('serves /metrics only on the internal listener: the public port has none (presence_online_users is not public)', async () => {
    for (const path of ['/metrics', '/metrics?x=1', '/graphql/../metrics']) {
      const res = await fetch(`${srv.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/presence_online_users|graphql_envelop/);
    }
    const internal = await (await fetch(`${srv.metricsUrl}/metrics`)).text();
    expect(internal).toContain('presence_online_users');
    expect((await fetch(`${srv.metricsUrl}/graphql`)).status).toBe(404);
  });

  it('labels metrics from bounded sets only: no URL, no query string, no operation name a client made up', async () => {
    const token = await srv.token('labels');
    const auth = { authorization: `Bearer ${token}` };
    const scrape = async () => (await fetch(`${srv.metricsUrl}/metrics`)).text();
    // yoga's series (Node's own GC series come and go with the collector's activity).
    const series = (text: string) => text.split('\n').filter((l) => l.startsWith('graphql_')).length;
    // Warm every label combination this test can produce, then count series.
    const send = async (i: number) => {
      const name = `Evil${i}_${Math.random().toString(36).slice(2)}`;
      const query = `query ${name} { me { userId } }`;
      await fetch(`${srv.url}/graphql?junk=${i}-${Math.random()}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query, operationName: name }),
      });
      await fetch(`${srv.url}/graphql?query=${encodeURIComponent(query)}&operationName=${name}&junk=${i}`, { headers: auth });
      await fetch(`${srv.url}/graphql?query=${encodeURIComponent(`{ me { userId } } ${'{'.repeat(i % 3)}`)}&z=${i}`, { headers: auth });
    };
    await ok(srv.url, MeDocument, {}, token);
    for (let i = 0; i < 5; i++) await send(i);
    const before = series(await scrape());
    for (let i = 5; i < 55; i++) await send(i);
    const text = await scrape();
    expect(series(text)).toBe(before);
    expect(text).not.toMatch(/Evil|junk|url=|path=/);
    expect(text).toMatch(/graphql_yoga_http_duration_count\{[^}]*operationName="other"/);
    expect(text).toMatch(/graphql_envelop_request_duration_count\{operationName="Me",operationType="query"\}/);
    expect(text).toMatch(/route="\/graphql"/);
  });

  it('turns introspection and GraphiQL off in production', async () => {
    const token = await srv.token('prod');
    const res = JSON.parse(
      (await post(srv.url, JSON.stringify({ query: '{ __schema { types { name } } }' }), { authorization: `Bearer ${token}` })).text,
    );
    expect(res.errors?.length).toBeGreaterThan(0);
    const page = await fetch(`${srv.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
  });

  it('gives a forged cross-site request nothing: without the Authorization header it is anonymous (CSRF)', async () => {
    // What a cross-site <img>/<form> can send: a simple GET or a form POST, with cookies but
    // never an Authorization header. Presence reads no cookie, so the request is anonymous.
    const forged = { cookie: 'session=victim', origin: 'https://evil.example' };
    const get = await fetch(`${srv.url}/graphql?query=${encodeURIComponent('{ me { userId } }')}`, { headers: forged });
    expect(get.status).toBe(401);
    expect(codes(await get.json())).toEqual(['UNAUTHENTICATED']);
    const form = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: { ...forged, 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent('mutation { setPresence(status: BUSY) { status } }')}`,
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    expect((await form.json()).errors[0].extensions.code).toBeTruthy();
  });

  it('rejects an expired subscription request over SSE too', async () => {
    const expired = await signToken(TEST_SECRET, 'sse', { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${expired}` },
      body: JSON.stringify({ query: print(FriendPresenceChangedDocument) }),
    });
    expect(await res.text()).toContain('UNAUTHENTICATED');
  });
});

describe('a Redis outage is not an auth failure', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    srv = await startApp({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    redis?.proc.kill('SIGCONT');
    await srv?.stop();
    await redis?.stop();
  });
  /** Status and how long /ready took to answer. */
  const ready = async () => {
    const t0 = performance.now();
    const res = await fetch(`${srv.url}/ready`);
    await res.text();
    return { status: res.status, ms: performance.now() - t0 };
  };
  const connects = async (userId: string) => {
    const client = wsClient(srv.url, await srv.token(userId), { eager: true });
    await waitFor(async () => (await ok(srv.url, MeDocument, {}, await srv.token(userId))).me.status === 'ONLINE');
    await client.dispose();
  };

  it('while Redis is stalled (SIGSTOP): /ready answers 503 within a second; a new socket is closed 1013 (retry), not 4403', async () => {
    expect((await ready()).status).toBe(200);
    const token = await srv.token('stalled');
    redis.proc.kill('SIGSTOP');
    try {
      const during = await ready();
      expect(during.status).toBe(503);
      expect(during.ms).toBeLessThan(1_000);
      // Once the stall is known (a probe went unanswered), sockets hear it at once too.
      const t0 = performance.now();
      const { code } = await rawSocket(srv.url, { init: { authorization: `Bearer ${token}` } });
      expect(code).toBe(1013);
      expect(performance.now() - t0).toBeLessThan(1_000);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    await waitFor(async () => (await ready()).status === 200, 10_000);
    await connects('stalled');
  });

  it('while Redis refuses writes (OOM): /ready answers 503 at once; a new socket is closed 1013', async () => {
    const admin = redis.client();
    await admin.config('SET', 'maxmemory', '1');
    try {
      const during = await ready();
      expect(during.status).toBe(503);
      expect(during.ms).toBeLessThan(1_000);
      const { code } = await rawSocket(srv.url, { init: { authorization: `Bearer ${await srv.token('oom')}` } });
      expect(code).toBe(1013);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    await waitFor(async () => (await ready()).status === 200, 10_000);
    await connects('oom');
  });

  it('while Redis is down: a new socket is closed 1013 at once', async () => {
    await redis.kill();
    await waitFor(async () => (await ready()).status === 503, 10_000);
    const t0 = performance.now();
    const { code } = await rawSocket(srv.url, { init: { authorization: `Bearer ${await srv.token('down')}` } });
    expect(code).toBe(1013);
    expect(performance.now() - t0).toBeLessThan(1_000);
    await redis.restart();
    await waitFor(async () => (await ready()).status === 200, 15_000);
    await connects('down');
  });
});
