import type { Visibility } from './config.js';

/**
 * The presence domain: statuses, what is stored per user, and what each viewer is allowed to see.
 * Kept free of GraphQL and Redis so both engines and every transport share one definition.
 */
export const Status = {
  OFFLINE: 0,
  ONLINE: 1,
  AWAY: 2,
  BUSY: 3,
  INVISIBLE: 4,
} as const;
export type StatusName = keyof typeof Status;
export type StatusCode = (typeof Status)[StatusName];
export const statusNames = Object.keys(Status) as StatusName[];
export const statusName = (code: number): StatusName => statusNames[code] ?? 'OFFLINE';

/**
 * A status chosen to hold across devices until changed (BUSY, INVISIBLE); 0 when none. It is
 * kept while the user is offline, so a user who went invisible comes back invisible.
 */
export type Sticky = 0 | typeof Status.BUSY | typeof Status.INVISIBLE;

/** What an engine keeps per user: one integer in Redis (see README, "Redis layout"). */
export interface StoredPresence {
  status: StatusCode;
  /**
   * Milliseconds since the Unix epoch of the last change, bumped to stay strictly increasing per
   * user, so it doubles as the user's version. For an offline user it is when they went offline.
   */
  t: number;
  sticky: Sticky;
}

/** Reads the stored integer `t * 32 + stickyBits * 8 + status` (sticky bits: 0 none, 1 BUSY, 2 INVISIBLE; written by Lua). */
export function decodeRecord(v: number): StoredPresence {
  const status = (v % 8) as StatusCode;
  const bits = Math.floor(v / 8) % 4;
  return { status, t: Math.floor(v / 32), sticky: bits === 1 ? Status.BUSY : bits === 2 ? Status.INVISIBLE : 0 };
}

/**
 * One device session of a user. A socket session lives while the instance `owner` holds the
 * socket; a deadline session (an HTTP client's heartbeat, or the grace period after a socket
 * closed) lives until `expiresAt`. `status` is the device's own activity: ONLINE or AWAY.
 */
export type Session =
  | { kind: 'socket'; status: typeof Status.ONLINE | typeof Status.AWAY; owner: string }
  | { kind: 'deadline'; status: typeof Status.ONLINE | typeof Status.AWAY; expiresAt: number };

/**
 * The multi-device rule: OFFLINE without a live session; otherwise a sticky BUSY or INVISIBLE
 * wins; otherwise ONLINE if any device is ONLINE, else AWAY.
 */
export function effectiveStatus(sessions: Iterable<Session>, sticky: Sticky): StatusCode {
  let present = false;
  for (const s of sessions) {
    present = true;
    if (s.status === Status.ONLINE && !sticky) return Status.ONLINE;
  }
  if (!present) return Status.OFFLINE;
  return sticky || Status.AWAY;
}

/** One state change, as published to the user's channel. */
export interface PresenceChange {
  userId: string;
  prev: StatusCode;
  status: StatusCode;
  t: number;
}

/**
 * The record to store after a change to `status`/`sticky`, or null when nothing is to be written.
 * The Redis Lua script implements exactly this; the memory engine calls it directly.
 */
export function nextRecord(prev: StoredPresence | null, status: StatusCode, sticky: Sticky, now: number): StoredPresence | null {
  if (!prev) return status === Status.OFFLINE && !sticky ? null : { status, t: now, sticky };
  if (prev.status === status) return prev.sticky === sticky ? null : { ...prev, sticky };
  // Between OFFLINE and INVISIBLE friends see no change, so the last-active time they see stays the
  // moment the user vanished: the real time would reveal activity while hidden.
  const hidden = (a: StatusCode, b: StatusCode) => a === Status.OFFLINE && b === Status.INVISIBLE;
  const t = hidden(prev.status, status) || hidden(status, prev.status) ? prev.t + 1 : Math.max(now, prev.t + 1);
  return { status, t, sticky };
}

/** How the viewer relates to the user they read. */
export type Relation = 'self' | 'friend' | 'other';

export interface PresenceView {
  userId: string;
  status: StatusName;
  /** ms since epoch; null when unknown or hidden. */
  lastActiveAt: number | null;
  /** Per-user version that only grows; 0 when nothing may be shown. */
  version: number;
}

export const isPresent = (s: StatusCode) => s !== Status.OFFLINE;

/**
 * The one visibility rule. Strangers (under 'friends' visibility) and unknown users read the same:
 * OFFLINE, never active, version 0, so the answer does not reveal whether the account exists.
 * INVISIBLE is INVISIBLE to its owner and OFFLINE (since the moment it was chosen) to everybody else.
 */
export function project(
  userId: string,
  record: StoredPresence | null,
  relation: Relation,
  visibility: Visibility,
  now: number,
): PresenceView {
  if (!record || (relation === 'other' && visibility === 'friends')) {
    return { userId, status: 'OFFLINE', lastActiveAt: null, version: 0 };
  }
  const shown = relation !== 'self' && record.status === Status.INVISIBLE ? Status.OFFLINE : record.status;
  const hidden = record.status === Status.INVISIBLE && relation !== 'self';
  return {
    userId,
    status: statusName(shown),
    lastActiveAt: isPresent(record.status) && !hidden ? now : record.t,
    version: record.t,
  };
}
