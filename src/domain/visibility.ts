import { isPresent, isShown, Status, statusName, type PresenceState, type StatusMessage, type StatusName } from './presence.js';

/** Who sees a user's real status: their friends, or every authenticated user (PRESENCE_VISIBILITY). */
export type Visibility = 'friends' | 'everyone';

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
  state: PresenceState | null,
  relation: Relation,
  visibility: Visibility,
  now: number,
  opts: ViewOptions = {},
): PresenceView {
  const own = relation === 'self';
  if (!state || (!own && (opts.hidden || (relation === 'other' && visibility === 'friends')))) return { userId, ...STRANGER };
  const shown = own || isShown(state.status);
  const x = state.x;
  const message = x?.message && (x.message.expiresAt === null || x.message.expiresAt > now) ? x.message : null;
  return {
    userId,
    status: statusName(!own && state.status === Status.INVISIBLE ? Status.OFFLINE : state.status),
    lastActiveAt: !own && (x?.nobody || opts.viewerNobody) ? null : isPresent(state.status) && shown ? now : state.t || null,
    statusMessage: shown ? message : null,
    version: state.t + (x?.v ?? 0) + (own ? (state.h ?? 0) : 0),
  };
}
