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
   * Milliseconds since the Unix epoch of the last change others could see, bumped to stay strictly
   * increasing per user, so it doubles as the version everyone but the user reads. For an offline
   * user it is when they went offline; for a hidden one, when they vanished. 0 when the user went
   * invisible before anything was ever shown (others read them as never seen).
   */
  t: number;
  sticky: Sticky;
  /**
   * Changes since `t` that only the user can see (moving between OFFLINE and INVISIBLE); absent or
   * 0 otherwise. The user's own version is `t + h`, so their own changes still order while `t`,
   * all their friends see, stays put. Capped at MAX_HIDDEN_CHANGES.
   */
  h?: number;
}

/**
 * The most hidden changes counted (`h`): past it the user's own version stops growing until their
 * next visible change. Bounded by the stored integer, `h * HIDDEN_SCALE + t * 32 + ...` < 2^63.
 * @default 9_000
 */
export const MAX_HIDDEN_CHANGES = 9_000;
/** `h` sits in the decimal digits above the 15 that hold `t * 32 + sticky * 8 + status` (t < year 2900). */
const HIDDEN_DIGITS = 15;

/**
 * Reads the stored integer `h * 10^15 + t * 32 + stickyBits * 8 + status` (sticky bits: 0 none,
 * 1 BUSY, 2 INVISIBLE; written by Lua). Parsed as a decimal string: with `h` it exceeds 2^53.
 */
export function decodeRecord(raw: string): StoredPresence {
  const hidden = raw.length > HIDDEN_DIGITS;
  const v = Number(hidden ? raw.slice(-HIDDEN_DIGITS) : raw);
  const status = (v % 8) as StatusCode;
  const bits = Math.floor(v / 8) % 4;
  const record: StoredPresence = { status, t: Math.floor(v / 32), sticky: bits === 1 ? Status.BUSY : bits === 2 ? Status.INVISIBLE : 0 };
  if (hidden) record.h = Number(raw.slice(0, -HIDDEN_DIGITS));
  return record;
}

/**
 * One device session of a user. A socket session lives while the instance `owner` holds the
 * socket; a deadline session (an HTTP client's heartbeat, or the grace period after a socket
 * closed) lives until `expiresAt`. `status` is the device's own activity: ONLINE or AWAY.
 * `idleAt` is set only on a device that reported activity (reportActivity): an ONLINE device reads
 * AWAY from that moment on (automatic away); sessions that never report have none.
 */
export type Session = (
  | { kind: 'socket'; status: typeof Status.ONLINE | typeof Status.AWAY; owner: string }
  | { kind: 'deadline'; status: typeof Status.ONLINE | typeof Status.AWAY; expiresAt: number }
) & { idleAt?: number };

/** A device's own status at `now`: an ONLINE device past its idle moment reads AWAY. */
export const deviceStatus = (s: Session, now: number) =>
  s.status === Status.ONLINE && s.idleAt !== undefined && s.idleAt <= now ? Status.AWAY : s.status;

/**
 * The headroom reportActivity gives the moments it writes (a device's idle moment, an HTTP
 * device's deadline): each is set this much beyond its span (idleMs, the HTTP TTL), and a report
 * finding them still a full span away writes nothing, so one every few seconds costs a read, not a
 * write. A device turns AWAY between idleMs and idleMs + this after its last activity, never
 * earlier. @default span / 10 // 1 min on the 10 min idle default, 4 s on the 40 s HTTP session
 */
export const activitySlackMs = (spanMs: number) => Math.floor(spanMs / 10);

/**
 * The multi-device rule: OFFLINE without a live session; otherwise a sticky BUSY or INVISIBLE
 * wins; otherwise ONLINE if any device is ONLINE (an idle one is AWAY, deviceStatus), else AWAY.
 */
export function effectiveStatus(sessions: Iterable<Session>, sticky: Sticky, now = Date.now()): StatusCode {
  let present = false;
  for (const s of sessions) {
    present = true;
    if (deviceStatus(s, now) === Status.ONLINE && !sticky) return Status.ONLINE;
  }
  if (!present) return Status.OFFLINE;
  return sticky || Status.AWAY;
}

/** One state change, as published to the user's channel. */
export interface PresenceChange {
  userId: string;
  prev: StatusCode;
  status: StatusCode;
  /** The record's `t` after the change (what others read as the version). */
  t: number;
  /** The record's `h` after the change (the user's own version is `t + h`); absent when 0. */
  h?: number;
}

/**
 * Between OFFLINE and INVISIBLE everyone but the user sees no change (OFFLINE both ways), so such a
 * move must leave everything they can read alone: `t` stays, only the user's own count `h` grows.
 */
export const isHiddenMove = (from: StatusCode, to: StatusCode) =>
  (from === Status.OFFLINE && to === Status.INVISIBLE) || (from === Status.INVISIBLE && to === Status.OFFLINE);

/**
 * The record to store after a change to `status`/`sticky`, or null when nothing is to be written.
 * The Redis Lua script implements exactly this; the memory engine calls it directly.
 * - a visible change: `t` = now, kept above every version anyone has read (`t + h` included), h = 0;
 * - a hidden move (OFFLINE <-> INVISIBLE): `t` unchanged, `h` + 1, so friends read nothing new;
 * - going INVISIBLE with no record: `t` = 0, friends keep reading "never seen".
 */
export function nextRecord(prev: StoredPresence | null, status: StatusCode, sticky: Sticky, now: number): StoredPresence | null {
  if (!prev) {
    if (status === Status.OFFLINE && !sticky) return null;
    return status === Status.INVISIBLE ? { status, t: 0, sticky, h: 1 } : { status, t: now, sticky };
  }
  if (prev.status === status) return prev.sticky === sticky ? null : { ...prev, sticky };
  const h = prev.h ?? 0;
  if (isHiddenMove(prev.status, status)) return { status, t: prev.t, sticky, h: Math.min(h + 1, MAX_HIDDEN_CHANGES) };
  return { status, t: Math.max(now, prev.t + h + 1), sticky };
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
 * Only the owner's version counts hidden changes (`t + h`); everybody else reads `t`.
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
  const own = relation === 'self';
  const hidden = record.status === Status.INVISIBLE && !own;
  return {
    userId,
    status: statusName(hidden ? Status.OFFLINE : record.status),
    lastActiveAt: isPresent(record.status) && !hidden ? now : record.t || null,
    version: own ? record.t + (record.h ?? 0) : record.t,
  };
}
