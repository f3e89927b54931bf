import type { StatusCode, StatusMessage, StoredPresence } from '../domain/presence.js';
import type { Inbox } from './bus.js';

/** A stored record together with whether its owner counts the viewer as a friend. */
export interface LoadedPresence {
  record: StoredPresence | null;
  /** True when the viewer is in the user's friend set (false when not asked for). */
  friend: boolean;
  /** True when the user hides from the viewer (setPrivacy hide). */
  hidden?: boolean;
}

export interface ChangeResult {
  /** The user's record after the call (null: nothing stored, e.g. never seen or removed by retention). */
  record: StoredPresence | null;
  /** Whether the visible status changed (and an event was published). */
  changed: boolean;
}

/**
 * The device session an operation acts on (src/liveness/device-target.ts decides it): a device,
 * or, for an HTTP client that names none, the user as a whole.
 */
export interface SessionTarget {
  /**
   * null: setPresence(OFFLINE) ends every session of the user; other statuses and reportActivity
   * use the 'default' device (status-rule.ts DEFAULT_DEVICE).
   */
  sessionId: string | null;
  /** The instance holding the device's socket; null for HTTP clients (a deadline session). */
  owner: string | null;
}

/** A socket session as its instance indexes it. */
export interface HeldSession {
  userId: string;
  sessionId: string;
  /** The connection holding it: `<instanceId>:<n>`. */
  owner: string;
  /**
   * The device's own status (ONLINE or AWAY) as last chosen through this connection, if any: a
   * session re-opened after a lost lease comes back with it, not with a default.
   */
  activity?: StatusCode | null;
}

/** A dead instance, claimed for takeover. */
export interface DeadInstance {
  id: string;
  /** The last moment it was known alive (ms); its sessions' grace counts from here. */
  lastAliveMs: number;
}

/**
 * Where a user's changes must go: the instances holding open subscriptions (graphql-ws or SSE) of
 * the viewers who may see them. Written by src/realtime as local subscriptions open and close; read
 * by the engine itself on every write, which then publishes one message per instance inbox.
 */
export interface RouteTable {
  /**
   * This instance holds (`held`) or no longer holds open subscriptions of each viewer: their
   * friends' changes (and their own) are routed to it. Idempotent; one pipeline per Redis node.
   */
  route(instanceId: string, viewerIds: readonly string[], held: boolean): Promise<void>;
  /**
   * This instance wants (or no longer wants) each user's changes regardless of friendship
   * (`presenceChanged(ids)` under visibility 'everyone'). Idempotent.
   */
  watch(instanceId: string, userIds: readonly string[], held: boolean): Promise<void>;
  /** Drops every route and interest of an instance (it died, or changed its id). */
  dropRoutes(instanceId: string): Promise<void>;
}

/** Presence records and device sessions (src/liveness drives them). */
export interface PresenceStore {
  /**
   * Records for `ids`, in their order and length (duplicates allowed), plus friendship with
   * `viewerId` when it is given. One round trip per Redis node per call, however many ids.
   */
  load(viewerId: string | null, ids: readonly string[]): Promise<LoadedPresence[]>;
  /** setPresence: OFFLINE ends the device session (or all); others set it, creating it if needed. */
  setStatus(userId: string, status: StatusCode, target: SessionTarget, ttlMs: number, nowMs: number): Promise<ChangeResult>;
  /**
   * A socket connected: the device's session is held by `owner` (one connection of one instance).
   * Operations that would create a session beyond the user's maximum throw SessionLimitError.
   */
  openSession(userId: string, sessionId: string, owner: string, status: StatusCode | null, nowMs: number): Promise<ChangeResult>;
  /** Re-opens a session under a new owner after a lost lease, unless another connection took it. */
  reopenSession(
    userId: string,
    sessionId: string,
    previousOwner: string,
    owner: string,
    activity: StatusCode | null,
    nowMs: number,
  ): Promise<ChangeResult>;
  /** The socket closed: the session lingers for `graceMs`, then ends (no-op unless `owner` holds it). */
  closeSession(userId: string, sessionId: string, owner: string, graceMs: number, nowMs: number): Promise<ChangeResult>;
  /** Instance `owner` died: end its session at `deadlineMs` (at once if past). */
  takeOverSession(userId: string, sessionId: string, owner: string, deadlineMs: number, nowMs: number): Promise<ChangeResult>;
  /** HTTP heartbeat: keep the device's session alive for `ttlMs` more. */
  heartbeat(userId: string, sessionId: string, ttlMs: number, nowMs: number): Promise<ChangeResult>;
  /** Ends every deadline session that has expired; returns how many users were re-evaluated. */
  sweepDeadlines(nowMs: number): Promise<number>;
  /** Removes records of users offline since before `cutoffMs`; returns how many. */
  sweepRetention(cutoffMs: number, claimMs: number): Promise<number>;
  /** Users present now (exact). */
  onlineCount(): Promise<number>;
  /**
   * reportActivity: a person is at the device (README, "Automatic away and devices"). The device
   * turns ONLINE and reads AWAY once `idleMs` pass without another report (the deadline sweep
   * makes that change by itself). Creates the session like setPresence(ONLINE) when there is none;
   * keeps an HTTP device's session alive for at least `ttlMs` like a heartbeat. A report finding
   * both still a full span away writes nothing (status-rule.ts activitySlackMs).
   */
  reportActivity(userId: string, target: SessionTarget, idleMs: number, ttlMs: number, nowMs: number): Promise<ChangeResult>;
  /** The user's live device sessions, sorted by id, as their owner sees them (one read; nothing written). */
  devices(userId: string, idleMs: number, nowMs: number): Promise<DeviceView[]>;
}

/** One device session, for its owner only (Presence.devices). */
export interface DeviceView {
  deviceId: string;
  /** The device's own status, ONLINE or AWAY, idleness applied. */
  status: StatusCode;
  /** The last activity written (ms); `nowMs` for a device that never reported any. */
  lastActiveAt: number;
  /**
   * 'websocket': held by an open graphql-ws connection. 'http': kept by a deadline, i.e. an HTTP
   * client's heartbeat, or a socket that closed and lingers for the grace period.
   */
  transport: 'websocket' | 'http';
}

/** A user's privacy settings as they chose them. */
export interface Privacy {
  /** lastActive NOBODY. */
  nobody: boolean;
  /** Sorted. */
  hiddenFrom: string[];
}

/** Status messages and privacy: per-user settings, changed atomically with the record they affect. */
export interface SettingsStore {
  /** Sets (or, with null, clears) the user's status message. */
  setMessage(userId: string, message: StatusMessage | null, nowMs: number): Promise<ChangeResult>;
  /**
   * Changes lastActive (when given) and whom the user hides from. Each viewer whose hidden state
   * changed is told what a friendship removal (hide) or addition (unhide) would tell them. Throws
   * HiddenLimitError, storing nothing, past `maxHidden`.
   */
  setPrivacy(
    userId: string,
    change: { nobody?: boolean; hide: readonly string[]; unhide: readonly string[] },
    maxHidden: number,
    nowMs: number,
  ): Promise<ChangeResult>;
  privacy(userId: string): Promise<Privacy>;
}

/** Instance leases and the socket sessions each instance holds (src/liveness). */
export interface InstanceRegistry {
  /** Joins (`register`) or renews the instance's lease; false when it was lost to a takeover. */
  renewLease(instanceId: string, leaseMs: number, register: boolean): Promise<boolean>;
  /** Records that `instanceId` holds (or no longer holds) a socket session, for takeover. */
  trackSession(instanceId: string, session: HeldSession, held: boolean): Promise<void>;
  /** Claims instances other than `self` whose lease expired (or whose previous claimer died). */
  claimDeadInstances(self: string, leaseMs: number, claimMs: number): Promise<DeadInstance[]>;
  /** The socket sessions a (dead) instance held. */
  sessionsOf(instanceId: string): Promise<HeldSession[]>;
  /** Drops a taken-over instance's bookkeeping, its routes included. */
  forgetInstance(instanceId: string): Promise<void>;
}

export interface RateLimiter {
  /**
   * Counts one call against `key` in a fixed window shared by every instance. `allowed` is false
   * once more than `count` calls fell in the current window; `retryAfterMs` is when it ends.
   */
  hit(key: string, count: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }>;
}

export interface FriendGraph {
  /** The user's friends, sorted. */
  friendsOf(userId: string): Promise<string[]>;
  /**
   * Makes each pair mutual friends and routes the change to both sides; returns how many pairs
   * were new. Throws FriendLimitError, storing nothing, when either side would pass the cap.
   */
  addFriends(userId: string, friendIds: readonly string[]): Promise<number>;
  /** Ends each friendship (both directions); returns how many pairs existed. */
  removeFriends(userId: string, friendIds: readonly string[]): Promise<number>;
}

/**
 * The storage seam, as ports named for their jobs. Two implementations: `redis` (the real one, any
 * topology) and `memory` (one process, nothing installed). Both pass the same contract suites
 * (test/contract/: api, subscriptions, liveness and the others).
 *
 * Every per-user operation is atomic. When a user's visible status changes, the engine itself
 * routes the change (RouteTable) to the inbox of every instance holding a viewer who may see it,
 * before the operation resolves. All are idempotent, which makes takeover and sweeping safe to repeat.
 */
export interface PresenceEngine extends PresenceStore, SettingsStore, InstanceRegistry, RateLimiter, FriendGraph, RouteTable {
  readonly kind: 'memory' | 'redis';
  /** Where this instance receives the changes routed to it (src/engine/bus.ts). */
  readonly inbox: Inbox;
  close(): Promise<void>;
}
