import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange, type CombinedError } from '@urql/core';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../../src/infra/auth.js';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  MeDocument,
  PresenceChangedDocument,
  SetPresenceDocument,
  type PresenceFieldsFragment,
  type PresenceStatus,
} from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { ok } from '../helpers/graphql.js';
import { userFactory } from '../helpers/users.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { collect, waitFor, wsClient as helperWsClient, wsUrl } from '../helpers/ws.js';

// Realtime through the two GraphQL clients people actually ship: Apollo Client (GraphQLWsLink)
// and urql (subscriptionExchange forwarding to graphql-ws), against the Redis engine.
describe('real GraphQL clients over graphql-ws', () => {
  let redis: RedisProcess;
  let srv: TestServer;
  let cleanups: (() => unknown)[] = [];
  const users = userFactory();
  const set = async (userId: string, status: PresenceStatus) => ok(srv.url, SetPresenceDocument, { status }, await srv.token(userId));
  const befriend = async (userId: string, friendIds: string[]) =>
    ok(srv.url, AddFriendsDocument, { userId, friendIds }, await srv.token('svc', { service: true }));
  const routed = () => srv.app.router.size();
  /** The friend goes ONLINE then AWAY over HTTP; the client must see exactly that, in order. */
  const expectOnlineThenAway = async (friend: string, events: PresenceFieldsFragment[], errors: unknown[]) => {
    await set(friend, 'ONLINE');
    await set(friend, 'AWAY');
    await waitFor(
      () => events.length >= 2 || errors.length > 0,
      5_000,
      () => JSON.stringify({ events, errors }),
    );
    expect(errors).toEqual([]);
    expect(events.map((e) => [e.userId, e.status])).toEqual([
      [friend, 'ONLINE'],
      [friend, 'AWAY'],
    ]);
    expect(events[1]!.version).toBeGreaterThan(events[0]!.version);
  };
  /** Resolves once `count` subscriptions of this process are routed: they are live (or released). */
  const subscribed = (count: number) =>
    waitFor(
      () => routed() === count,
      5_000,
      () => `routed: ${routed()}`,
    );

  /** A graphql-ws client configured the way the Apollo and urql docs show, recording close codes. */
  const socket = (token: string) => {
    const closes: number[] = [];
    const client = createClient({
      url: wsUrl(srv.url),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (e) => void closes.push((e as { code: number }).code) },
    });
    cleanups.push(() => client.dispose());
    return { client, closes };
  };

  const apollo = (ws: WsClient) => {
    const client = new ApolloClient({
      link: new GraphQLWsLink(ws),
      // Presence has no `id`; userId is its identity.
      cache: new InMemoryCache({ typePolicies: { Presence: { keyFields: ['userId'] } } }),
    });
    cleanups.push(() => client.stop());
    return client;
  };

  const urql = (ws: WsClient) =>
    new UrqlClient({
      url: `${srv.url}/graphql`,
      exchanges: [
        cacheExchange,
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        }),
      ],
    });

  /** A token with the right shape for a real user, signed with a key the server does not know. */
  const forged = (userId: string) => signToken('not-the-server-secret-0123456789abcdef0123', userId);

  beforeAll(async () => {
    redis = await startRedis();
    srv = await startApp({ REDIS_URL: redis.url });
  });
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups = [];
    // Every route a finished test held is released.
    await subscribed(0);
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  describe('Apollo Client 4 with GraphQLWsLink', () => {
    it('runs a mutation and a query over the socket, then streams a friend’s changes in order', async () => {
      const [viewer, friend] = users('apollo-viewer', 'apollo-friend');
      await befriend(viewer!, [friend!]);
      const client = apollo(socket(await srv.token(viewer!)).client);

      // Queries and mutations work over the same link (GraphQLWsLink handles every operation).
      const mutated = await client.mutate({ mutation: SetPresenceDocument, variables: { status: 'BUSY' } });
      expect(mutated.data?.setPresence).toMatchObject({ userId: viewer, status: 'BUSY' });
      const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
      expect(me.data?.me).toMatchObject({ userId: viewer, status: 'BUSY' });

      const events: PresenceFieldsFragment[] = [];
      const errors: unknown[] = [];
      const sub = client.subscribe({ query: FriendPresenceChangedDocument }).subscribe({
        next: (r) => (r.error ? errors.push(r.error) : r.data && events.push(r.data.friendPresenceChanged)),
        error: (e) => errors.push(e),
      });
      cleanups.push(() => sub.unsubscribe());
      await subscribed(1); // the viewer's route

      await expectOnlineThenAway(friend!, events, errors);

      // The subscription result was written to Apollo's normalized cache under the friend's key.
      expect((client.cache.extract() as Record<string, unknown>)[`Presence:{"userId":"${friend}"}`]).toMatchObject({ status: 'AWAY' });

      sub.unsubscribe();
      await subscribed(0); // unsubscribing released the route
    });

    it('a bad token closes the socket with 4401 and no event arrives', async () => {
      const [viewer, control, friend] = users('apollo-bad', 'apollo-control', 'apollo-friend');
      await befriend(friend!, [viewer!, control!]);
      const { client: ws, closes } = socket(await forged(viewer!));
      const client = apollo(ws);

      const events: unknown[] = [];
      const errors: unknown[] = [];
      let completed = false;
      const sub = client.subscribe({ query: FriendPresenceChangedDocument }).subscribe({
        // Apollo 4 reports link errors as a result carrying `error` (then completes).
        next: (r) => (r.error ? errors.push(r.error) : events.push(r.data)),
        error: (e) => errors.push(e),
        complete: () => (completed = true),
      });
      cleanups.push(() => sub.unsubscribe());
      await waitFor(
        () => errors.length > 0,
        5_000,
        () => JSON.stringify({ events, closes }),
      );
      expect(closes).toEqual([4401]);
      expect(String(errors[0])).toContain('4401');
      expect(errors).toHaveLength(1);
      expect(completed).toBe(true);

      // A correctly authenticated friend receives the change; the rejected one never does.
      const good = collect(helperWsClient(srv.url, await srv.token(control!)), FriendPresenceChangedDocument, {});
      cleanups.push(() => good.dispose());
      await subscribed(1);
      await set(friend!, 'ONLINE');
      await good.take(1);
      expect(events).toEqual([]);
    });
  });

  describe('urql with subscriptionExchange → graphql-ws', () => {
    it('streams presenceChanged(ids) for a friend in order', async () => {
      const [viewer, friend] = users('urql-viewer', 'urql-friend');
      await befriend(viewer!, [friend!]);
      const client = urql(socket(await srv.token(viewer!)).client);

      const events: PresenceFieldsFragment[] = [];
      const errors: CombinedError[] = [];
      const sub = client.subscription(PresenceChangedDocument, { ids: [friend!] }).subscribe((r) => {
        if (r.error) errors.push(r.error);
        else if (r.data) events.push(r.data.presenceChanged);
      });
      cleanups.push(() => sub.unsubscribe());
      await subscribed(1); // the viewer's route

      await expectOnlineThenAway(friend!, events, errors);

      sub.unsubscribe();
      await subscribed(0); // unsubscribing released the route
    });

    it('a bad token closes the socket with 4401, surfaces as result.error, and no event arrives', async () => {
      const [viewer, control, friend] = users('urql-bad', 'urql-control', 'urql-friend');
      await befriend(friend!, [viewer!, control!]);
      const { client: ws, closes } = socket(await forged(viewer!));
      const client = urql(ws);

      const events: unknown[] = [];
      const errors: CombinedError[] = [];
      const sub = client.subscription(PresenceChangedDocument, { ids: [friend!] }).subscribe((r) => {
        if (r.error) errors.push(r.error);
        else if (r.data) events.push(r.data);
      });
      cleanups.push(() => sub.unsubscribe());
      await waitFor(
        () => errors.length > 0,
        5_000,
        () => JSON.stringify({ events, closes }),
      );
      expect(closes).toEqual([4401]);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.networkError ?? errors[0]!.graphQLErrors[0]).toBeDefined();

      const good = collect(helperWsClient(srv.url, await srv.token(control!)), PresenceChangedDocument, { ids: [friend!] });
      cleanups.push(() => good.dispose());
      await subscribed(1);
      await set(friend!, 'ONLINE');
      await good.take(1);
      expect(events).toEqual([]);
    });
  });
});
