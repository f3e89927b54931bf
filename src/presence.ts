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

/** What an engine keeps per user: ~26 bytes in Redis (see README, "Redis layout"). */
export interface StoredPresence {
  status: StatusCode;
  /**
   * Milliseconds since the Unix epoch of the last change, bumped to stay strictly increasing per
   * user, so it doubles as the user's version. For an offline user it is when they went offline.
   */
  t: number;
}

/** One state change, as published to the user's channel. */
export interface PresenceChange {
  userId: string;
  prev: StatusCode;
  status: StatusCode;
  t: number;
}

/**
 * The next stored state when `userId` asks for `status`, or null when nothing changes.
 * The Redis Lua script implements exactly this; the memory engine calls it directly.
 */
export function nextPresence(prev: StoredPresence | null, status: StatusCode, now: number): StoredPresence | null {
  if (!prev) return { status, t: now };
  if (prev.status === status) return null;
  // Leaving INVISIBLE for OFFLINE keeps the moment the user vanished as their last-active time:
  // friends saw them go offline then, and the real time would reveal activity while hidden.
  const t = prev.status === Status.INVISIBLE && status === Status.OFFLINE ? prev.t + 1 : Math.max(now, prev.t + 1);
  return { status, t };
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
