import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import {
  AddFriendsDocument,
  FriendPresenceChangedDocument,
  FriendsDocument,
  HeartbeatDocument,
  MeDocument,
  PresencesDocument,
  RemoveFriendsDocument,
  SetPresenceDocument,
} from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { engines } from '../helpers/engines.js';
import { userFactory } from '../helpers/users.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

// The API contract of issue #2, run unchanged against every engine.
describe.each(engines)('contract on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  const users = userFactory();
  const as = async (userId: string) => srv.token(userId);
  const befriend = async (userId: string, friendIds: string[]) =>
    ok(srv.url, AddFriendsDocument, { userId, friendIds }, await srv.token('svc', { service: true }));

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    srv = await startApp({ ...engine.env, PRESENCE_MAX_IDS: '50', PRESENCE_MAX_FRIENDS: '5' });
  });
  afterAll(async () => {
    await srv?.stop();
    await teardown?.();
  });

  it('reads a user who never set a status as OFFLINE, never active', async () => {
    const [alice] = users('alice');
    const { me } = await ok(srv.url, MeDocument, {}, await as(alice!));
    expect(me).toEqual({ userId: alice, status: 'OFFLINE', lastActiveAt: null, version: 0 });
  });

  it('setPresence returns the new status as the caller sees it, and me agrees', async () => {
    const [alice] = users('alice');
    const token = await as(alice!);
    const before = Date.now();
    const { setPresence } = await ok(srv.url, SetPresenceDocument, { status: 'BUSY', deviceId: 'phone' }, token);
    expect(setPresence.userId).toBe(alice);
    expect(setPresence.status).toBe('BUSY');
    expect(Date.parse(setPresence.lastActiveAt!)).toBeGreaterThanOrEqual(before - 1);
    expect(setPresence.lastActiveAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(setPresence.version).toBeGreaterThan(0);
    const { me } = await ok(srv.url, MeDocument, {}, token);
    expect(me.status).toBe('BUSY');
    expect(me.version).toBe(setPresence.version);
  });

  it('version grows with every change and stays put when nothing changes', async () => {
    const [alice] = users('alice');
    const token = await as(alice!);
    const versions: number[] = [];
    for (const status of ['ONLINE', 'AWAY', 'ONLINE', 'ONLINE', 'OFFLINE'] as const) {
      versions.push((await ok(srv.url, SetPresenceDocument, { status }, token)).setPresence.version);
    }
    expect(versions[1]).toBeGreaterThan(versions[0]!);
    expect(versions[2]).toBeGreaterThan(versions[1]!);
    expect(versions[3]).toBe(versions[2]);
    expect(versions[4]).toBeGreaterThan(versions[3]!);
  });

  it('presence(ids) answers in the order and length of ids, duplicates included', async () => {
    const [alice, bob, carol, nobody] = users('alice', 'bob', 'carol', 'nobody');
    await befriend(alice!, [bob!, carol!]);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await as(bob!));
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, await as(carol!));
    const ids = [carol!, bob!, nobody!, bob!, alice!, carol!];
    const { presence } = await ok(srv.url, PresencesDocument, { ids }, await as(alice!));
    expect(presence.map((p) => p.userId)).toEqual(ids);
    expect(presence.map((p) => p.status)).toEqual(['AWAY', 'ONLINE', 'OFFLINE', 'ONLINE', 'OFFLINE', 'AWAY']);
    expect(presence[1]).toEqual(presence[3]);
    expect(presence[2]).toEqual({ userId: ids[2], status: 'OFFLINE', lastActiveAt: null, version: 0 });
  });

  it('answers an empty id list with an empty list', async () => {
    const [alice] = users('alice');
    expect((await ok(srv.url, PresencesDocument, { ids: [] }, await as(alice!))).presence).toEqual([]);
  });

  it('hides a non-friend completely: they read exactly like an unknown id', async () => {
    const [alice, stranger, unknown] = users('alice', 'stranger', 'ghost');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await as(stranger!));
    const { presence } = await ok(srv.url, PresencesDocument, { ids: [stranger!, unknown!] }, await as(alice!));
    expect(presence[0]).toEqual({ userId: stranger, status: 'OFFLINE', lastActiveAt: null, version: 0 });
    expect({ ...presence[0], userId: 'x' }).toEqual({ ...presence[1], userId: 'x' });
  });

  it('shows a friend going offline with the moment they left, frozen afterwards', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    const bobToken = await as(bob!);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, bobToken);
    const online = (await ok(srv.url, PresencesDocument, { ids: [bob!] }, await as(alice!))).presence[0]!;
    expect(online.status).toBe('ONLINE');
    expect(Math.abs(Date.parse(online.lastActiveAt!) - Date.now())).toBeLessThan(5_000);

    const { setPresence: left } = await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, bobToken);
    await new Promise((r) => setTimeout(r, 20));
    const seen = (await ok(srv.url, PresencesDocument, { ids: [bob!] }, await as(alice!))).presence[0]!;
    expect(seen.status).toBe('OFFLINE');
    expect(seen.lastActiveAt).toBe(left.lastActiveAt);
    expect(seen.version).toBe(left.version);
  });

  it('shows INVISIBLE to its owner only; friends see OFFLINE since the moment it was chosen', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    const bobToken = await as(bob!);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, bobToken);
    const hidden = (await ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE' }, bobToken)).setPresence;
    expect(hidden.status).toBe('INVISIBLE');
    expect((await ok(srv.url, MeDocument, {}, bobToken)).me.status).toBe('INVISIBLE');

    const seen = (await ok(srv.url, PresencesDocument, { ids: [bob!] }, await as(alice!))).presence[0]!;
    expect(seen.status).toBe('OFFLINE');
    expect(seen.version).toBe(hidden.version);
    const vanishedAt = seen.lastActiveAt;
    expect(vanishedAt).not.toBeNull();

    // Going OFFLINE from INVISIBLE does not reveal activity while hidden.
    await new Promise((r) => setTimeout(r, 20));
    const off = (await ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, bobToken)).setPresence;
    expect(off.version).toBeGreaterThan(hidden.version);
    const after = (await ok(srv.url, FriendsDocument, {}, await as(alice!))).friends[0]!;
    expect(after).toMatchObject({ userId: bob, status: 'OFFLINE' });
    expect(Math.abs(Date.parse(after.lastActiveAt!) - Date.parse(vanishedAt!))).toBeLessThanOrEqual(1);
  });

  it('reveals nothing of a hidden friend: their sessions opening, closing and beating change no read and send no event', async () => {
    // Issue 12, defect 2: each hidden change moved the version and lastActiveAt friends read by 1 ms.
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    await befriend(alice!, [bob!, carol!]);
    const aliceToken = await as(alice!);
    const bobToken = await as(bob!);
    const sockets: Client[] = [];
    try {
      await ok(srv.url, SetPresenceDocument, { status: 'ONLINE', deviceId: 'desk' }, bobToken);
      const vanished = (await ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE', deviceId: 'desk' }, bobToken)).setPresence;
      // Carol was never seen and goes invisible straight away: she must keep reading as never seen.
      await ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE' }, await as(carol!));

      const read = async () => ({
        presence: (await ok(srv.url, PresencesDocument, { ids: [bob!, carol!] }, aliceToken)).presence,
        friends: (await ok(srv.url, FriendsDocument, {}, aliceToken)).friends,
      });
      const seen = await read();
      expect(seen.presence[0]).toMatchObject({ status: 'OFFLINE', version: vanished.version });
      expect(seen.presence[0]!.lastActiveAt).not.toBeNull();
      expect(seen.presence[1]).toEqual({ userId: carol, status: 'OFFLINE', lastActiveAt: null, version: 0 });
      expect(seen.friends.map((f) => f.userId)).toEqual([bob, carol]);

      const routed = srv.app.router.size();
      const watcher = wsClient(srv.url, aliceToken);
      sockets.push(watcher);
      const sub = collect(watcher, FriendPresenceChangedDocument, {});
      await waitFor(() => srv.app.router.size() > routed); // alice's subscription is routed here

      // Bob's hidden life: each step either moves him between INVISIBLE and OFFLINE or changes nothing.
      const bobSees: { status: string; version: number }[] = [];
      const me = async () => bobSees.push((await ok(srv.url, MeDocument, {}, bobToken)).me);
      const device = async (deviceId: string) => {
        const c = wsClient(srv.url, bobToken, { eager: true, deviceId });
        sockets.push(c);
        // Acknowledged only once the socket's session is open.
        await new Promise((resolve) => c.on('connected', resolve));
      };
      const steps: (() => Promise<unknown>)[] = [
        () => ok(srv.url, SetPresenceDocument, { status: 'OFFLINE', deviceId: 'desk' }, bobToken),
        () => ok(srv.url, HeartbeatDocument, { deviceId: 'phone' }, bobToken),
        () => ok(srv.url, HeartbeatDocument, { deviceId: 'phone' }, bobToken),
        () => device('tablet'),
        () => ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, bobToken),
        () => device('laptop'),
        () => ok(srv.url, SetPresenceDocument, { status: 'OFFLINE' }, bobToken),
        () => ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE', deviceId: 'web' }, bobToken),
        () => ok(srv.url, SetPresenceDocument, { status: 'OFFLINE', deviceId: 'web' }, bobToken),
      ];
      for (const step of steps) {
        await step();
        await me();
        expect(await read()).toEqual(seen);
      }
      // Bob himself saw every move, each with a higher version than the last.
      expect(bobSees.map((b) => b.status)).toEqual([
        'OFFLINE',
        'INVISIBLE',
        'INVISIBLE',
        'INVISIBLE',
        'OFFLINE',
        'INVISIBLE',
        'OFFLINE',
        'INVISIBLE',
        'OFFLINE',
      ]);
      bobSees.forEach((b, i) => {
        const prev = i === 0 ? { status: 'INVISIBLE', version: vanished.version } : bobSees[i - 1]!;
        if (b.status === prev.status) expect(b.version).toBe(prev.version);
        else expect(b.version).toBeGreaterThan(prev.version);
      });

      // The first event Alice gets is Bob's next visible change, above everything she read.
      const back = (await ok(srv.url, SetPresenceDocument, { status: 'ONLINE', deviceId: 'desk' }, bobToken)).setPresence;
      expect(back.version).toBeGreaterThan(bobSees.at(-1)!.version);
      await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, await as(carol!));
      const events = (await sub.take(2)).map((e) => e.friendPresenceChanged);
      expect(events.map((e) => [e.userId, e.status])).toEqual([
        [bob, 'ONLINE'],
        [carol, 'AWAY'],
      ]);
      expect(events[0]!.version).toBe(back.version);
      expect(events[0]!.version).toBeGreaterThan(vanished.version);
    } finally {
      await Promise.all(sockets.map((c) => c.dispose()));
    }
  });

  it('friends lists the viewer’s friends, sorted, with what the viewer may see', async () => {
    const [alice, bob, carol, dave] = users('alice', 'bob', 'carol', 'dave');
    await befriend(alice!, [dave!, bob!, carol!]);
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, await as(dave!));
    await ok(srv.url, SetPresenceDocument, { status: 'INVISIBLE' }, await as(carol!));
    const { friends } = await ok(srv.url, FriendsDocument, {}, await as(alice!));
    expect(friends.map((f) => [f.userId, f.status])).toEqual([
      [bob, 'OFFLINE'],
      [carol, 'OFFLINE'],
      [dave, 'BUSY'],
    ]);
    expect(friends[0]!.lastActiveAt).toBeNull();
  });

  it('addFriends makes friendship mutual and counts each new pair once', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    const svc = await srv.token('svc', { service: true });
    const first = await ok(srv.url, AddFriendsDocument, { userId: alice!, friendIds: [bob!, carol!, bob!] }, svc);
    expect(first.addFriends).toBe(2);
    // Already friends from the other side: nothing new.
    expect((await ok(srv.url, AddFriendsDocument, { userId: bob!, friendIds: [alice!] }, svc)).addFriends).toBe(0);
    expect((await ok(srv.url, FriendsDocument, {}, await as(bob!))).friends.map((f) => f.userId)).toEqual([alice]);

    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await as(alice!));
    const bobSees = (await ok(srv.url, PresencesDocument, { ids: [alice!] }, await as(bob!))).presence[0]!;
    expect(bobSees.status).toBe('ONLINE');
  });

  it('addFriends past PRESENCE_MAX_FRIENDS on either side answers LIMIT_EXCEEDED and stores nothing of that call', async () => {
    const [alice, popular, ...others] = users('alice', 'popular', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8');
    const svc = await srv.token('svc', { service: true });
    const friendsOf = async (id: string) => (await ok(srv.url, FriendsDocument, {}, await as(id))).friends.map((f) => f.userId);
    expect((await ok(srv.url, AddFriendsDocument, { userId: alice!, friendIds: others.slice(0, 3) }, svc)).addFriends).toBe(3);

    // 3 + 3 new > 5: refused whole, even the pairs that would fit.
    const over = await request(srv.url, AddFriendsDocument, { userId: alice!, friendIds: others.slice(3, 6) }, svc);
    expect(codes(over)).toEqual(['LIMIT_EXCEEDED']);
    expect(await friendsOf(alice!)).toEqual(others.slice(0, 3).sort());
    for (const f of others.slice(3, 6)) expect(await friendsOf(f)).toEqual([]);

    // Ids already friends do not count again; up to the cap exactly is accepted.
    expect(
      (await ok(srv.url, AddFriendsDocument, { userId: alice!, friendIds: [...others.slice(0, 3), ...others.slice(3, 5)] }, svc))
        .addFriends,
    ).toBe(2);
    expect(await friendsOf(alice!)).toHaveLength(5);

    // The other side counts too: a friend already at the cap refuses a new one.
    const refused = await request(srv.url, AddFriendsDocument, { userId: popular!, friendIds: [others[7]!, alice!] }, svc);
    expect(codes(refused)).toEqual(['LIMIT_EXCEEDED']);
    expect(await friendsOf(popular!)).toEqual([]);
    expect(await friendsOf(others[7]!)).toEqual([]);
  });

  it('removeFriends ends the friendship both ways and hides the status again', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    const svc = await srv.token('svc', { service: true });
    await befriend(alice!, [bob!]);
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, await as(bob!));
    const removed = await ok(srv.url, RemoveFriendsDocument, { userId: bob!, friendIds: [alice!, carol!] }, svc);
    expect(removed.removeFriends).toBe(1);
    expect((await ok(srv.url, FriendsDocument, {}, await as(alice!))).friends).toEqual([]);
    expect((await ok(srv.url, FriendsDocument, {}, await as(bob!))).friends).toEqual([]);
    const seen = (await ok(srv.url, PresencesDocument, { ids: [bob!] }, await as(alice!))).presence[0]!;
    expect(seen).toEqual({ userId: bob, status: 'OFFLINE', lastActiveAt: null, version: 0 });
    expect((await ok(srv.url, RemoveFriendsDocument, { userId: bob!, friendIds: [alice!] }, svc)).removeFriends).toBe(0);
  });

  describe('errors', () => {
    it('refuses friend mutations to user tokens (FORBIDDEN) and to anonymous callers (UNAUTHENTICATED)', async () => {
      const [alice, bob] = users('alice', 'bob');
      const asUser = await request(srv.url, AddFriendsDocument, { userId: alice!, friendIds: [bob!] }, await as(alice!));
      expect(codes(asUser)).toEqual(['FORBIDDEN']);
      const anon = await request(srv.url, RemoveFriendsDocument, { userId: alice!, friendIds: [bob!] });
      expect(codes(anon)).toEqual(['UNAUTHENTICATED']);
      expect((await ok(srv.url, FriendsDocument, {}, await as(alice!))).friends).toEqual([]);
    });

    it('answers every query without a token with UNAUTHENTICATED', async () => {
      for (const [doc, vars] of [
        [MeDocument, {}],
        [PresencesDocument, { ids: ['a'] }],
        [FriendsDocument, {}],
        [SetPresenceDocument, { status: 'ONLINE' }],
      ] as const) {
        const res = await request(srv.url, doc as typeof MeDocument, vars as Record<string, never>);
        expect(codes(res)).toEqual(['UNAUTHENTICATED']);
        expect(res.data ?? null).toBeNull();
      }
    });

    it.each([
      ['an empty id', ['']],
      ['an id over 128 characters', ['x'.repeat(129)]],
      ['an id with a control character', ['bad\u0007id']],
      ['an id with a newline', ['bad\nid']],
      ['an id with a lone surrogate', ['sur\ud800']],
      ['more ids than the maximum', Array.from({ length: 51 }, (_, i) => `u${i}`)],
    ])('rejects %s with BAD_USER_INPUT', async (_name, ids) => {
      const [alice] = users('alice');
      const res = await request(srv.url, PresencesDocument, { ids }, await as(alice!));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(JSON.stringify(res)).not.toMatch(/at .*\.ts:\d+/);
    });

    it('accepts the longest allowed id and exactly the maximum number of ids', async () => {
      const [alice] = users('alice');
      const ids = [...Array.from({ length: 49 }, (_, i) => `u${i}`), 'y'.repeat(128)];
      expect((await ok(srv.url, PresencesDocument, { ids }, await as(alice!))).presence).toHaveLength(50);
    });

    it('rejects bad friend mutations without losing existing friendships', async () => {
      const [alice, bob] = users('alice', 'bob');
      const svc = await srv.token('svc', { service: true });
      await befriend(alice!, [bob!]);
      for (const vars of [
        { userId: alice!, friendIds: [alice!] },
        { userId: alice!, friendIds: [''] },
        { userId: '', friendIds: [bob!] },
        { userId: alice!, friendIds: Array.from({ length: 51 }, (_, i) => `f${i}`) },
      ]) {
        expect(codes(await request(srv.url, AddFriendsDocument, vars, svc))).toEqual(['BAD_USER_INPUT']);
        expect(codes(await request(srv.url, RemoveFriendsDocument, vars, svc))).toEqual(['BAD_USER_INPUT']);
      }
      expect((await ok(srv.url, FriendsDocument, {}, await as(alice!))).friends.map((f) => f.userId)).toEqual([bob]);
    });

    it('rejects a bad deviceId or status and keeps the stored status', async () => {
      const [alice] = users('alice');
      const token = await as(alice!);
      await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, token);
      const badDevice = await request(srv.url, SetPresenceDocument, { status: 'ONLINE', deviceId: 'x\u0000' }, token);
      expect(codes(badDevice)).toEqual(['BAD_USER_INPUT']);
      const badStatus = await request(srv.url, SetPresenceDocument, { status: 'SLEEPING' as 'ONLINE' }, token);
      expect(badStatus.errors?.length).toBe(1);
      expect(badStatus.status).toBe(400);
      expect((await ok(srv.url, MeDocument, {}, token)).me.status).toBe('AWAY');
    });
  });
});
