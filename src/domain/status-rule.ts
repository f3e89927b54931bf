import {
  isHiddenMove,
  isShown,
  MAX_HIDDEN_CHANGES,
  sameMessage,
  Status,
  type PresenceState,
  type StatusCode,
  type StatusMessage,
  type Sticky,
  type StoredPresence,
} from './presence.js';

/**
 * The status rule: what a user's devices add up to (effectiveStatus), the record a change leaves
 * (nextState) and the change routed to the user's viewers (changeOf).
 */

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

/** The device of an HTTP client that names none (setPresence, reportActivity without deviceId). */
export const DEFAULT_DEVICE = 'default';

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

/**
 * One state change, as routed to the instances of the user's viewers: the user's state after it
 * (what project() reads, so a subscriber's view is made from the change itself), the status
 * before, and who may see it.
 */
export interface PresenceChange extends PresenceState {
  userId: string;
  prev: StatusCode;
  /** 1: only the user may see this change (a hidden move, a message while hidden); routed to them alone. */
  self?: 1;
  /**
   * Under PRESENCE_VISIBILITY=everyone, the viewers the user hides from, for instances that watch
   * the user regardless of friendship (friends are left out when routing instead).
   */
  hiddenFrom?: string[];
}

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

/**
 * The record to store after a change to `status`/`sticky`/`settings`, and who the change is news
 * to. The Redis engine's PRESENCE script implements exactly this (its constants are built from
 * this module's); the memory engine calls it directly; test/contract/status-rule.test.ts runs one
 * table of cases through all three.
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

/** The change to route after `nextState` stored `record` (null when it is news to nobody). */
export function changeOf(userId: string, prev: StatusCode, record: StoredPresence, scope: Scope): PresenceChange | null {
  if (scope === 0) return null;
  const change: PresenceChange = { userId, prev, status: record.status, t: record.t };
  if (record.h) change.h = record.h;
  if (record.x) change.x = record.x;
  if (scope === 1) change.self = 1;
  return change;
}
