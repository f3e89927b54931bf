import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';
import type { FriendshipChange } from '../engine/bus.js';
import type { FriendGraph, LoadedPresence, PresenceStore } from '../engine/ports.js';
import type { Metrics } from '../infra/metrics.js';
import { type PresenceChange } from '../domain/status-rule.js';
import { sameMessage } from '../domain/presence.js';
import { project, type PresenceView, type Visibility } from '../domain/visibility.js';
import type { Delivery, Router } from './router.js';

/**
 * Events one subscriber may receive before the oldest unread ones are dropped. graphql-ws reads
 * the stream as fast as the socket accepts, so only a stalled client ever fills it.
 * @default 1_000
 */
const BUFFER = 1_000;

/**
 * One view per routed change, relation, visibility and reciprocity, shared by every subscription
 * of this instance that shows it: the same object reaches each stream, so it is rendered once per
 * selection (src/plugins/render-once.ts). Held weakly: it goes with the change.
 */
const views = new WeakMap<PresenceChange, Map<string, PresenceView>>();
function sharedView(c: PresenceChange, relation: 'self' | 'friend', visibility: Visibility, viewerNobody: boolean): PresenceView {
  let byKey = views.get(c);
  if (!byKey) views.set(c, (byKey = new Map()));
  const key = `${relation}:${visibility}:${viewerNobody ? 1 : 0}`;
  let v = byKey.get(key);
  // An online user's lastActiveAt is the moment of the event: t for a status change, now for one
  // counted in h or v (t is then an earlier moment: when the user vanished, or last changed status).
  const now = c.h || c.x?.v ? Date.now() : c.t;
  // The change carries the user's state after it: the view is made from the change itself.
  if (!v) byKey.set(key, (v = project(c.userId, c, relation, visibility, now, { viewerNobody })));
  return v;
}

/** Whether two views of one user show the same thing (a present user's lastActiveAt is "now" in both). */
const looksSame = (a: PresenceView, b: PresenceView) =>
  a.status === b.status &&
  sameMessage(a.statusMessage, b.statusMessage) &&
  (a.lastActiveAt === null) === (b.lastActiveAt === null) &&
  (a.status !== 'OFFLINE' || a.lastActiveAt === b.lastActiveAt);

/**
 * Whose changes a stream shows. With `since`, it first sends the current state of each of them
 * whose visible version is above `since` (0: everyone visible), then live changes.
 */
export type WatchTarget = ({ kind: 'friends' } | { kind: 'ids'; ids: readonly string[] }) & { since?: number | null };

/** What a subscription needs, and nothing of the request that opened it. */
export interface WatchDeps {
  router: Router;
  /** Reads records as the viewer may (engine PresenceStore.load): a friend added mid-stream. */
  load: PresenceStore['load'];
  /** The viewer's friends, for the state a resumed stream starts with (`since`). */
  friendsOf: FriendGraph['friendsOf'];
  visibility: Visibility;
  metrics: Pick<Metrics, 'subscriptions' | 'delivered' | 'deliveryLag'>;
}

/**
 * The stream behind friendPresenceChanged and presenceChanged: what this viewer may see change,
 * once per visible change, in order, never for a change they may not see.
 *
 * Routing decides who receives what (src/engine/routing.ts): a writer sends a change to the
 * instances of the user's friends and of the user themselves, so a subscription registers its
 * viewer once (router.join) and needs no list of whom to follow. friendPresenceChanged takes
 * every routed change but the viewer's own; presenceChanged(ids) takes those of its ids. Under
 * PRESENCE_VISIBILITY=everyone, presenceChanged(ids) registers an interest in each id instead
 * (router.watch), since strangers are visible too. Friendship changes arrive through the same
 * route: a new friend's current status is sent unless it reads OFFLINE; a removed one is no longer
 * routed here. When the client completes or disconnects, Repeater resolves `stop` and the route is
 * released.
 *
 * Memory per open subscription: the last status sent, per user who changed while it was open.
 */
export function watchPresence(deps: WatchDeps, viewerId: string, target: WatchTarget): AsyncIterable<PresenceView> {
  // Not an async executor awaiting `stop`: a suspended async function holds ~1.2 KB per open
  // subscription (measured); a pending stop.then holds a closure and a promise.
  return new Repeater<PresenceView>((push, stop) => {
    deps.metrics.subscriptions.inc();
    const stream = new PresenceStream(deps, viewerId, target, push, stop);
    return stop.then(() => stream.end());
  }, new SlidingBuffer(BUFFER));
}

/**
 * One open subscription: what it sent, and the steps that must stay in order. Its methods are the
 * router's Delivery; the fields are its only memory (most idle subscriptions never fill the maps).
 */
class PresenceStream implements Delivery {
  private readonly wanted: Set<string> | null;
  /** Under 'everyone', presenceChanged(ids) watches its ids (friends or not); everything else is routed through the viewer. */
  private readonly watching: string[] | null;
  private readonly registered: Promise<void>;
  /** Last view sent per user: filters stale and repeated events, even after a lost one. Created on first use. */
  private shown: Map<string, PresenceView> | undefined;
  /**
   * Friends removed (or who hid from the viewer) while the stream is open: a change routed before
   * (by another instance, so possibly arriving after it) is not shown. Re-adding clears the mark.
   */
  private removed: Set<string> | undefined;
  /** The viewer chose lastActive NOBODY, so reads nobody's lastActiveAt (kept current by their own changes). */
  private viewerNobody = false;
  /** Versions are milliseconds: a user whose version is above this changed while the stream was open. */
  private readonly openedAt = Date.now();
  // A friendship change reads the new friend's record before announcing it; changes arriving
  // meanwhile wait behind it, so events leave in the order they were routed.
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private stopped = false;

  constructor(
    private readonly deps: WatchDeps,
    private readonly viewerId: string,
    target: WatchTarget,
    private readonly push: (view: PresenceView) => Promise<unknown>,
    private readonly stop: (err?: unknown) => unknown,
  ) {
    this.wanted = target.kind === 'ids' ? new Set(target.ids) : null;
    this.watching = deps.visibility === 'everyone' && this.wanted ? [...this.wanted] : null;
    this.registered = this.watching ? deps.router.watch(this.watching, this) : deps.router.join(viewerId, this);
    this.registered.catch((err) => stop(err));
    const since = target.since;
    if (since !== null && since !== undefined) void this.catchUp(since);
    // Without a catch-up, the viewer's own lastActive setting is read once (reciprocity).
    else
      void this.serial(async () => {
        const [self] = await deps.load(viewerId, [viewerId]);
        this.viewerNobody = self?.record?.x?.nobody ?? false;
      });
  }

  /** Whether this subscription shows `userId`'s changes (routing already limits them to visible ones). */
  private shows(userId: string) {
    return this.wanted ? this.wanted.has(userId) : userId !== this.viewerId;
  }

  /**
   * Sends `next` unless it is stale, or shows nothing new: against the last view sent, or, for a
   * user not sent yet, against `before` (null: the view itself is news).
   */
  private emit(userId: string, next: PresenceView, before: PresenceView | null, live: boolean) {
    const last = this.shown?.get(userId);
    if (last && next.version <= last.version) return; // stale or repeated
    const base = last ?? before;
    if (base && looksSame(base, next)) return; // nothing visible changed
    (this.shown ??= new Map()).set(userId, next);
    this.deps.metrics.delivered.inc();
    // A resumed stream's first events carry old versions: they say nothing about delivery lag.
    if (live) this.deps.metrics.deliveryLag.observe(Math.max(0, Date.now() - next.version) / 1000);
    void this.push(next);
  }

  /** What the viewer reads of a record loaded for them (engine PresenceStore.load). */
  private read(userId: string, l: LoadedPresence, now: number) {
    const { visibility } = this.deps;
    const relation = userId === this.viewerId ? 'self' : l.friend || visibility === 'everyone' ? 'friend' : 'other';
    return project(userId, l.record, relation, visibility, now, { hidden: l.hidden ?? false, viewerNobody: this.viewerNobody });
  }

  /** Runs `step` after every step before it; resolves when it is done (never rejects). */
  private serial(step: () => Promise<void> | void): Promise<void> {
    this.queued++;
    this.chain = this.chain
      .then(() => (this.stopped ? undefined : step()))
      .catch((err) => this.stop(err))
      .finally(() => this.queued--);
    return this.chain.then(() => undefined);
  }

  private show(c: PresenceChange) {
    if (c.userId === this.viewerId) this.viewerNobody = c.x?.nobody ?? false;
    if (!this.shows(c.userId) || this.removed?.has(c.userId) || c.hiddenFrom?.includes(this.viewerId)) return;
    // Routed changes are news to whoever receives them: the user's own, or friends' (visible ones only).
    const relation = c.userId === this.viewerId ? 'self' : 'friend';
    this.emit(c.userId, sharedView(c, relation, this.deps.visibility, this.viewerNobody), null, true);
  }

  presence(c: PresenceChange) {
    if (!this.shows(c.userId) && c.userId !== this.viewerId) return;
    if (this.queued > 0) void this.serial(() => this.show(c));
    else this.show(c);
  }

  friendship(change: FriendshipChange) {
    void this.serial(async () => {
      // A former friend (or one who now hides from the viewer) is no longer routed here. The
      // stream says so once, with what the viewer may now read of them: a stranger, version 0,
      // which clients take as "forget what you had" (README, "Realtime").
      for (const id of change.removed) {
        this.shown?.delete(id);
        if (this.removed?.has(id)) continue; // a repeated announcement
        (this.removed ??= new Set()).add(id);
        if (!this.shows(id)) continue;
        this.deps.metrics.delivered.inc();
        void this.push(project(id, null, 'other', this.deps.visibility, Date.now()));
      }
      for (const id of change.added) this.removed?.delete(id);
      const added = change.added.filter((id) => this.shows(id));
      if (added.length === 0) return;
      // The new friend's real status becomes visible: announce it unless it reads OFFLINE.
      const loaded = await this.deps.load(this.viewerId, added);
      const now = Date.now();
      loaded.forEach((l, i) => {
        const id = added[i]!;
        const next = this.read(id, l, now);
        if (next.status !== 'OFFLINE') this.emit(id, next, null, false);
      });
    });
  }

  /** Called by the router after a move or a reconnect. */
  resync() {
    return this.catchUp(this.openedAt, true);
  }

  /**
   * The current state of everyone shown whose version is above `since`, read once the route is
   * live. Live changes wait behind it in the chain and are dropped when not newer, so nothing is
   * lost or repeated at the seam. A user already sent on this stream is sent again only if
   * their status differs from the last one sent. `newFriends`: also anyone not sent yet who is
   * not OFFLINE (a friendship announced while no route led here); their version may repeat one
   * the client read, which clients drop by version.
   */
  private catchUp(since: number, newFriends = false) {
    return this.serial(async () => {
      await this.registered;
      const ids = this.wanted ? [...this.wanted] : await this.deps.friendsOf(this.viewerId);
      const loaded = await this.deps.load(this.viewerId, [...ids, this.viewerId]);
      this.viewerNobody = loaded[ids.length]!.record?.x?.nobody ?? false;
      const now = Date.now();
      ids.forEach((id, i) => {
        if (!this.shows(id) || this.removed?.has(id)) return;
        const current = this.read(id, loaded[i]!, now);
        if (current.version > since || (newFriends && !this.shown?.has(id) && current.status !== 'OFFLINE')) {
          this.emit(id, current, null, false);
        }
      });
    });
  }

  /** The client completed or went away: drops the route once pending steps are done. */
  async end() {
    this.stopped = true;
    await this.chain.catch(() => {});
    if (this.watching) this.deps.router.unwatch(this.watching, this);
    else this.deps.router.leave(this.viewerId, this);
    this.deps.metrics.subscriptions.dec();
  }
}
