import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { Client as UrqlClient, cacheExchange, fetchExchange } from '@urql/core';
import { auditServer } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddFriendsDocument, FriendsDocument, MeDocument, SetPresenceDocument, type PresenceStatus } from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { reap } from '../helpers/reaper.js';
import { userFactory } from '../helpers/users.js';
import { waitFor } from '../helpers/ws.js';

// Each client the way its own docs set it up, nothing tuned for Presence but the token: urql's
// default exchanges send queries as GET, Apollo's HttpLink POSTs JSON, the README's graphql-ws
// snippet runs as written, curl reads SSE, and graphql-http's audit checks the HTTP protocol.
describe('GraphQL clients with their defaults', () => {
  let srv: TestServer;
  const users = userFactory();
  const befriend = async (userId: string, friendIds: string[]) =>
    ok(srv.url, AddFriendsDocument, { userId, friendIds }, await srv.token('svc', { service: true }));
  const set = async (userId: string, status: PresenceStatus) => ok(srv.url, SetPresenceDocument, { status }, await srv.token(userId));

  beforeAll(async () => {
    srv = await startApp();
  });
  afterAll(() => srv?.stop());

  it('urql with its default exchanges: queries go as GET and are answered', async () => {
    const [viewer, friend] = users('urql-get-viewer', 'urql-get-friend');
    await befriend(viewer!, [friend!]);
    await set(friend!, 'BUSY');
    const methods: string[] = [];
    const client = new UrqlClient({
      url: `${srv.url}/graphql`,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: { headers: { authorization: `Bearer ${await srv.token(viewer!)}` } },
      // Only observes which method urql chose.
      fetch: (input, init) => (methods.push(init?.method ?? 'GET'), fetch(input, init)),
    });
    const friends = await client.query(FriendsDocument, {}).toPromise();
    expect(friends.error).toBeUndefined();
    expect(friends.data?.friends).toMatchObject([{ userId: friend, status: 'BUSY' }]);
    const me = await client.mutation(SetPresenceDocument, { status: 'AWAY' }).toPromise();
    expect(me.error).toBeUndefined();
    expect(me.data?.setPresence.status).toBe('AWAY');
    expect(methods).toEqual(['GET', 'POST']);
  });

  it('urql without a token gets a coded error, not a CSRF refusal', async () => {
    const client = new UrqlClient({ url: `${srv.url}/graphql`, exchanges: [cacheExchange, fetchExchange] });
    const res = await client.query(MeDocument, {}).toPromise();
    expect(res.error?.graphQLErrors.map((e) => e.extensions['code'])).toEqual(['UNAUTHENTICATED']);
  });

  it("Apollo Client with HttpLink: a query and a mutation over Apollo's default POST", async () => {
    const [viewer] = users('apollo-http');
    const token = await srv.token(viewer!);
    const client = new ApolloClient({
      link: new HttpLink({ uri: `${srv.url}/graphql`, headers: { authorization: `Bearer ${token}` } }),
      cache: new InMemoryCache({ typePolicies: { Presence: { keyFields: ['userId'] } } }),
    });
    const mutated = await client.mutate({ mutation: SetPresenceDocument, variables: { status: 'BUSY' } });
    expect(mutated.data?.setPresence).toMatchObject({ userId: viewer, status: 'BUSY' });
    const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
    expect(me.data?.me).toMatchObject({ userId: viewer, status: 'BUSY' });
    client.stop();
  });

  describe("the README's graphql-ws snippet, run as written", () => {
    // The first ```js block after the marker in README.md, with only its URL pointed at this server.
    const snippet = (() => {
      const readme = readFileSync('README.md', 'utf8');
      const m = /<!-- snippet: graphql-ws -->\s*```js\n([\s\S]*?)```/.exec(readme);
      if (!m) throw new Error('README.md has no graphql-ws snippet');
      return m[1]!;
    })();
    /** Runs the snippet as its own Node process, from the project so its imports resolve. */
    const runSnippet = (token: string) => {
      const dir = join(process.cwd(), '.tmp');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `snippet-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`);
      writeFileSync(file, snippet.replaceAll('ws://127.0.0.1:4000/graphql', `${srv.url.replace('http', 'ws')}/graphql`));
      const proc = reap(
        spawn(process.execPath, [file], { env: { PATH: process.env['PATH'] ?? '', TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      const out = { stdout: '', stderr: '', code: null as number | null };
      proc.stdout!.on('data', (d) => (out.stdout += d));
      proc.stderr!.on('data', (d) => (out.stderr += d));
      proc.on('exit', (code) => (out.code = code));
      return { out, stop: () => proc.kill() };
    };

    it("prints a friend's change", async () => {
      const [viewer, friend] = users('snippet-viewer', 'snippet-friend');
      await befriend(viewer!, [friend!]);
      const run = runSnippet(await srv.token(viewer!));
      try {
        let flip = 0;
        // Flip the friend until the snippet's subscription is live and prints, under the rate limit.
        await waitFor(
          async () => {
            if (run.out.stdout.includes(friend!)) return true;
            if (run.out.code !== null) throw new Error(`snippet exited ${run.out.code}: ${run.out.stderr}`);
            await set(friend!, flip++ % 2 ? 'ONLINE' : 'AWAY');
            await new Promise((r) => setTimeout(r, 600));
            return false;
          },
          10_000,
          () => run.out.stderr,
        );
        expect(JSON.parse(run.out.stdout.split('\n')[0]!)).toMatchObject({ friendPresenceChanged: { userId: friend } });
      } finally {
        run.stop();
      }
    });

    it('stops at once with 4401 on a bad token instead of retrying', async () => {
      const run = runSnippet('not-a-jwt');
      // graphql-ws' default retries would take ~38 s; a fatal close ends it on the first try.
      await waitFor(
        () => run.out.code !== null,
        10_000,
        () => run.out.stderr,
      );
      expect(run.out.code).not.toBe(0);
      expect(run.out.stderr).toContain('closed: 4401 Unauthorized');
      expect(run.out.stderr).not.toMatch(/\n\s+at /);
      expect(run.out.stdout).toBe('');
    });
  });

  it('SSE the way curl reads it: one POST, a text/event-stream of next events', async () => {
    const [viewer, friend] = users('sse-viewer', 'sse-friend');
    await befriend(viewer!, [friend!]);
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${await srv.token(viewer!)}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'subscription { friendPresenceChanged { userId status version } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let text = '';
    const reader = res.body!.getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        text += Buffer.from(value!).toString();
      }
    })();
    let flip = 0;
    await waitFor(
      async () => {
        if (text.includes(friend!)) return true;
        await set(friend!, flip++ % 2 ? 'ONLINE' : 'AWAY');
        await new Promise((r) => setTimeout(r, 600));
        return false;
      },
      10_000,
      () => text,
    );
    ac.abort();
    const event = /event: next\ndata: (.*)\n/.exec(text);
    expect(JSON.parse(event![1]!)).toMatchObject({ data: { friendPresenceChanged: { userId: friend } } });
  });

  it("ends an SSE stream when its token expires, with a last UNAUTHENTICATED 'token expired' event", async () => {
    const [viewer] = users('sse-expiring');
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await srv.token(viewer!, { expiresIn: '2s' })}`,
        accept: 'text/event-stream',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ query: 'subscription { friendPresenceChanged { userId status } }' }),
    });
    expect(res.status).toBe(200);
    // The whole body: it ends by itself once the token expires (the test would time out otherwise).
    const text = await res.text();
    const last = [...text.matchAll(/event: next\ndata: (.*)\n/g)].at(-1)!;
    expect(JSON.parse(last[1]!)).toMatchObject({ errors: [{ message: 'token expired', extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(text).toContain('event: complete');
  });

  it('answers every refusal with a JSON body that carries extensions.code', async () => {
    const url = `${srv.url}/graphql`;
    const json = { 'content-type': 'application/json' };
    const refusals: [string, Promise<Response>, number, string][] = [
      [
        'a mutation over GET',
        fetch(`${url}?query=${encodeURIComponent('mutation { setPresence(status: BUSY) { status } }')}`),
        405,
        'BAD_REQUEST',
      ],
      ['a body that is not JSON', fetch(url, { method: 'POST', headers: json, body: '{bad' }), 400, 'BAD_REQUEST'],
      [
        'an Accept it cannot serve',
        fetch(url, { method: 'POST', headers: { ...json, accept: 'text/xml' }, body: '{"query":"{ __typename }"}' }),
        406,
        'NOT_ACCEPTABLE',
      ],
      [
        'a Content-Type it cannot read',
        fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['a PUT', fetch(url, { method: 'PUT', headers: json, body: '{"query":"{ __typename }"}' }), 405, 'BAD_REQUEST'],
      ['an unknown path', fetch(`${srv.url}/nope`), 404, 'NOT_FOUND'],
      [
        'a bad token',
        fetch(url, { method: 'POST', headers: { ...json, authorization: 'Bearer x' }, body: '{"query":"{ __typename }"}' }),
        401,
        'UNAUTHENTICATED',
      ],
    ];
    for (const [what, pending, status, code] of refusals) {
      const res = await pending;
      expect([what, res.status]).toEqual([what, status]);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect([what, body.errors[0]!.extensions.code]).toEqual([what, code]);
    }
  });

  it('does not echo a body that is not JSON back to its sender', async () => {
    const res = await fetch(`${srv.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{${'x'.repeat(100_000)}`,
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(500);
    expect(JSON.parse(text)).toEqual({ errors: [{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it("passes every MUST of graphql-http's GraphQL-over-HTTP audit", async () => {
    const results = await auditServer({ url: `${srv.url}/graphql`, fetchFn: fetch });
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
    const failedMusts = results.filter((r) => r.status !== 'ok' && r.name.startsWith('MUST'));
    expect(failedMusts.map((r) => `${r.name}: ${'reason' in r ? r.reason : ''}`)).toEqual([]);
  });
});
