import type { PresenceChange, StatusCode, StoredPresence } from '../presence.js';
import type { Bus } from '../realtime/bus.js';

/** A stored record together with whether its owner counts the viewer as a friend. */
export interface LoadedPresence {
  record: StoredPresence | null;
  /** True when the viewer is in the user's friend set (false when not asked for). */
  friend: boolean;
}

export interface SetStatusResult {
  /** The stored state after the call (unchanged when `changed` is false). */
  record: StoredPresence;
  changed: boolean;
}

/**
 * The storage seam. Two implementations: `redis` (the real one, any topology) and `memory`
 * (one process, nothing installed). Both pass the same contract suite (test/contract.test.ts).
 */
export interface PresenceEngine {
  readonly kind: 'memory' | 'redis';
  /** Where this engine's changes are published: subscriptions listen here. */
  readonly bus: Bus;
  /**
   * Records for `ids`, in their order and length (duplicates allowed), plus friendship with
   * `viewerId` when it is given. One round trip to the store per call, however many ids.
   */
  load(viewerId: string | null, ids: readonly string[]): Promise<LoadedPresence[]>;
  /** Atomically applies `nextPresence` and publishes the change when there is one. */
  setStatus(userId: string, status: StatusCode, nowMs: number): Promise<SetStatusResult>;
  /** The user's friends, sorted. */
  friendsOf(userId: string): Promise<string[]>;
  /** Makes each pair mutual friends and publishes the change to both sides; returns how many pairs were new. */
  addFriends(userId: string, friendIds: readonly string[]): Promise<number>;
  /** Ends each friendship (both directions); returns how many pairs existed. */
  removeFriends(userId: string, friendIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

export type { PresenceChange };
