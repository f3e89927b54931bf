import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import {
  AddFriendsDocument,
  PresenceChangedDocument,
  PrivacyDocument,
  ReportActivityDocument,
  RichFriendPresenceChangedDocument,
  RichFriendsDocument,
  RichPresencesDocument,
  SetPresenceDocument,
  SetPrivacyDocument,
  SetStatusMessageDocument,
  type RichPresenceFieldsFragment,
} from '../generated/graphql.js';
import { startApp, type TestServer } from '../helpers/app.js';
import { engines } from '../helpers/engines.js';
import { codes, ok, request } from '../helpers/graphql.js';
import { userFactory } from '../helpers/users.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

type Event = { friendPresenceChanged: RichPresenceFieldsFragment };
const STRANGER = { status: 'OFFLINE', lastActiveAt: null, version: 0, statusMessage: null };

// Issue 13: status messages and privacy, the same on every engine, over real HTTP and WebSockets.
describe.each(engines)('rich presence on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  let fixtureEnv: Record<string, string> = {};
  const users = userFactory();
  const clients: Client[] = [];
  const as = (userId: string) => srv.token(userId);
  const befriend = async (userId: string, friendIds: string[]) =>
    ok(srv.url, AddFriendsDocument, { userId, friendIds }, await srv.token('svc', { service: true }));
  const read = async (viewer: string, ids: string[]) => (await ok(srv.url, RichPresencesDocument, { ids }, await as(viewer))).presence;
  const setStatus = async (userId: string, status: 'ONLINE' | 'AWAY' | 'BUSY' | 'INVISIBLE' | 'OFFLINE') =>
    (await ok(srv.url, SetPresenceDocument, { status }, await as(userId))).setPresence;
  const setMessage = async (userId: string, vars: { text: string | null; emoji?: string | null; expiresAt?: string | null }) =>
    (await ok(srv.url, SetStatusMessageDocument, vars, await as(userId))).setStatusMessage;
  const setPrivacy = async (userId: string, vars: { hide?: string[]; unhide?: string[] }) =>
    (await ok(srv.url, SetPrivacyDocument, vars, await as(userId))).setPrivacy;
  const subscribe = async (viewer: string, since?: number) => {
    const client = wsClient(srv.url, await as(viewer));
    clients.push(client);
    const open = srv.app.router.size();
    const sub = collect<Event, { since?: number }>(client, RichFriendPresenceChangedDocument, since === undefined ? {} : { since });
    await waitFor(() => srv.app.router.size() > open);
    return sub;
  };
  const eventsOf = (sub: { events: Event[] }, userId: string) =>
    sub.events.map((e) => e.friendPresenceChanged).filter((p) => p.userId === userId);

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    fixtureEnv = engine.env;
    srv = await startApp({ ...engine.env, PRESENCE_SWEEP_INTERVAL_MS: '50', PRESENCE_IDLE_MS: '300' });
  });
  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await srv?.stop();
    await teardown?.();
  });

  it('a friend sees a status message appear, expire and disappear, with an event each time; a stranger never does', async () => {
    const [alice, bob, eve] = users('alice', 'bob', 'eve');
    await befriend(alice!, [bob!]);
    await setStatus(bob!, 'ONLINE');
    const sub = await subscribe(alice!);
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const mine = await setMessage(bob!, { text: 'In a meeting', emoji: '📅', expiresAt });
    expect(mine.statusMessage).toEqual({ text: 'In a meeting', emoji: '📅', expiresAt });

    const [shown] = await sub.take(1);
    expect(shown!.friendPresenceChanged).toMatchObject({
      userId: bob,
      status: 'ONLINE',
      statusMessage: { text: 'In a meeting', emoji: '📅', expiresAt },
    });
    const [read1] = await read(alice!, [bob!]);
    expect(read1!.statusMessage).toEqual({ text: 'In a meeting', emoji: '📅', expiresAt });
    expect(read1!.version).toBe(shown!.friendPresenceChanged.version);
    expect((await read(eve!, [bob!]))[0]).toMatchObject(STRANGER);

    // At expiry the server itself clears it and tells friends.
    const [, gone] = await sub.take(2, 5_000);
    expect(gone!.friendPresenceChanged).toMatchObject({ userId: bob, status: 'ONLINE', statusMessage: null });
    expect(gone!.friendPresenceChanged.version).toBeGreaterThan(shown!.friendPresenceChanged.version);
    expect((await read(alice!, [bob!]))[0]!.statusMessage).toBeNull();
    expect((await read(bob!, [bob!]))[0]!.statusMessage).toBeNull();
  });

  it('changing and clearing a message sends friends one event each; setting the same one again sends none', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    await setStatus(bob!, 'BUSY');
    const sub = await subscribe(alice!);
    await setMessage(bob!, { text: 'Heads down' });
    await setMessage(bob!, { text: 'Heads down' });
    await setMessage(bob!, { text: 'Back at 3', emoji: '🕒' });
    await setMessage(bob!, { text: null });
    const events = (await sub.take(3)).map((e) => e.friendPresenceChanged);
    expect(events.map((e) => e.statusMessage?.text ?? null)).toEqual(['Heads down', 'Back at 3', null]);
    expect(events.every((e) => e.status === 'BUSY')).toBe(true);
    expect(new Set(events.map((e) => e.version)).size).toBe(3);
    await setStatus(bob!, 'ONLINE');
    await sub.take(4);
    expect(sub.events).toHaveLength(4);
  });

  it('while OFFLINE or INVISIBLE the message is the user’s own: friends read none and get no event for it', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    await setStatus(bob!, 'INVISIBLE');
    const sub = await subscribe(alice!);
    const before = (await read(alice!, [bob!]))[0]!;
    const own = await setMessage(bob!, { text: 'secret plans' });
    expect(own).toMatchObject({ status: 'INVISIBLE', statusMessage: { text: 'secret plans' } });
    expect((await read(alice!, [bob!]))[0]).toEqual(before);
    // Going visible shows it, in the same event as the status.
    await setStatus(bob!, 'ONLINE');
    const [event] = await sub.take(1);
    expect(event!.friendPresenceChanged).toMatchObject({ status: 'ONLINE', statusMessage: { text: 'secret plans' } });
    expect(eventsOf(sub, bob!)).toHaveLength(1);
  });

  it.each([
    ['a text over 140 characters', { text: 'x'.repeat(141) }],
    ['an empty text', { text: '  ' }],
    ['a newline', { text: 'two\nlines' }],
    ['a bidirectional override', { text: 'abc\u202edef' }],
    ['a lone surrogate', { text: 'a\ud800b' }],
    ['two emoji', { text: 'hi', emoji: '👍👍' }],
    ['a letter as emoji', { text: 'hi', emoji: 'a' }],
    ['an expiry in the past', { text: 'hi', expiresAt: new Date(Date.now() - 1_000).toISOString() }],
    ['an expiry 31 days ahead', { text: 'hi', expiresAt: new Date(Date.now() + 31 * 86_400_000).toISOString() }],
    ['an emoji without a text', { text: null, emoji: '👍' }],
  ])('refuses %s with BAD_USER_INPUT and keeps the stored message', async (_what, vars) => {
    const [bob] = users('bob');
    await setStatus(bob!, 'ONLINE');
    await setMessage(bob!, { text: 'kept', emoji: '✅' });
    const res = await request(srv.url, SetStatusMessageDocument, vars, await as(bob!));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect((await read(bob!, [bob!]))[0]!.statusMessage).toEqual({ text: 'kept', emoji: '✅', expiresAt: null });
  });

  it('counts 140 characters after NFC normalization and takes one emoji of several code points', async () => {
    const [bob] = users('bob');
    const decomposed = 'e\u0301'.repeat(140); // 280 code points, 140 once composed
    const own = await setMessage(bob!, { text: decomposed, emoji: '👩🏽‍💻' });
    expect(own.statusMessage).toEqual({ text: 'é'.repeat(140), emoji: '👩🏽‍💻', expiresAt: null });
  });

  it('lastActive NOBODY hides lastActiveAt from everyone else, and the user reads nobody’s (reciprocity)', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    await befriend(alice!, [bob!, carol!]);
    await setStatus(bob!, 'ONLINE');
    await setStatus(bob!, 'OFFLINE');
    await setStatus(carol!, 'ONLINE');
    const wasActive = (await read(alice!, [bob!]))[0]!.lastActiveAt;
    expect(wasActive).not.toBeNull();
    const sub = await subscribe(alice!);

    expect((await ok(srv.url, SetPrivacyDocument, { lastActive: 'NOBODY' }, await as(bob!))).setPrivacy).toEqual({
      lastActive: 'NOBODY',
      hiddenFrom: [],
    });
    const [event] = await sub.take(1);
    expect(event!.friendPresenceChanged).toMatchObject({ userId: bob, status: 'OFFLINE', lastActiveAt: null });
    expect((await read(alice!, [bob!]))[0]).toMatchObject({ status: 'OFFLINE', lastActiveAt: null });
    // bob himself: his own lastActiveAt yes, nobody else's.
    expect((await read(bob!, [bob!]))[0]!.lastActiveAt).toBe(wasActive);
    await befriend(bob!, [carol!]);
    expect((await read(bob!, [carol!]))[0]).toMatchObject({ status: 'ONLINE', lastActiveAt: null });
    expect((await ok(srv.url, RichFriendsDocument, {}, await as(bob!))).friends.every((f) => f.lastActiveAt === null)).toBe(true);
    expect((await ok(srv.url, PrivacyDocument, {}, await as(bob!))).privacy.lastActive).toBe('NOBODY');

    // Back to FRIENDS: lastActiveAt (still when he went offline) shows again.
    await ok(srv.url, SetPrivacyDocument, { lastActive: 'FRIENDS' }, await as(bob!));
    const [, back] = await sub.take(2);
    expect(back!.friendPresenceChanged.lastActiveAt).toBe(wasActive);
    expect((await read(alice!, [bob!]))[0]!.lastActiveAt).toBe(wasActive);
  });

  it('a NOBODY viewer’s own stream carries nobody’s lastActiveAt', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    await ok(srv.url, SetPrivacyDocument, { lastActive: 'NOBODY' }, await as(alice!));
    const sub = await subscribe(alice!);
    await setStatus(bob!, 'ONLINE');
    await setStatus(bob!, 'OFFLINE');
    const events = (await sub.take(2)).map((e) => e.friendPresenceChanged);
    expect(events.map((e) => [e.status, e.lastActiveAt])).toEqual([
      ['ONLINE', null],
      ['OFFLINE', null],
    ]);
  });

  it('hiddenFrom: the hidden friend reads a stranger in reads and events, other friends as usual; unhide is a friendship addition', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    await befriend(bob!, [alice!, carol!]);
    await setStatus(bob!, 'ONLINE');
    await setMessage(bob!, { text: 'hi all' });
    const aliceSub = await subscribe(alice!);
    const carolSub = await subscribe(carol!);

    const privacy = (await ok(srv.url, SetPrivacyDocument, { hide: [alice!] }, await as(bob!))).setPrivacy;
    expect(privacy).toEqual({ lastActive: 'FRIENDS', hiddenFrom: [alice] });
    expect((await read(alice!, [bob!]))[0]).toMatchObject(STRANGER);
    expect((await ok(srv.url, RichFriendsDocument, {}, await as(alice!))).friends.find((f) => f.userId === bob)).toMatchObject(STRANGER);
    expect((await read(carol!, [bob!]))[0]).toMatchObject({ status: 'ONLINE', statusMessage: { text: 'hi all' } });

    await setStatus(bob!, 'AWAY');
    await setMessage(bob!, { text: 'lunch' });
    const carolEvents = (await carolSub.take(2)).map((e) => e.friendPresenceChanged);
    expect(carolEvents.map((e) => [e.status, e.statusMessage?.text])).toEqual([
      ['AWAY', 'hi all'],
      ['AWAY', 'lunch'],
    ]);
    // Hiding told alice what a removal would: one event reading as a stranger, then nothing.
    expect(eventsOf(aliceSub, bob!)).toEqual([{ userId: bob, ...STRANGER }]);

    // Unhiding tells alice what a new friendship would: bob's current state.
    await ok(srv.url, SetPrivacyDocument, { unhide: [alice!] }, await as(bob!));
    const [, event] = await aliceSub.take(2);
    expect(event!.friendPresenceChanged).toMatchObject({ userId: bob, status: 'AWAY', statusMessage: { text: 'lunch' } });
    expect((await read(alice!, [bob!]))[0]).toMatchObject({ status: 'AWAY', statusMessage: { text: 'lunch' } });
    expect((await ok(srv.url, PrivacyDocument, {}, await as(bob!))).privacy.hiddenFrom).toEqual([]);
  });

  it('refuses hiding from oneself or an id in both lists with BAD_USER_INPUT, storing nothing', async () => {
    const [alice, bob] = users('alice', 'bob');
    const token = await as(bob!);
    expect(codes(await request(srv.url, SetPrivacyDocument, { hide: [bob!] }, token))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await request(srv.url, SetPrivacyDocument, { hide: [alice!], unhide: [alice!] }, token))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await request(srv.url, SetPrivacyDocument, { hide: [''] }, token))).toEqual(['BAD_USER_INPUT']);
    expect((await ok(srv.url, PrivacyDocument, {}, token)).privacy).toEqual({ lastActive: 'FRIENDS', hiddenFrom: [] });
  });

  it('past the most users hidden from, the engine refuses and stores nothing', async () => {
    const [bob, a, b, c] = users('bob', 'a', 'b', 'c');
    await srv.app.engine.setPrivacy(bob!, { hide: [a!, b!], unhide: [] }, 2, Date.now());
    await expect(srv.app.engine.setPrivacy(bob!, { hide: [c!], unhide: [] }, 2, Date.now())).rejects.toThrow(/hidden from too many/);
    expect((await srv.app.engine.privacy(bob!)).hiddenFrom).toEqual([a, b].sort());
    await srv.app.engine.setPrivacy(bob!, { hide: [c!], unhide: [a!] }, 2, Date.now());
    expect((await srv.app.engine.privacy(bob!)).hiddenFrom).toEqual([b, c].sort());
  });

  it('a resumed stream (since) applies every rule: messages, NOBODY and hiddenFrom', async () => {
    const [alice, bob, carol] = users('alice', 'bob', 'carol');
    await befriend(alice!, [bob!, carol!]);
    await setStatus(bob!, 'ONLINE');
    await setMessage(bob!, { text: 'visible' });
    await setStatus(carol!, 'ONLINE');
    await ok(srv.url, SetPrivacyDocument, { hide: [alice!] }, await as(carol!));
    const sub = await subscribe(alice!, 0);
    await waitFor(() => sub.events.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.events.map((e) => e.friendPresenceChanged)).toEqual([
      expect.objectContaining({ userId: bob, status: 'ONLINE', statusMessage: expect.objectContaining({ text: 'visible' }) }),
    ]);
  });

  it('an INVISIBLE user who reports activity, idles and edits a message reveals nothing to friends', async () => {
    const [alice, bob] = users('alice', 'bob');
    await befriend(alice!, [bob!]);
    await setStatus(bob!, 'INVISIBLE');
    const before = (await read(alice!, [bob!]))[0]!;
    const sub = await subscribe(alice!);
    const token = await as(bob!);
    await ok(srv.url, ReportActivityDocument, { deviceId: 'laptop' }, token);
    await setMessage(bob!, { text: 'shh', expiresAt: new Date(Date.now() + 300).toISOString() });
    await new Promise((r) => setTimeout(r, 700)); // past the idle time and the message's expiry
    await ok(srv.url, ReportActivityDocument, { deviceId: 'laptop' }, token);
    await setPrivacy(bob!, { hide: [alice!] });
    await setPrivacy(bob!, { unhide: [alice!] });
    expect((await read(alice!, [bob!]))[0]).toEqual(before);
    // Only the hide says anything, and only what a stranger reads (the unhide: bob reads OFFLINE, not sent).
    expect(eventsOf(sub, bob!)).toEqual([{ userId: bob, ...STRANGER }]);
    expect((await read(bob!, [bob!]))[0]!.status).toBe('INVISIBLE');
  });

  it('retention forgets users offline for long, but never one with settings (a hidden-from list must outlive any absence)', async () => {
    // An app of its own (its own key prefix on the same Redis) whose retention is one second.
    const short = await startApp({
      ...fixtureEnv,
      REDIS_KEY_PREFIX: 'retention-test:',
      PRESENCE_RETENTION_MS: '1000',
      PRESENCE_RETENTION_SCAN_MS: '200',
      PRESENCE_SWEEP_INTERVAL_MS: '50',
    });
    try {
      const [alice, bob, plain] = users('alice', 'bob', 'plain');
      for (const u of [bob!, plain!]) {
        const token = await short.token(u);
        await ok(short.url, SetPresenceDocument, { status: 'ONLINE' }, token);
        await ok(short.url, SetPresenceDocument, { status: 'OFFLINE' }, token);
      }
      await ok(short.url, SetPrivacyDocument, { hide: [alice!] }, await short.token(bob!));
      await waitFor(async () => (await short.app.engine.load(null, [plain!]))[0]!.record === null, 10_000);
      const [bobLoaded] = await short.app.engine.load(alice!, [bob!]);
      expect(bobLoaded!.record).not.toBeNull();
      expect(bobLoaded!.hidden).toBe(true);
      expect((await ok(short.url, PrivacyDocument, {}, await short.token(bob!))).privacy.hiddenFrom).toEqual([alice]);
    } finally {
      await short.stop();
    }
  });

  it('a user with neither message nor settings costs nothing more: their record is not flagged', async () => {
    const [bob] = users('bob');
    await setStatus(bob!, 'ONLINE');
    await setMessage(bob!, { text: 'temp' });
    await setMessage(bob!, { text: null });
    await setStatus(bob!, 'OFFLINE');
    const [loaded] = await srv.app.engine.load(null, [bob!]);
    expect(loaded!.record?.x).toBeUndefined();
  });
});

// Under PRESENCE_VISIBILITY=everyone, strangers watch a user without friendship: hiding still applies.
describe.each(engines.slice(0, 2))('hiddenFrom under visibility everyone on the $name engine', (fixture) => {
  let srv: TestServer;
  let teardown: () => Promise<void>;
  const clients: Client[] = [];

  beforeAll(async () => {
    const engine = await fixture.setup();
    teardown = engine.teardown;
    srv = await startApp({ ...engine.env, PRESENCE_VISIBILITY: 'everyone' });
  });
  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await srv?.stop();
    await teardown?.();
  });

  it('a user hidden from reads and watches a stranger; another watcher sees every change', async () => {
    const watch = async (viewer: string) => {
      const client = wsClient(srv.url, await srv.token(viewer));
      clients.push(client);
      const open = srv.app.router.size();
      const sub = collect<{ presenceChanged: { userId: string; status: string; version: number } }, { ids: string[] }>(
        client,
        PresenceChangedDocument,
        { ids: ['bob'] },
      );
      await waitFor(() => srv.app.router.size() > open);
      return sub;
    };
    const bobToken = await srv.token('bob');
    await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, bobToken);
    await ok(srv.url, SetPrivacyDocument, { hide: ['mallory'] }, bobToken);
    const mallory = await watch('mallory');
    const carol = await watch('carol');
    await ok(srv.url, SetPresenceDocument, { status: 'AWAY' }, bobToken);
    await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, bobToken);
    expect((await carol.take(2)).map((e) => e.presenceChanged.status)).toEqual(['AWAY', 'BUSY']);
    expect(mallory.events).toEqual([]);
    expect((await ok(srv.url, RichPresencesDocument, { ids: ['bob'] }, await srv.token('mallory'))).presence[0]).toMatchObject(STRANGER);
    expect((await ok(srv.url, RichPresencesDocument, { ids: ['bob'] }, await srv.token('carol'))).presence[0]).toMatchObject({
      status: 'BUSY',
    });
  });
});
