import { connect, type Socket } from 'node:net';
import { print } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApp } from '../../src/server/app.js';
import { CloseCodes } from '../../client/close-codes.js';
import { signToken } from '../../src/infra/auth.js';
import { loadConfig } from '../../src/config.js';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  HeartbeatDocument,
  MeDocument,
  SetPresenceDocument,
} from '../generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from '../helpers/app.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { post, rawSocket } from '../helpers/raw.js';
import { collect, waitFor, wsClient, wsUrl } from '../helpers/ws.js';

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
    const own = JSON.parse(
      (
        await post(srv.url, JSON.stringify({ query: '{ me { ... on Presence { ... on Presence { ... on Presence { userId } } } } }' }), {
          authorization: `Bearer ${token}`,
        })
      ).text,
    );
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
    const result = await new Promise<unknown>((resolve) =>
      ws.subscribe({ query: tooDeep }, { next: resolve, error: resolve, complete: () => {} }),
    );
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

  it('refuses a document with more than GRAPHQL_MAX_FIELDS fields before validating it (validation grows with their square)', async () => {
    const token = await srv.token('fields');
    const run = async (n: number) =>
      JSON.parse(
        (await post(srv.url, JSON.stringify({ query: `{ me { ${'userId '.repeat(n)}} }` }), { authorization: `Bearer ${token}` })).text,
      );
    expect((await run(199)).data.me.userId).toBe('fields'); // 200 fields with me
    // Twice each: the second answer comes from the verdict remembered for the cached document.
    expect((await run(199)).data.me.userId).toBe('fields');
    for (let i = 0; i < 2; i++) {
      const refused = await run(200);
      expect(refused.errors[0].message).toMatch(/at most 200 fields/);
      expect(refused.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    const ws = wsClient(srv.url, token);
    const result = await new Promise<unknown>((resolve) =>
      ws.subscribe({ query: `{ me { ${'userId '.repeat(200)}} }` }, { next: resolve, error: resolve, complete: () => {} }),
    );
    expect(JSON.stringify(result)).toMatch(/at most 200 fields/);
    await ws.dispose();
  });

  it('refuses a document with too many tokens before validating it', async () => {
    const query = `{ me { userId } } ${'query q { me { userId } } '.repeat(700)}`;
    const res = JSON.parse((await post(srv.url, JSON.stringify({ query }), { authorization: `Bearer ${await srv.token('tokens')}` })).text);
    expect(res.errors[0].message).toMatch(/token limit/i);
    expect(res.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('authenticates before parsing: a bad token, or no token with a large document, is refused 401 without parsing', async () => {
    const parses = async () => {
      const text = await (await fetch(`${srv.metricsUrl}/metrics`)).text();
      return [...text.matchAll(/^graphql_envelop_phase_parse_count\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const nearLimit = `{ me { ${'userId '.repeat(990)}} }`;
    const before = await parses();
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer not.a.token' },
      { authorization: `Bearer ${await signToken('x'.repeat(40), 'forged')}` },
    ]) {
      const res = await post(srv.url, JSON.stringify({ query: nearLimit }), headers);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    expect(await parses()).toBe(before);
    // A small anonymous document (GraphiQL loading the schema) is still parsed and answered.
    const introspection = JSON.parse((await post(srv.url, JSON.stringify({ query: '{ __schema { queryType { name } } }' }))).text);
    expect(introspection.data.__schema.queryType.name).toBe('Query');
    // With a good token a document is parsed (once) and answered.
    const token = await srv.token('early');
    expect(
      JSON.parse((await post(srv.url, JSON.stringify({ query: '{ me { userId } }' }), { authorization: `Bearer ${token}` })).text).data.me
        .userId,
    ).toBe('early');
    expect(await parses()).toBe(before + 2);
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
    for (const body of [
      'garbage',
      '{"query":',
      '[]',
      '{"query": 5}',
      '{"query":"{ me { userId } }","variables":"x"}',
      Buffer.from([0xff, 0xfe, 0x00]),
    ]) {
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

  it('closes the connection beyond the per-user cap with TooManyConnections (4129, not graphql-ws’ 4429)', async () => {
    const token = await srv.token('many');
    const keep = [wsClient(srv.url, token, { eager: true }), wsClient(srv.url, token, { eager: true })];
    await waitFor(async () => (await ok(srv.url, MeDocument, {}, token)).me.status === 'ONLINE');
    await waitFor(() => srv.app.liveness.sessionCount() >= 2);
    const third = await rawSocket(srv.url, { init: { authorization: `Bearer ${token}` } });
    expect(third.code).toBe(CloseCodes.TooManyConnections);
    expect(third.code).toBe(4129);
    await Promise.all(keep.map((c) => c.dispose()));
  });

  it('caps event-stream (SSE) subscriptions per user like sockets, sharing the allowance; a closed stream gives its place back', async () => {
    const token = await srv.token('streamer');
    const open = () => {
      const abort = new AbortController();
      const res = fetch(`${srv.url}/graphql`, {
        method: 'POST',
        signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: print(FriendPresenceChangedDocument) }),
      });
      // A refused stream ends at once with its error; an accepted one stays open.
      const outcome = res.then((r) => Promise.race([r.text(), new Promise<string>((resolve) => setTimeout(resolve, 400, 'open'))]));
      return { abort: () => abort.abort(), outcome };
    };
    const first = open();
    const second = open();
    expect(await first.outcome).toBe('open');
    expect(await second.outcome).toBe('open');
    // WS_MAX_CONNECTIONS_PER_USER is 2 here: a third stream, and a socket, are refused.
    expect(await open().outcome).toContain('LIMIT_EXCEEDED');
    expect((await rawSocket(srv.url, { init: { authorization: `Bearer ${token}` } })).code).toBe(CloseCodes.TooManyConnections);
    first.abort();
    let third = open();
    await waitFor(async () => (await third.outcome) === 'open' || ((third = open()), false));
    second.abort();
    third.abort();
    // Every stream's subscription is released once its client went away.
    await waitFor(async () => ((await srv.app.metrics.subscriptions.get()).values[0]?.value ?? 0) === 0);
    await stillServing();
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

  it('counts connectionParams.status against the setPresence limit: flapping a socket cannot flood friends', async () => {
    await ok(srv.url, AddFriendsDocument, { userId: 'flapper', friendIds: ['flapwatch'] }, await srv.token('svc', { service: true }));
    const watcher = wsClient(srv.url, await srv.token('flapwatch'));
    const seen = collect(watcher, FriendPresenceChangedDocument, {});
    await waitFor(() => srv.app.router.size() >= 1); // the watcher's subscription is routed
    const token = await srv.token('flapper');
    const acks: unknown[] = [];
    // The attack of issue 12: reconnect one device over and over, alternating its status.
    for (let i = 0; i < 12; i++) {
      const ws = new WebSocket(wsUrl(i % 2 ? other.url : srv.url), 'graphql-transport-ws');
      await new Promise((resolve) => ws.on('open', resolve));
      const status = i % 2 ? 'ONLINE' : 'AWAY';
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}`, deviceId: 'phone', status } }));
      const msg = JSON.parse(await new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m)))));
      expect(msg.type).toBe('connection_ack');
      acks.push(msg.payload ?? null);
      await new Promise((resolve) => {
        ws.once('close', resolve);
        ws.close();
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    // RATE_LIMIT_COUNT is 3 here: three status changes reach the friend, then nothing.
    expect(seen.events.map((e) => e.friendPresenceChanged.status)).toEqual(['AWAY', 'ONLINE', 'AWAY']);
    expect(acks.slice(0, 3)).toEqual([null, null, null]);
    for (const ack of acks.slice(3))
      expect(ack).toMatchObject({ statusApplied: false, code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    // The window is shared with setPresence.
    expect(codes(await request(srv.url, SetPresenceDocument, { status: 'ONLINE' }, token))).toEqual(['RATE_LIMITED']);
    await watcher.dispose();
  });

  it("accepts a WebSocket token that expires beyond a timer's reach (30 days ahead), without a TimeoutOverflowWarning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const token = await signToken(TEST_SECRET, 'longlived', { expiresIn: Math.floor(Date.now() / 1000) + 30 * 86_400 });
      const ws = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws');
      let closed: number | null = null;
      ws.on('close', (code) => (closed = code));
      await new Promise((resolve) => ws.on('open', resolve));
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      const first = await new Promise<string>((resolve) => {
        ws.once('message', (m) => resolve(String(m)));
        ws.once('close', (code, reason) => resolve(`closed ${code} ${String(reason)}`));
      });
      expect(first).toContain('"connection_ack"');
      await new Promise((r) => setTimeout(r, 300));
      expect(closed).toBeNull();
      ws.close();
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
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

describe('client mistakes in production: coded, no name suggestions, not logged as errors', () => {
  const logged: { level: number; msg: string; err?: string }[] = [];
  let url: string;
  let stop: () => Promise<void>;
  let token: string;
  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'production', PORT: '0', METRICS_PORT: '0', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info' });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const app = createApp(config, { logger });
    ({ url } = await app.start());
    stop = () => app.stop();
    token = await signToken(TEST_SECRET, 'mistaken');
  });
  afterAll(() => stop?.());

  it('suggests no enum value, field or type name, over HTTP and WebSocket', async () => {
    const auth = { authorization: `Bearer ${token}` };
    for (const body of [
      { query: 'mutation { setPresence(status: ONLIN) { userId } }' },
      { query: 'mutation($s: PresenceStatus!) { setPresence(status: $s) { userId } }', variables: { s: 'ONLIN' } },
      { query: '{ me { userd } }' },
      { query: 'query($s: PresenceStatu) { me { userId } }' },
    ]) {
      const text = (await post(url, JSON.stringify(body), auth)).text;
      expect(JSON.parse(text).errors.length, text).toBeGreaterThan(0);
      expect(text).not.toMatch(/Did you mean/);
    }
    const ws = wsClient(url, token);
    const result = await new Promise<unknown>((resolve) =>
      ws.subscribe({ query: 'mutation { setPresence(status: ONLIN) { userId } }' }, { next: resolve, error: resolve, complete: () => {} }),
    );
    expect(JSON.stringify(result)).toContain('[Suggestion hidden]');
    expect(JSON.stringify(result)).not.toMatch(/Did you mean/);
    await ws.dispose();
  });

  it('answers malformed GET parameters 400 BAD_REQUEST, with nothing in the error log', async () => {
    const before = logged.length;
    for (const q of ['variables={bad', 'extensions={bad', 'variables=%7B%22a%22']) {
      const res = await fetch(`${url}/graphql?query=${encodeURIComponent('{ me { userId } }')}&${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await res.json();
      expect(res.status, q).toBe(400);
      expect(body.errors[0].extensions.code, q).toBe('BAD_REQUEST');
    }
    expect(logged.slice(before).filter((l) => l.level >= 50)).toEqual([]);
  });
});

describe('slow clients and the connection cap', () => {
  let srv: TestServer;
  let capped: TestServer;
  beforeAll(async () => {
    [srv, capped] = await Promise.all([
      startApp({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      startApp({ HTTP_MAX_CONNECTIONS: '3' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([srv?.stop(), capped?.stop()]);
  });
  /** A raw TCP client; resolves once connected. */
  const tcp = (url: string) =>
    new Promise<Socket & { received: string; ended: Promise<number> }>((resolve, reject) => {
      const { port } = new URL(url);
      const t0 = performance.now();
      const s = connect(Number(port), '127.0.0.1') as Socket & { received: string; ended: Promise<number> };
      s.received = '';
      s.on('data', (d) => (s.received += d));
      s.ended = new Promise((r) => s.on('close', () => r(performance.now() - t0)));
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  /** Writes one byte every 100 ms until the server closes the connection (or 5 s pass). */
  const drip = (s: Socket, text: string) => {
    let i = 0;
    const t = setInterval(() => (s.destroyed || i >= text.length ? clearInterval(t) : s.write(text[i++]!)), 100);
    return () => clearInterval(t);
  };

  it('closes a request whose body trickles in (408 after HTTP_REQUEST_TIMEOUT_MS) and one whose headers do', async () => {
    const body = await tcp(srv.url);
    body.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
    const stopBody = drip(body, '{"query":"' + 'x'.repeat(89) + '"}');
    const headers = await tcp(srv.url);
    const stopHeaders = drip(headers, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'y'.repeat(100));
    const [bodyMs, headersMs] = await Promise.all([
      Promise.race([body.ended, new Promise<number>((r) => setTimeout(r, 5_000, Infinity))]),
      Promise.race([headers.ended, new Promise<number>((r) => setTimeout(r, 5_000, Infinity))]),
    ]);
    stopBody();
    stopHeaders();
    body.destroy();
    headers.destroy();
    expect(bodyMs).toBeLessThan(3_000);
    expect(body.received).toMatch(/^HTTP\/1\.1 408/);
    expect(headersMs).toBeLessThan(3_000);
  });

  it('leaves long-lived WebSockets and SSE streams alone', async () => {
    const token = await srv.token('patient');
    const ws = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws');
    let closed: number | null = null;
    ws.on('close', (code) => (closed = code));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await new Promise((resolve) => ws.once('message', resolve));
    const abort = new AbortController();
    const sse = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(FriendPresenceChangedDocument) }),
    });
    let sseEnded = false;
    void sse.text().then(
      () => (sseEnded = true),
      () => {},
    );
    await new Promise((r) => setTimeout(r, 2_500));
    expect(closed).toBeNull();
    expect(sseEnded).toBe(false);
    abort.abort();
    ws.close();
  });

  it('closes connections beyond HTTP_MAX_CONNECTIONS at once and serves again when one leaves', async () => {
    const held = [await tcp(capped.url), await tcp(capped.url), await tcp(capped.url)];
    const extra = await tcp(capped.url);
    const ms = await Promise.race([extra.ended, new Promise<number>((r) => setTimeout(r, 3_000, Infinity))]);
    expect(ms).toBeLessThan(1_000);
    expect(extra.received).toBe('');
    held[0]!.destroy();
    await waitFor(
      async () =>
        (await fetch(`${capped.url}/health`).then(
          (r) => r.status,
          () => 0,
        )) === 200,
    );
    held.forEach((s) => s.destroy());
  });
});
