import { describe, expect, it } from 'vitest';
import { decodeRecord, MAX_HIDDEN_CHANGES, Status, type StoredPresence } from '../../src/domain/presence.js';
import { effectiveStatus, nextState, settingsOf, type Session } from '../../src/domain/status-rule.js';
import { project } from '../../src/domain/visibility.js';

// The presence rules in isolation (src/domain): the engines and the API suites run them end to end,
// test/contract/status-rule.test.ts checks the Lua against nextState.

const NOW = 1_800_000_000_000;
const none = settingsOf(null);

describe('decodeRecord', () => {
  it('reads status, t and the sticky bits of the stored integer', () => {
    expect(decodeRecord(String(NOW * 32 + 1))).toEqual({ status: Status.ONLINE, t: NOW, sticky: 0 });
    expect(decodeRecord(String(NOW * 32 + 1 * 8 + 3))).toEqual({ status: Status.BUSY, t: NOW, sticky: Status.BUSY });
    expect(decodeRecord(String(NOW * 32 + 2 * 8 + 0))).toEqual({ status: Status.OFFLINE, t: NOW, sticky: Status.INVISIBLE });
  });

  it('reads hidden changes from the digits above 15, past 2^53, and the flag of a user with settings', () => {
    const low = String(NOW * 32 + 2 * 8 + 4).padStart(15, '0');
    expect(decodeRecord(`${MAX_HIDDEN_CHANGES}${low}`)).toEqual({ status: 4, t: NOW, sticky: 4, h: MAX_HIDDEN_CHANGES });
    expect(decodeRecord(`3${'0'.repeat(15)}+`)).toEqual({ status: 0, t: 0, sticky: 0, h: 3, x: { v: 0, message: null, nobody: false } });
  });
});

describe('effectiveStatus', () => {
  const device = (status: 1 | 2, idleAt?: number): Session => ({
    kind: 'deadline',
    status,
    expiresAt: NOW + 1,
    ...(idleAt ? { idleAt } : {}),
  });

  it('is OFFLINE without a session, whatever is sticky', () => {
    expect(effectiveStatus([], Status.INVISIBLE, NOW)).toBe(Status.OFFLINE);
  });

  it('is ONLINE if any device is, AWAY otherwise; a device past its idle moment is AWAY; sticky wins', () => {
    expect(effectiveStatus([device(2), device(1)], 0, NOW)).toBe(Status.ONLINE);
    expect(effectiveStatus([device(2), device(1, NOW)], 0, NOW)).toBe(Status.AWAY);
    expect(effectiveStatus([device(1, NOW + 1)], 0, NOW)).toBe(Status.ONLINE);
    expect(effectiveStatus([device(1)], Status.BUSY, NOW)).toBe(Status.BUSY);
  });
});

describe('nextState', () => {
  const online: StoredPresence = { status: Status.ONLINE, t: NOW, sticky: 0 };

  it('stores nothing for a user never seen who stays OFFLINE with no settings', () => {
    expect(nextState(null, Status.OFFLINE, 0, none, NOW)).toEqual({ record: null, scope: 0 });
  });

  it('moves t past every version read on a visible change, even when the clock is behind', () => {
    const prev: StoredPresence = { status: Status.ONLINE, t: NOW, sticky: 0, h: 2, x: { v: 3, message: null, nobody: true } };
    const next = nextState(prev, Status.AWAY, 0, settingsOf(prev), NOW - 5_000);
    expect(next).toEqual({ record: { status: Status.AWAY, t: NOW + 6, sticky: 0, x: { v: 0, message: null, nobody: true } }, scope: 2 });
  });

  it('counts a move between OFFLINE and INVISIBLE for the user alone, up to MAX_HIDDEN_CHANGES', () => {
    const offline: StoredPresence = { status: Status.OFFLINE, t: NOW, sticky: Status.INVISIBLE, h: MAX_HIDDEN_CHANGES };
    expect(nextState(offline, Status.INVISIBLE, Status.INVISIBLE, none, NOW + 10)).toEqual({
      record: { status: Status.INVISIBLE, t: NOW, sticky: Status.INVISIBLE, h: MAX_HIDDEN_CHANGES },
      scope: 1,
    });
  });

  it('tells friends of a message while shown (v), keeps one while OFFLINE or INVISIBLE to the user (h)', () => {
    const message = { text: 'hi', emoji: null, expiresAt: null };
    expect(nextState(online, Status.ONLINE, 0, { ...none, message }, NOW + 10)).toEqual({
      record: { ...online, x: { v: 1, message, nobody: false } },
      scope: 2,
    });
    const invisible: StoredPresence = { status: Status.INVISIBLE, t: NOW, sticky: Status.INVISIBLE };
    expect(nextState(invisible, Status.INVISIBLE, Status.INVISIBLE, { ...none, message }, NOW + 10)).toEqual({
      record: { ...invisible, h: 1, x: { v: 0, message, nobody: false } },
      scope: 1,
    });
  });

  it('going INVISIBLE before ever being seen leaves t at 0: friends keep reading "never seen"', () => {
    expect(nextState(null, Status.INVISIBLE, Status.INVISIBLE, none, NOW)).toEqual({
      record: { status: Status.INVISIBLE, t: 0, sticky: Status.INVISIBLE, h: 1 },
      scope: 1,
    });
  });
});

describe('project (the visibility rule)', () => {
  const message = { text: 'hi', emoji: null, expiresAt: NOW + 1_000 };
  const busy: StoredPresence = { status: Status.BUSY, t: NOW - 60_000, sticky: Status.BUSY, h: 4, x: { v: 2, message, nobody: false } };
  const stranger = { status: 'OFFLINE', lastActiveAt: null, statusMessage: null, version: 0 };

  it('shows a friend the status, now as lastActiveAt, the message and the version without hidden changes', () => {
    expect(project('u', busy, 'friend', 'friends', NOW)).toEqual({
      userId: 'u',
      status: 'BUSY',
      lastActiveAt: NOW,
      statusMessage: message,
      version: NOW - 60_000 + 2,
    });
  });

  it('counts hidden changes in the owner’s version only', () => {
    expect(project('u', busy, 'self', 'friends', NOW).version).toBe(NOW - 60_000 + 2 + 4);
  });

  it('reads strangers, unknown users and users hiding from the viewer alike', () => {
    expect(project('u', busy, 'other', 'friends', NOW)).toEqual({ userId: 'u', ...stranger });
    expect(project('u', null, 'friend', 'friends', NOW)).toEqual({ userId: 'u', ...stranger });
    expect(project('u', busy, 'friend', 'friends', NOW, { hidden: true })).toEqual({ userId: 'u', ...stranger });
    expect(project('u', busy, 'other', 'everyone', NOW).status).toBe('BUSY');
  });

  it('shows INVISIBLE as OFFLINE since the moment it was chosen, without its message, to everyone but its owner', () => {
    const invisible = { ...busy, status: Status.INVISIBLE, sticky: Status.INVISIBLE };
    expect(project('u', invisible, 'friend', 'friends', NOW)).toMatchObject({
      status: 'OFFLINE',
      lastActiveAt: NOW - 60_000,
      statusMessage: null,
    });
    expect(project('u', invisible, 'self', 'friends', NOW)).toMatchObject({
      status: 'INVISIBLE',
      lastActiveAt: NOW,
      statusMessage: message,
    });
  });

  it('hides lastActiveAt when either side chose NOBODY, and a message past its expiry', () => {
    const nobody = { ...busy, x: { ...busy.x!, nobody: true } };
    expect(project('u', nobody, 'friend', 'friends', NOW).lastActiveAt).toBeNull();
    expect(project('u', busy, 'friend', 'friends', NOW, { viewerNobody: true }).lastActiveAt).toBeNull();
    expect(project('u', busy, 'friend', 'friends', message.expiresAt).statusMessage).toBeNull();
  });
});
