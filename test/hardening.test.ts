import { request as httpRequest } from 'node:http';
import { print } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../src/auth.js';
import { FriendPresenceChangedDocument, HeartbeatDocument, MeDocument, SetPresenceDocument } from './generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from './helpers/app.js';
import { codes, ok, request } from './helpers/graphql.js';
import { startRedis, type RedisProcess } from './helpers/redis.js';
import { collect, waitFor, wsClient, wsUrl } from './helpers/ws.js';

/** POSTs a raw body; resolves with status and text. */
function post(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw graphql-ws socket: resolves with the close code once the server closes it. */
function rawSocket(url: string, opts: { origin?: string; init?: object; send?: (ws: WebSocket) => void } = {}) {
  return new Promise<{ code: number | null; status: number | null; messages: string[] }>((resolve) => {
    const messages: string[] = [];
    const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws', opts.origin ? { origin: opts.origin } : {});
    ws.on('unexpected-response', (_req, res) => resolve({ code: null, status: res.statusCode ?? null, messages }));
    ws.on('open', () => {
      if (opts.init) ws.send(JSON.stringify({ type: 'connection_init', payload: opts.init }));
      opts.send?.(ws);
    });
    ws.on('message', (m) => messages.push(String(m)));
    ws.on('close', (code) => resolve({ code, status: null, messages }));
  });
}

describe('limits and abuse', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  let other: TestServer;
  const stillServing = async () => expect((await ok(srv.url, MeDocument, {}, await srv.token('bystander'))).me.userId).toBe('bystander');

  beforeAll(async () => {
    redis = await startRedis();
    const env = {
      REDIS_URL: redis.url,
      // The tests' documents are 4 deep (me { ...PresenceFields }: a fragment adds a level).
      GRAPHQL_MAX_DEPTH: '4',
      GRAPHQL_MAX_INTROSPECTION_DEPTH: '4',
      GRAPHQL_MAX_ALIASES: '3',
      GRAPHQL_MAX_TOKENS: '1000',
      MAX_BODY_BYTES: '32768',
      WS_MAX_PAYLOAD_BYTES: '4096',
      WS_MAX_SUBSCRIPTIONS: '2',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_ALLOWED_ORIGINS: 'https://app.example',
      RATE_LIMIT_COUNT: '3',
      RATE_LIMIT_WINDOW_MS: '60000',
    };
    [srv, other] = await Promise.all([startApp(env), startApp(env)]);
  });
  afterAll(async () => {
    await Promise.all([srv?.stop(), other?.stop()]);
    await redis?.stop();
  });

  it('refuses a query one level too deep, on HTTP and on the WebSocket', async () => {
    const token = await srv.token('deep');
    const own = JSON.parse((await post(srv.url, JSON.stringify({ query: '{ me { ... on Presence { ... on Presence { ... on Presence { userId } } } } }' }), { authorization: `Bearer ${token}` })).text);
    expect(own.errors[0].message).toMatch(/depth/i);
    expect(own.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // Introspection has its own bound (GraphiQL needs 21 levels), still enforced.
    const atLimit = '{ __schema { types { fields { name } } } }';
    const tooDeep = '{ __schema { types { fields { type { name } } } } }';
    const run = (query: string) => post(srv.url, JSON.stringify({ query }), { authorization: `Bearer ${token}` });
    expect(JSON.parse((await run(atLimit)).text).errors).toBeUndefined();
    const refused = JSON.parse((await run(tooDeep)).text);
    expect(refused.errors[0].message).toMatch(/depth/i);
    expect(refused.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');

    const ws = wsClient(srv.url, token);
    const result = await new Promise<unknown>((resolve) => ws.subscribe({ query: tooDeep }, { next: resolve, error: resolve, complete: () => {} }));
    expect(JSON.stringify(result)).toMatch(/depth/i);
    await ws.dispose();
    await stillServing();
  });

  it('refuses too many aliases', async () => {
    const token = await srv.token('aliases');
    const query = `{ ${[1, 2, 3, 4].map((i) => `a${i}: me { userId }`).join(' ')} }`;
    const res = JSON.parse((await post(srv.url, JSON.stringify({ query }), { authorization: `Bearer ${token}` })).text);
    expect(res.errors[0].message).toMatch(/alias/i);
    expect(res.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.data ?? null).toBeNull();
    await stillServing();
  });

  it('refuses a document with too many tokens before validating it', async () => {
    const query = `{ me { userId } } ${'query q { me { userId } } '.repeat(700)}`;
    const res = JSON.parse((await post(srv.url, JSON.stringify({ query }), { authorization: `Bearer ${await srv.token('tokens')}` })).text);
    expect(res.errors[0].message).toMatch(/token limit/i);
    expect(res.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('refuses an oversized body (413) and a body of unknown length (411) before reading it', async () => {
    const big = JSON.stringify({ query: '{ me { userId } }', variables: { pad: 'x'.repeat(40_000) } });
    const res = await post(srv.url, big, { authorization: `Bearer ${await srv.token('big')}` });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).errors[0].extensions.code).toBe('BAD_REQUEST');
    const chunked = await post(srv.url, '{"query":"{ me { userId } }"}', { 'transfer-encoding': 'chunked' });
    expect(chunked.status).toBe(411);
    await stillServing();
  });

  it('never crashes or leaks a stack trace on malformed requests', async () => {
    for (const body of ['garbage', '{"query":', '[]', '{"query": 5}', '{"query":"{ me { userId } }","variables":"x"}', Buffer.from([0xff, 0xfe, 0x00])]) {
      const res = await post(srv.url, body, { authorization: `Bearer ${await srv.token('fuzz')}` });
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
    }
    await stillServing();
  });

  it('closes a WebSocket that sends an oversized frame (1009) and keeps serving others', async () => {
    const { code } = await rawSocket(srv.url, {
      init: { authorization: `Bearer ${await srv.token('frame')}` },
      send: (ws) => ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'x'.repeat(5_000) } })),
    });
    expect(code).toBe(1009);
    await stillServing();
  });

  it('refuses a WebSocket from a foreign Origin at the handshake; allows listed, same-origin and native clients', async () => {
    const foreign = await rawSocket(srv.url, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(401);
    const token = await srv.token('origin');
    for (const origin of ['https://app.example', srv.url, undefined]) {
      const c = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws', origin ? { origin } : {});
      await new Promise((resolve, reject) => {
        c.on('open', resolve);
        c.on('unexpected-response', () => reject(new Error(`refused ${origin}`)));
      });
      c.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      await new Promise((resolve) => c.once('message', resolve));
      c.close();
    }
  });

  it('answers the subscription beyond the per-connection cap with LIMIT_EXCEEDED; the others keep working', async () => {
    const client = wsClient(srv.url, await srv.token('subs'));
    const before = srv.app.metrics.subscriptions;
    const open = async () => (await before.get()).values[0]?.value ?? 0;
    const base = await open();
    const a = collect(client, FriendPresenceChangedDocument, {});
    const b = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(async () => (await open()) === base + 2);
    const c = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(() => c.errors.length === 1);
    expect(JSON.stringify(c.errors)).toContain('LIMIT_EXCEEDED');
    expect([...a.errors, ...b.errors]).toEqual([]);
    await client.dispose();
  });

  it('closes the connection beyond the per-user cap with 4429', async () => {
    const token = await srv.token('many');
    const keep = [wsClient(srv.url, token, { eager: true }), wsClient(srv.url, token, { eager: true })];
    await waitFor(async () => (await ok(srv.url, MeDocument, {}, token)).me.status === 'ONLINE');
    await waitFor(() => srv.app.liveness.sessionCount() >= 2);
    const third = await rawSocket(srv.url, { init: { authorization: `Bearer ${token}` } });
    expect(third.code).toBe(4429);
    await Promise.all(keep.map((c) => c.dispose()));
  });

  it('rate-limits setPresence per user across instances, with a code and a retry hint', async () => {
    const token = await srv.token('burst');
    const results = [];
    for (const at of [srv, other, srv, other]) results.push(await request(at.url, SetPresenceDocument, { status: 'AWAY' }, token));
    expect(results.slice(0, 3).every((r) => !r.errors)).toBe(true);
    const refused = results[3]!;
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.errors![0]!.extensions!['retryAfterMs']).toBeGreaterThan(0);
    // Heartbeats have their own window; other users are unaffected.
    expect((await ok(srv.url, HeartbeatDocument, { deviceId: 'web' }, token)).heartbeat.userId).toBe('burst');
    await stillServing();
  });

  it('closes a socket with 4403 when its token expires; a new token reconnects', async () => {
    const short = await signToken(TEST_SECRET, 'expiring', { expiresIn: Math.floor(Date.now() / 1000) + 2 });
    const { code } = await rawSocket(srv.url, { init: { authorization: `Bearer ${short}` } });
    expect(code).toBe(4403);
    const fresh = wsClient(srv.url, await srv.token('expiring'));
    const sub = collect(fresh, FriendPresenceChangedDocument, {});
    await waitFor(() => srv.app.router.size() >= 1);
    expect(sub.errors).toEqual([]);
    await fresh.dispose();
  });
});

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
    const text = await (await fetch(`${srv.url}/metrics`)).text();
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

  it('turns introspection and GraphiQL off in production', async () => {
    const token = await srv.token('prod');
    const res = JSON.parse((await post(srv.url, JSON.stringify({ query: '{ __schema { types { name } } }' }), { authorization: `Bearer ${token}` })).text);
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
