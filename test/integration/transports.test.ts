import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddFriendsDocument, FriendPresenceChangedDocument, SetPresenceDocument } from '../generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { collect, waitFor, wsClient, wsUrl } from '../helpers/ws.js';
import { print } from 'graphql';

const secret = new TextEncoder().encode(TEST_SECRET);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('WebSocket authentication', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startApp();
  });
  afterAll(() => srv?.stop());

  /** Opens a raw graphql-ws socket, sends connection_init with `params`, resolves with the close code. */
  const closeCodeFor = (params: Record<string, unknown>) =>
    new Promise<{ code: number; messages: string[] }>((resolve) => {
      const messages: string[] = [];
      const socket = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws');
      socket.on('open', () => {
        socket.send(JSON.stringify({ type: 'connection_init', payload: params }));
      });
      socket.on('message', (m) => {
        messages.push(String(m));
        // Were the connection (wrongly) acknowledged, this subscription would reach a resolver.
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: print(FriendPresenceChangedDocument) } }));
      });
      socket.on('close', (code) => resolve({ code, messages }));
    });

  it.each([
    ['no token', 4401, async () => ({})],
    ['a non-bearer value', 4401, async () => ({ authorization: 'Basic abc' })],
    [
      'a bad signature',
      4401,
      async () => ({
        authorization: `Bearer ${await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('a')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('y'.repeat(40)))}`,
      }),
    ],
    // Expired: worth retrying with a fresh token, so graphql-ws' retryable 4403.
    [
      'an expired token',
      4403,
      async () => ({
        authorization: `Bearer ${await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('a')
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(secret)}`,
      }),
    ],
    // Inside the 5 s clock tolerance jose still accepts it, but it is past exp: no ack then close.
    [
      'a token expired inside the clock tolerance',
      4403,
      async () => ({
        authorization: `Bearer ${await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('a')
          .setExpirationTime(Math.floor(Date.now() / 1000) - 2)
          .sign(secret)}`,
      }),
    ],
    ['an alg:none token', 4401, async () => ({ authorization: `Bearer ${b64({ alg: 'none' })}.${b64({ sub: 'a' })}.` })],
  ])('closes the socket for %s with %i before any operation runs', async (_name, expected, params) => {
    const { code, messages } = await closeCodeFor(await params());
    expect(code).toBe(expected);
    expect(messages).toEqual([]); // no connection_ack, no next, no error from a resolver
    expect(srv.app.router.size()).toBe(0);
  });

  it('codes a bad document on the socket like on HTTP, without HTTP-only extensions', async () => {
    const client = wsClient(srv.url, await srv.token('doc-errors'));
    const run = (query: string) =>
      new Promise<unknown>((resolve) => client.subscribe({ query }, { next: resolve, error: resolve, complete: () => {} }));
    const parse = (await run('subscription {')) as { extensions: Record<string, unknown> }[];
    expect(parse[0]!.extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
    const invalid = (await run('subscription { nope }')) as { extensions: Record<string, unknown> }[];
    expect(invalid[0]!.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
    await client.dispose();
  });

  it('acknowledges a valid token', async () => {
    const client = wsClient(srv.url, await srv.token('alice'));
    const sub = collect(client, FriendPresenceChangedDocument, {});
    await waitFor(() => srv.app.router.size() === 1); // alice's route
    expect(sub.errors).toEqual([]);
    await client.dispose();
    await waitFor(() => srv.app.router.size() === 0);
  });
});

describe('Server-Sent Events', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startApp();
  });
  afterAll(() => srv?.stop());

  it('streams friendPresenceChanged over plain fetch with Accept: text/event-stream', async () => {
    const svc = await srv.token('svc', { service: true });
    await ok(srv.url, AddFriendsDocument, { userId: 'sse-viewer', friendIds: ['sse-friend'] }, svc);
    const abort = new AbortController();
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${await srv.token('sse-viewer')}`,
      },
      body: JSON.stringify({ query: print(FriendPresenceChangedDocument) }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    await waitFor(() => srv.app.router.size() === 1); // an SSE stream is routed like a socket

    const friendToken = await srv.token('sse-friend');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, friendToken);
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, friendToken);

    const reader = res.body!.getReader();
    const events: { status: string }[] = [];
    let text = '';
    while (events.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      const frames = text.split('\n\n');
      text = frames.pop()!;
      for (const frame of frames) {
        const data = frame.split('\n').find((l) => l.startsWith('data:'));
        if (frame.startsWith('event: next') && data) events.push(JSON.parse(data.slice(5)).data.friendPresenceChanged);
      }
    }
    expect(events.map((e) => e.status)).toEqual(['ONLINE', 'BUSY']);
    abort.abort();
    // Closing the HTTP stream releases its route too.
    await waitFor(() => srv.app.router.size() === 0);
  });

  it('refuses an SSE subscription without a token', async () => {
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: print(FriendPresenceChangedDocument) }),
    });
    expect(await res.text()).toContain('UNAUTHENTICATED');
  });
});
