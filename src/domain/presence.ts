import type { Visibility } from '../config.js';

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
  /**
   * The status message and privacy settings, for a user who has any (the record is flagged, and
   * they live in a key of their own). Absent for everybody else: they cost nothing.
   */
  x?: Extras;
}

/** A status message as stored: expiresAt in ms since the epoch, null to keep it until cleared. */
export interface StatusMessage {
  text: string;
  emoji: string | null;
  expiresAt: number | null;
}

/** What a user with a status message or privacy settings keeps beside the record. */
export interface Extras {
  /**
   * Changes others can see since `t` that are not status changes (a message while present, a
   * lastActive setting): everyone but the user reads the version `t + v`, so `t`, which is also
   * when an offline user was last active, stays true. Reset by the next visible status change.
   */
  v: number;
  message: StatusMessage | null;
  /** lastActive NOBODY: nobody else reads this user's lastActiveAt, and this user reads nobody's. */
  nobody: boolean;
}

/** How many users one user may hide from (setPrivacy hide). @default 1_000 */
export const MAX_HIDDEN_FROM = 1_000;

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
export function decodeRecord(stored: string): StoredPresence {
  // A trailing '+' flags a user with a message or privacy settings (read from their own key).
  const flagged = stored.endsWith('+');
  const raw = flagged ? stored.slice(0, -1) : stored;
  const hidden = raw.length > HIDDEN_DIGITS;
  const v = Number(hidden ? raw.slice(-HIDDEN_DIGITS) : raw);
  const status = (v % 8) as StatusCode;
  const bits = Math.floor(v / 8) % 4;
  const record: StoredPresence = { status, t: Math.floor(v / 32), sticky: bits === 1 ? Status.BUSY : bits === 2 ? Status.INVISIBLE : 0 };
  if (hidden) record.h = Number(raw.slice(0, -HIDDEN_DIGITS));
  if (flagged) record.x = { v: 0, message: null, nobody: false };
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
  /** The record's `h` after the change (the user's own version is `t + v + h`); absent when 0. */
  h?: number;
  /** The user's message and privacy after the change; absent when they have none. */
  x?: Extras;
  /** 1: only the user may see this change (a hidden move, a message while hidden); routed to them alone. */
  self?: 1;
  /**
   * Under PRESENCE_VISIBILITY=everyone, the viewers the user hides from, for instances that watch
   * the user regardless of friendship (friends are left out when routing instead).
   */
  hiddenFrom?: string[];
}

/**
 * Between OFFLINE and INVISIBLE everyone but the user sees no change (OFFLINE both ways), so such a
 * move must leave everything they can read alone: `t` stays, only the user's own count `h` grows.
 */
export const isHiddenMove = (from: StatusCode, to: StatusCode) =>
  (from === Status.OFFLINE && to === Status.INVISIBLE) || (from === Status.INVISIBLE && to === Status.OFFLINE);

/** Who a change is news to: nobody (0), the user alone (1), everyone who may see the user (2). */
export type Scope = 0 | 1 | 2;

/** The user's message and privacy settings after a change, and whether they hide from anyone. */
export interface Settings {
  message: StatusMessage | null;
  nobody: boolean;
  hides: boolean;
}

export const settingsOf = (record: StoredPresence | null, hides = false): Settings => ({
  message: record?.x?.message ?? null,
  nobody: record?.x?.nobody ?? false,
  hides,
});

const sameMessage = (a: StatusMessage | null, b: StatusMessage | null) =>
  a === b || (a !== null && b !== null && a.text === b.text && a.emoji === b.emoji && a.expiresAt === b.expiresAt);

/** Whether others see the user's message and a live lastActiveAt: present, and not INVISIBLE. */
export const isShown = (s: StatusCode) => s !== Status.OFFLINE && s !== Status.INVISIBLE;

/**
 * The record to store after a change to `status`/`sticky`/`settings`, and who the change is news
 * to. The Redis Lua script implements exactly this; the memory engine calls it directly.
 * - a visible status change: `t` = now, kept above every version anyone has read (`t + v + h`),
 *   `v` = `h` = 0;
 * - a hidden move (OFFLINE <-> INVISIBLE): `t` unchanged, `h` + 1, so friends read nothing new;
 * - a change of message or lastActive that others see: `v` + 1 (`t` stays the moment an offline
 *   user was last active); one that only the user sees (a message while OFFLINE or INVISIBLE): `h` + 1;
 * - going INVISIBLE with no record: `t` = 0, friends keep reading "never seen".
 * `record` is null when nothing is stored (a user never seen, with no settings).
 */
export function nextState(
  prev: StoredPresence | null,
  status: StatusCode,
  sticky: Sticky,
  settings: Settings,
  now: number,
): { record: StoredPresence | null; scope: Scope } {
  const flagged = settings.message !== null || settings.nobody || settings.hides;
  if (!prev && status === Status.OFFLINE && !sticky && !flagged) return { record: null, scope: 0 };
  const prevStatus = prev?.status ?? Status.OFFLINE;
  const msgChanged = !sameMessage(prev?.x?.message ?? null, settings.message);
  const privChanged = (prev?.x?.nobody ?? false) !== settings.nobody;
  let t = prev?.t ?? 0;
  let h = prev?.h ?? 0;
  let v = prev?.x?.v ?? 0;
  let scope: Scope = 0;
  if (status !== prevStatus && !isHiddenMove(prevStatus, status)) {
    t = prev ? Math.max(now, t + v + h + 1) : now;
    h = v = 0;
    scope = 2;
  } else if ((msgChanged && isShown(status)) || (privChanged && (isShown(status) || t > 0))) {
    v++;
    scope = 2;
  } else if (status !== prevStatus || msgChanged || privChanged) {
    h = Math.min(h + 1, MAX_HIDDEN_CHANGES);
    scope = 1;
  }
  const record: StoredPresence = { status, t, sticky };
  if (h) record.h = h;
  if (flagged || v) record.x = { v, message: settings.message, nobody: settings.nobody };
  return { record, scope };
}

/** How the viewer relates to the user they read. */
export type Relation = 'self' | 'friend' | 'other';

export interface PresenceView {
  userId: string;
  status: StatusName;
  /** ms since epoch; null when unknown or hidden. */
  lastActiveAt: number | null;
  /** null when none, expired, or not visible to this viewer. */
  statusMessage: StatusMessage | null;
  /** Per-user version that only grows; 0 when nothing may be shown. */
  version: number;
}

export const isPresent = (s: StatusCode) => s !== Status.OFFLINE;

/** What reading a user depends on beyond the record. */
export interface ViewOptions {
  /** The user hides from this viewer (setPrivacy hide): they read the user as a stranger would. */
  hidden?: boolean;
  /** The viewer chose lastActive NOBODY, and so reads nobody's lastActiveAt (reciprocity). */
  viewerNobody?: boolean;
}

const STRANGER = { status: 'OFFLINE', lastActiveAt: null, statusMessage: null, version: 0 } as const;

/**
 * The one visibility rule. Strangers (under 'friends' visibility), users hiding from the viewer
 * and unknown users read the same: OFFLINE, never active, no message, version 0, so the answer does
 * not reveal whether the account exists. INVISIBLE is INVISIBLE to its owner and OFFLINE (since
 * the moment it was chosen, and without a message) to everybody else. lastActiveAt is null for
 * everybody else when either side chose NOBODY. Only the owner's version counts hidden changes.
 */
export function project(
  userId: string,
  record: StoredPresence | null,
  relation: Relation,
  visibility: Visibility,
  now: number,
  opts: ViewOptions = {},
): PresenceView {
  const own = relation === 'self';
  if (!record || (!own && (opts.hidden || (relation === 'other' && visibility === 'friends')))) return { userId, ...STRANGER };
  const shown = own || isShown(record.status);
  const x = record.x;
  const message = x?.message && (x.message.expiresAt === null || x.message.expiresAt > now) ? x.message : null;
  return {
    userId,
    status: statusName(!own && record.status === Status.INVISIBLE ? Status.OFFLINE : record.status),
    lastActiveAt: !own && (x?.nobody || opts.viewerNobody) ? null : isPresent(record.status) && shown ? now : record.t || null,
    statusMessage: shown ? message : null,
    version: record.t + (x?.v ?? 0) + (own ? (record.h ?? 0) : 0),
  };
}
