import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CloseCodes,
  createPresenceClient,
  type PresenceClient,
  type PresenceClientError,
  type PresenceClientOptions,
  type Presence,
} from '../../client/index.js';
import { signToken } from '../../src/infra/auth.js';
import { AddFriendsDocument, RemoveFriendsDocument, SetPresenceDocument, type PresenceStatus } from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { userFactory } from '../helpers/users.js';
import { waitFor } from '../helpers/ws.js';

/**
 * A `ws` WebSocket class the test can cut off: `offline` sends new sockets to a closed port (the
 * network is down), `drop()` terminates the open ones without a close frame (the network vanished),
 * `freeze()` makes the open ones deaf (a half-open connection: nothing arrives, nothing closes).
 */
function controllableWebSocket() {
  const sockets: WebSocket[] = [];
  const closes: number[] = [];
  /** Every graphql-ws message the client sent, parsed. */
  const sent: { type: string; payload?: { operationName?: string; variables?: Record<string, unknown> } }[] = [];
  const frozen = new WeakSet<WebSocket>();
  const net = { offline: false };
  const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!;
  class TestWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(net.offline ? 'ws://127.0.0.1:1/graphql' : url, protocols);
      sockets.push(this);
      this.on('close', (code) => closes.push(code));
      this.on('error', () => {}); // a refused connection; graphql-ws sees the close
      const send = this.send.bind(this);
      this.send = ((data: string, ...rest: never[]) => (sent.push(JSON.parse(data)), send(data, ...rest))) as typeof this.send;
      // graphql-ws reads messages through onmessage: a frozen socket never calls it again.
      Object.defineProperty(this, 'onmessage', {
        get: () => onmessage.get!.call(this),
        set: (fn: ((e: WebSocket.MessageEvent) => void) | null) =>
          onmessage.set!.call(this, fn && ((e: WebSocket.MessageEvent) => void (frozen.has(this) || fn(e)))),
      });
    }
  }
  const open = () => sockets.filter((s) => s.readyState === WebSocket.OPEN);
  return {
    impl: TestWebSocket,
    sockets,
    sent,
    /** The `since` of each subscription the client opened with this operation name, in order. */
    since: (operationName: string) =>
      sent.filter((m) => m.type === 'subscribe' && m.payload?.operationName === operationName).map((m) => m.payload?.variables?.['since']),
    closes,
    net,
    drop: () => open().forEach((s) => s.terminate()),
    freeze: () => open().forEach((s) => frozen.add(s)),
  };
}

// The client library against the real app (memory engine) over real sockets: no server mocks.
describe('client library against a real server', () => {
  let srv: TestServer;
  let clients: PresenceClient[] = [];
  const users = userFactory();
  const set = async (userId: string, status: PresenceStatus) =>
    (await ok(srv.url, SetPresenceDocument, { status }, await srv.token(userId))).setPresence;
  const befriend = async (userId: string, friendIds: string[]) =>
    ok(srv.url, AddFriendsDocument, { userId, friendIds }, await srv.token('svc', { service: true }));
  /** A client with test-sized timings; every error it reports is recorded. */
  const connect = (opts: Partial<PresenceClientOptions>) => {
    const errors: PresenceClientError[] = [];
    const client = createPresenceClient({
      url: `${srv.url}/graphql`,
      webSocketImpl: WebSocket,
      reconnectBaseMs: 50,
      reconnectCapMs: 400,
      onError: (e) => errors.push(e),
      ...opts,
    } as PresenceClientOptions);
    clients.push(client);
    return { client, errors };
  };
  /** Every friend entry the client applied, in order (what a UI would have rendered). */
  const record = (client: PresenceClient) => {
    const applied: Presence[] = [];
    client.onChange((c) => applied.push(...c.updated));
    return applied;
  };
  const status = (client: PresenceClient, userId: string) => client.friends.get(userId)?.status;

  beforeAll(async () => {
    srv = await startApp();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('keeps a live friends list and me, and sets the viewer status over the socket', async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const { client: A, errors } = connect({ getToken: () => srv.token(a!) });
    const { client: B } = connect({ token: await srv.token(b!) });
    await waitFor(() => A.connection === 'connected' && B.connection === 'connected' && A.me !== null && B.friends.has(a!));
    expect(A.me).toMatchObject({ userId: a, status: 'ONLINE' }); // the socket itself makes A present
    await waitFor(() => status(A, b!) === 'ONLINE'); // B's socket made B present, live or by the read

    await B.setStatus('BUSY');
    await waitFor(() => status(A, b!) === 'BUSY');
    expect(B.me?.status).toBe('BUSY');
    const away = await A.setStatus('AWAY');
    expect(away).toMatchObject({ userId: a, status: 'AWAY' });
    // The same version also arrives on A's own stream; it is applied once.
    expect(A.me).toMatchObject({ status: 'AWAY', version: away.version });
    await waitFor(() => status(B, a!) === 'AWAY');
    expect(errors).toEqual([]);
  });

  it('after a dropped socket, reconnects with backoff and shows the latest state, nothing applied twice', async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const ws = controllableWebSocket();
    const { client: A, errors } = connect({ token: await srv.token(a!), webSocketImpl: ws.impl });
    const applied = record(A);
    await waitFor(() => A.connection === 'connected' && A.friends.has(b!));
    const online = await set(b!, 'ONLINE');
    await waitFor(() => status(A, b!) === 'ONLINE');
    const away = await A.setStatus('AWAY'); // the device's own status: the next socket opens with it

    // The network goes: the socket dies without a close frame and reconnects are refused.
    ws.net.offline = true;
    ws.drop();
    await waitFor(() => A.connection === 'reconnecting');
    const before = ws.sockets.length;
    await waitFor(() => ws.sockets.length >= before + 2); // it keeps trying (and failing) meanwhile
    await set(b!, 'AWAY');
    const busy = await set(b!, 'BUSY');
    expect(status(A, b!)).toBe('ONLINE'); // nothing reaches A while it is away

    ws.net.offline = false;
    await waitFor(() => A.connection === 'connected' && status(A, b!) === 'BUSY');
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives (a late repeat would be dropped anyway)
    const forB = applied.filter((p) => p.userId === b);
    // The live ONLINE, then the state read on reconnect: the AWAY it missed is superseded, not replayed.
    expect(forB.map((p) => [p.status, p.version])).toEqual([
      ['OFFLINE', 0], // the first read: B was never seen
      ['ONLINE', online.version],
      ['BUSY', busy.version],
    ]);
    expect(A.friends.get(b!)).toMatchObject({ status: 'BUSY', version: busy.version });
    // The first socket asked for everyone visible; the second resumed from the highest version seen.
    expect(ws.since('FriendPresenceChanged')).toEqual([0, online.version]);
    expect(ws.since('PresenceChanged').at(-1)).toBe(away.version); // the viewer's own stream likewise
    expect(ws.closes).toContain(1006);
    expect(A.me).toMatchObject({ userId: a, status: 'AWAY' });
    expect(errors.map((e) => e.code)).toEqual(['CONNECTION_LOST']); // once for the lost socket, not per attempt

    // Still live on the new socket.
    await set(b!, 'ONLINE');
    await waitFor(() => status(A, b!) === 'ONLINE');
  });

  it("sets and clears the viewer's status message; a friend sees it live; a bad one is a coded error", async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const { client: A } = connect({ token: await srv.token(a!) });
    const { client: B, errors } = connect({ token: await srv.token(b!) });
    await waitFor(() => A.connection === 'connected' && B.connection === 'connected' && B.me !== null && A.friends.has(b!));
    const expiresAt = new Date(Date.now() + 60_000);
    const set = await B.setStatusMessage({ text: 'Lunch', emoji: '🍕', expiresAt });
    expect(set.statusMessage).toEqual({ text: 'Lunch', emoji: '🍕', expiresAt: expiresAt.toISOString() });
    expect(B.me?.statusMessage?.text).toBe('Lunch');
    await waitFor(() => A.friends.get(b!)?.statusMessage?.text === 'Lunch');
    await expect(B.setStatusMessage({ text: 'x', emoji: 'not an emoji' })).rejects.toMatchObject({
      code: 'GRAPHQL_ERROR',
      details: { serverCode: 'BAD_USER_INPUT' },
    });
    await B.setStatusMessage({ text: null });
    await waitFor(() => A.friends.get(b!)?.statusMessage === null);
    expect(B.me?.statusMessage).toBeNull();
    expect(errors).toEqual([]);
  });

  it("runs the README's live friends list snippet as written (a page's document and fetch stood in)", async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const readme = readFileSync('README.md', 'utf8');
    const snippet = /<!-- snippet: client -->\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!snippet) throw new Error('README.md has no client snippet');
    // The page around it: a token endpoint and a <ul id="friends"> whose rows are recorded.
    const page = `
      const env = (globalThis as any).__snippet;
      const fetch = async (_path: string) => new Response(env.token);
      const document = {
        querySelector: (_selector: string) => ({ replaceChildren: (...rows: { textContent: string }[]) => (env.rows = rows.map((r) => r.textContent)) }),
        createElement: (_tag: string) => ({}),
      };
    `;
    const code = snippet
      .replace("'@presence/client'", JSON.stringify(join(process.cwd(), 'client', 'index.ts')))
      .replace('https://presence.example.com/graphql', `${srv.url}/graphql`);
    const file = join(process.cwd(), '.tmp', `readme-client-snippet-${process.pid}.ts`);
    mkdirSync(join(process.cwd(), '.tmp'), { recursive: true });
    writeFileSync(file, `${page}\n${code}\nenv.presence = presence;\n`); // imports are hoisted above the page
    const env: { token: string; rows?: string[]; presence?: PresenceClient } = { token: await srv.token(a!) };
    const g = globalThis as { __snippet?: unknown; WebSocket?: unknown };
    const hadWebSocket = 'WebSocket' in g;
    g.__snippet = env;
    g.WebSocket ??= WebSocket; // Node 20 has none; a browser's page has its own
    try {
      await import(pathToFileURL(file).href);
      clients.push(env.presence!);
      // At once, while the client is still connecting and reading: a change then must not be lost
      // to the read (a read taken before it says version 0). Generous timeouts: the import compiles.
      await set(b!, 'BUSY');
      await waitFor(() => env.rows?.some((r) => r.startsWith(`${b}: BUSY`)) ?? false, 15_000);
    } finally {
      if (!hadWebSocket) delete g.WebSocket;
      delete g.__snippet;
    }
  });

  it("a browser's offline event drops the socket at once; online reconnects at once, not after the backoff", async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const ws = controllableWebSocket();
    const network = new EventTarget();
    // Backoff delays far longer than the test: only the online event can bring it back in time.
    const { client: A } = connect({ token: await srv.token(a!), webSocketImpl: ws.impl, networkEvents: network, reconnectBaseMs: 60_000 });
    await waitFor(() => A.connection === 'connected' && A.friends.has(b!));
    const online = await set(b!, 'ONLINE');
    await waitFor(() => A.friends.get(b!)?.version === online.version);
    ws.net.offline = true;
    network.dispatchEvent(new Event('offline'));
    await waitFor(() => A.connection === 'reconnecting', 1_000);
    const busy = await set(b!, 'BUSY');
    ws.net.offline = false;
    network.dispatchEvent(new Event('online'));
    await waitFor(() => A.connection === 'connected' && A.friends.get(b!)?.version === busy.version, 2_000);
    expect(ws.since('FriendPresenceChanged')).toEqual([0, online.version]);
  });

  it('reports input as activity (throttled): idle turns the device AWAY, input brings it back, a chosen AWAY holds', async () => {
    const idle = await startApp({ PRESENCE_IDLE_MS: '600', PRESENCE_SWEEP_INTERVAL_MS: '100' });
    try {
      const [a, b] = users('a', 'b');
      await ok(idle.url, AddFriendsDocument, { userId: a!, friendIds: [b!] }, await idle.token('svc', { service: true }));
      const url = `${idle.url}/graphql`;
      const page = new EventTarget(); // a page's document
      const ws = controllableWebSocket();
      const reports = () => ws.sent.filter((m) => m.type === 'subscribe' && m.payload?.operationName === 'ReportActivity').length;
      const { client: A, errors } = connect({
        url,
        token: await idle.token(a!),
        webSocketImpl: ws.impl,
        activityEvents: page,
        activityThrottleMs: 200,
      });
      const { client: B } = connect({ url, token: await idle.token(b!) });
      const seen = (status: PresenceStatus) => B.friends.get(a!)?.status === status;
      await waitFor(() => A.connection === 'connected' && B.connection === 'connected' && seen('ONLINE'));
      page.dispatchEvent(new Event('keydown')); // the first report makes the device one that can idle
      for (let i = 0; i < 20; i++) page.dispatchEvent(new Event('pointermove')); // within the throttle window: dropped
      await waitFor(() => reports() === 1);
      await waitFor(() => seen('AWAY'), 3_000); // no input for 600 ms
      page.dispatchEvent(new Event('pointerdown'));
      await waitFor(() => seen('ONLINE'), 2_000);
      expect(A.me?.status).toBe('ONLINE');

      await A.setStatus('AWAY');
      await waitFor(() => seen('AWAY'));
      await new Promise((r) => setTimeout(r, 250)); // past the throttle window
      page.dispatchEvent(new Event('keydown')); // not reported: the person chose AWAY
      await new Promise((r) => setTimeout(r, 300));
      expect(seen('AWAY')).toBe(true);
      expect(reports()).toBe(2); // the keydown, the pointerdown: the 20 moves fell in the first one's window
      expect(errors).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      clients = [];
      await idle.stop();
    }
  });

  it('a socket that stops answering pings is given up and replaced, and what it missed is read again', async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const ws = controllableWebSocket();
    const { client: A, errors } = connect({ token: await srv.token(a!), webSocketImpl: ws.impl, keepAliveMs: 100, pongTimeoutMs: 300 });
    await waitFor(() => A.connection === 'connected' && A.friends.has(b!));
    ws.freeze();
    await set(b!, 'BUSY'); // sent to the deaf socket: never seen there
    await waitFor(() => status(A, b!) === 'BUSY' && A.connection === 'connected', 5_000);
    expect(ws.sockets).toHaveLength(2);
    expect(errors.map((e) => e.details.closeCode)).toEqual([4499]); // graphql-ws' Terminated
  });

  it('a friend added while connected appears live; one removed while away is gone after the reconnect', async () => {
    const [a, b, c] = users('a', 'b', 'c');
    await befriend(a!, [b!]);
    const ws = controllableWebSocket();
    const { client: A } = connect({ token: await srv.token(a!), webSocketImpl: ws.impl });
    const removed: string[] = [];
    A.onChange((change) => removed.push(...change.removed));
    await waitFor(() => A.connection === 'connected' && A.friends.has(b!));
    await set(c!, 'BUSY');
    await befriend(a!, [c!]);
    await waitFor(() => status(A, c!) === 'BUSY'); // the server announces a new friend's status

    ws.net.offline = true;
    ws.drop();
    await waitFor(() => A.connection === 'reconnecting');
    await ok(srv.url, RemoveFriendsDocument, { userId: a!, friendIds: [c!] }, await srv.token('svc', { service: true }));
    ws.net.offline = false;
    await waitFor(() => A.connection === 'connected' && !A.friends.has(c!));
    expect([...A.friends.keys()]).toEqual([b]);
    expect(removed).toEqual([c]);
  });

  it('a refused token (4401) stops the client with an error and no retry', async () => {
    const ws = controllableWebSocket();
    const { client, errors } = connect({ token: 'not-a-jwt', webSocketImpl: ws.impl });
    let asked = 0;
    const wrongKey = await signToken('another-secret-0123456789abcdef0123456789', 'mallory');
    const second = connect({ getToken: () => (asked++, wrongKey), webSocketImpl: ws.impl });
    await waitFor(() => client.connection === 'failed' && second.client.connection === 'failed');
    for (const [c, errs] of [
      [client, errors],
      [second.client, second.errors],
    ] as const) {
      expect(c.error).toMatchObject({ code: 'UNAUTHORIZED', fatal: true, details: { closeCode: 4401 } });
      expect(errs.map((e) => e.code)).toEqual(['UNAUTHORIZED']);
    }
    await new Promise((r) => setTimeout(r, 500)); // ten base delays: a retrying client would have tried again
    expect(ws.sockets).toHaveLength(2);
    expect(ws.closes).toEqual([4401, 4401]);
    expect(asked).toBe(1);
    await expect(client.setStatus('ONLINE')).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });

  it('refreshes short-lived tokens from getToken and stays live across their expiry (4403)', async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const ws = controllableWebSocket();
    let asked = 0;
    const { client: A, errors } = connect({ getToken: () => (asked++, srv.token(a!, { expiresIn: '2s' })), webSocketImpl: ws.impl });
    await waitFor(() => A.connection === 'connected' && A.friends.has(b!));
    const statuses: PresenceStatus[] = ['ONLINE', 'AWAY', 'BUSY', 'ONLINE'];
    for (const s of statuses) {
      await new Promise((r) => setTimeout(r, 1_000));
      await set(b!, s);
      await waitFor(() => status(A, b!) === s, 3_000);
    }
    const expired = ws.closes.filter((c) => c === 4403).length;
    expect(expired).toBeGreaterThanOrEqual(1); // the server ended expired sockets...
    expect(ws.closes.filter((c) => c !== 4403)).toEqual([]); // ...every reconnect was accepted...
    // ...with the token fetched before exp: one per socket, plus at most one fetched for the next.
    expect(asked).toBeGreaterThanOrEqual(expired + 1);
    expect(asked).toBeLessThanOrEqual(expired + 2);
    expect(errors.filter((e) => e.fatal)).toEqual([]);
    expect(A.connection).toBe('connected');
  });

  it('too many sockets (CloseCodes.TooManyConnections, 4129) is retried with backoff, not fatal: it connects once another closes', async () => {
    const limited = await startApp({ WS_MAX_CONNECTIONS_PER_USER: '1' });
    try {
      const [a] = users('a');
      const url = `${limited.url}/graphql`;
      const first = connect({ url, token: await limited.token(a!) });
      await waitFor(() => first.client.connection === 'connected');
      const ws = controllableWebSocket();
      const second = connect({ url, token: await limited.token(a!), webSocketImpl: ws.impl });
      await waitFor(() => ws.closes.filter((c) => c === CloseCodes.TooManyConnections).length >= 2);
      expect(second.client.connection).toBe('reconnecting');
      expect(second.client.error).toMatchObject({ details: { closeCode: CloseCodes.TooManyConnections } });
      await first.client.close();
      await waitFor(() => second.client.connection === 'connected');
      expect(second.errors).toEqual([]); // never connected before: the state says it, onError stays quiet
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      clients = [];
      await limited.stop();
    }
  });

  it('needs a WebSocket class where there is no global one, and a token', () => {
    const hasGlobal = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function';
    if (!hasGlobal) expect(() => createPresenceClient({ url: srv.url, token: 't' })).toThrow(/webSocketImpl/);
    expect(() => createPresenceClient({ url: srv.url, webSocketImpl: WebSocket })).toThrow(/token/);
    expect(() => createPresenceClient({ url: 'ftp://x', token: 't', webSocketImpl: WebSocket })).toThrow(/http/);
  });

  it('a fixed token that expires ends the client with TOKEN_EXPIRED', async () => {
    const { client, errors } = connect({ token: await srv.token(users('a')[0]!, { expiresIn: '1s' }) });
    await waitFor(() => client.connection === 'failed', 4_000);
    expect(client.error).toMatchObject({ code: 'TOKEN_EXPIRED', details: { closeCode: 4403 } });
    expect(errors.map((e) => e.code)).toEqual(['TOKEN_EXPIRED']);
  });

  it('over HTTP: heartbeats keep the viewer present and friends are polled', async () => {
    const [a, b] = users('a', 'b');
    await befriend(a!, [b!]);
    const { client: A, errors } = connect({
      transport: 'http',
      getToken: () => srv.token(a!),
      heartbeatIntervalMs: 300,
      pollIntervalMs: 150,
    });
    const { client: B } = connect({ token: await srv.token(b!) });
    await waitFor(() => A.connection === 'connected' && A.me?.status === 'ONLINE');
    await waitFor(() => status(B, a!) === 'ONLINE'); // the heartbeat opened A's device session
    await B.setStatus('BUSY');
    await waitFor(() => status(A, b!) === 'BUSY');
    await A.setStatus('AWAY');
    await waitFor(() => status(B, a!) === 'AWAY');
    expect(errors).toEqual([]);
  });

  it('over HTTP: a refused token stops the client; with getToken only after a fresh one is refused too', async () => {
    let requests = 0;
    const fetchImpl: typeof fetch = (input, init) => (requests++, fetch(input, init));
    const fixed = connect({ transport: 'http', token: 'not-a-jwt', fetchImpl });
    let asked = 0;
    const wrongKey = await signToken('another-secret-0123456789abcdef0123456789', 'mallory');
    const refreshing = connect({ transport: 'http', getToken: () => (asked++, wrongKey), fetchImpl });
    await waitFor(() => fixed.client.connection === 'failed' && refreshing.client.connection === 'failed');
    expect(fixed.client.error).toMatchObject({ code: 'UNAUTHORIZED', fatal: true, details: { serverCode: 'UNAUTHENTICATED' } });
    expect(refreshing.client.error).toMatchObject({ code: 'UNAUTHORIZED', fatal: true });
    expect(asked).toBeGreaterThanOrEqual(2); // asked again after the first 401
    const settled = requests;
    await new Promise((r) => setTimeout(r, 300));
    expect(requests).toBe(settled); // nothing retries
    expect(fixed.errors.map((e) => e.code)).toEqual(['UNAUTHORIZED']);
    expect(refreshing.errors.map((e) => e.code)).toEqual(['UNAUTHORIZED']);
  });
});
