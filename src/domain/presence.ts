/**
 * The presence domain: statuses and what is stored per user (status-rule.ts says how a record
 * changes, visibility.ts what each viewer may see of it). Free of GraphQL and Redis, so both engines
 * and every transport share one definition; the Redis engine's Lua takes its numbers from here.
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

/**
 * What a view of a user is made from (visibility.ts project): a stored record, or a change, which
 * carries the user's state after it.
 */
export interface PresenceState {
  status: StatusCode;
  /**
   * Milliseconds since the Unix epoch of the last change others could see, bumped to stay strictly
   * increasing per user, so it doubles as the version everyone but the user reads. For an offline
   * user it is when they went offline; for a hidden one, when they vanished. 0 when the user went
   * invisible before anything was ever shown (others read them as never seen).
   */
  t: number;
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

/** What an engine keeps per user: one integer in Redis (see README, "Redis layout"). */
export interface StoredPresence extends PresenceState {
  sticky: Sticky;
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
 * next visible change. Bounded by the stored integer, `h * 10^15 + t * 32 + ...` < 2^63.
 * @default 9_000
 */
export const MAX_HIDDEN_CHANGES = 9_000;
/**
 * How the stored integer packs a record: `h * 10^hiddenDigits + t * tScale + stickyBits *
 * statusSpan + status`, with a trailing `flagged` mark for a user with settings. Written by the Lua
 * script (engine/redis/scripts.ts builds its constants from these), read by decodeRecord.
 */
export const RecordLayout = {
  /** A status code (0..4) takes the low 3 bits. */
  statusSpan: 8,
  /** `t` sits above the status and the 2 sticky bits. */
  tScale: 32,
  /** `h` sits in the decimal digits above the 15 that hold `t * 32 + ...` (t < year 2900). */
  hiddenDigits: 15,
  /** Ends the value of a user with a message or privacy settings (read from their own key). */
  flagged: '+',
} as const;

/** The sticky bits of a record, by sticky status (0: none). */
export const STICKY_BITS = { [Status.BUSY]: 1, [Status.INVISIBLE]: 2 } as const;
const STICKY_OF_BITS: Record<number, Sticky> = { 1: Status.BUSY, 2: Status.INVISIBLE };

/**
 * Reads the stored integer (RecordLayout). Parsed as a decimal string: with `h` it exceeds 2^53.
 */
export function decodeRecord(stored: string): StoredPresence {
  const { statusSpan, tScale, hiddenDigits, flagged: mark } = RecordLayout;
  const flagged = stored.endsWith(mark);
  const raw = flagged ? stored.slice(0, -mark.length) : stored;
  const hidden = raw.length > hiddenDigits;
  const v = Number(hidden ? raw.slice(-hiddenDigits) : raw);
  const status = (v % statusSpan) as StatusCode;
  const bits = Math.floor(v / statusSpan) % (tScale / statusSpan);
  const record: StoredPresence = { status, t: Math.floor(v / tScale), sticky: STICKY_OF_BITS[bits] ?? 0 };
  if (hidden) record.h = Number(raw.slice(0, -hiddenDigits));
  if (flagged) record.x = { v: 0, message: null, nobody: false };
  return record;
}

/** Whether others see the user's message and a live lastActiveAt: present, and not INVISIBLE. */
export const isShown = (s: StatusCode) => s !== Status.OFFLINE && s !== Status.INVISIBLE;

export const isPresent = (s: StatusCode) => s !== Status.OFFLINE;

/**
 * Between OFFLINE and INVISIBLE everyone but the user sees no change (OFFLINE both ways), so such a
 * move must leave everything they can read alone: `t` stays, only the user's own count `h` grows.
 */
export const isHiddenMove = (from: StatusCode, to: StatusCode) =>
  (from === Status.OFFLINE && to === Status.INVISIBLE) || (from === Status.INVISIBLE && to === Status.OFFLINE);

export const sameMessage = (a: StatusMessage | null, b: StatusMessage | null) =>
  a === b || (a !== null && b !== null && a.text === b.text && a.emoji === b.emoji && a.expiresAt === b.expiresAt);
