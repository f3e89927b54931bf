import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';
import type { Context } from '../context.js';
import { project, Status, statusName, type PresenceChange, type PresenceView, type StatusCode } from '../presence.js';
import type { BusSubscription, FriendshipChange } from './bus.js';
import type { Followed, Watcher } from './hub.js';

/**
 * Events one subscriber may receive before the oldest unread ones are dropped. graphql-ws reads
 * the stream as fast as the socket accepts, so only a stalled client ever fills it.
 * @default 1_000
 */
const BUFFER = 1_000;

export type WatchTarget = { kind: 'friends' } | { kind: 'ids'; ids: readonly string[] };

/**
 * The stream behind friendPresenceChanged and presenceChanged: what this viewer may see change,
 * once per visible change, in order, never for a change they may not see.
 *
 * Only users whose status the viewer may see are followed (self and friends; everyone under
 * PRESENCE_VISIBILITY=everyone), through the instance's hub; strangers cost nothing. The viewer's
 * own friendship channel keeps that set current while the stream is open. Everything that changes
 * the followed set runs on one serial chain, so a friendship change racing the initial load can
 * neither be lost nor leave a stale follow behind. When the client completes or disconnects,
 * Repeater resolves `stop` and every channel is released.
 *
 * Memory matters here (one of these per open subscription): per followed user it keeps one Set
 * entry, plus the last status sent once that user has changed.
 */
export function watchPresence(ctx: Context, target: WatchTarget): AsyncIterable<PresenceView> {
  const viewerId = ctx.viewer!.userId;
  const { hub, metrics } = ctx;
  const everyone = ctx.config.visibility === 'everyone';

  return new Repeater<PresenceView>(async (push, stop) => {
    metrics.subscriptions.inc();
    const followed = new Set<Followed>();
    /** Last status sent per user (`version * 8 + code`): filters repeats, even after a lost event. */
    const shown = new Map<Followed, number>();
    const wanted = target.kind === 'ids' ? new Set(target.ids) : null;
    let stopped = false;

    // Followed users are self or friends (or anyone under 'everyone', where a friend and a
    // stranger read the same), so 'friend' is the right relation for everyone but the viewer.
    // An online user's lastActiveAt is the moment of the event: t, or now for a hidden move (h > 0),
    // whose t is the moment the user vanished (only the user sees such an event).
    const view = (userId: string, status: StatusCode, t: number, h = 0) =>
      project(userId, { status, t, sticky: 0, h }, userId === viewerId ? 'self' : 'friend', ctx.config.visibility, h ? Date.now() : t);

    const emit = (f: Followed, next: PresenceView, before: PresenceView['status']) => {
      const last = shown.get(f);
      if (last !== undefined && next.version <= Math.floor(last / 8)) return; // stale or repeated
      if ((last === undefined ? before : statusName(last % 8)) === next.status) return; // nothing visible changed
      shown.set(f, next.version * 8 + Status[next.status]);
      metrics.delivered.inc();
      metrics.deliveryLag.observe(Math.max(0, Date.now() - next.version) / 1000);
      void push(next);
    };

    const watcher: Watcher = {
      onChange: (c: PresenceChange, f: Followed) => emit(f, view(c.userId, c.status, c.t, c.h), view(c.userId, c.prev, c.t).status),
    };
    /** Our entry for `userId`, if we follow them (the hub's entry: its id string is not copied). */
    const mine = (userId: string) => {
      const f = hub.get(userId);
      return f && followed.has(f) ? f : undefined;
    };
    const follow = async (userId: string) => {
      if (stopped) return;
      const { followed: f, ready } = hub.follow(userId, watcher);
      followed.add(f);
      await ready.catch((err) => stop(err));
    };
    const unfollow = (f: Followed) => {
      followed.delete(f);
      shown.delete(f);
      hub.unfollow(f, watcher);
    };

    let chain: Promise<unknown> = Promise.resolve();
    const serial = (step: () => Promise<void>) => {
      chain = chain.then(() => (stopped ? undefined : step())).catch((err) => stop(err));
    };

    const onFriendship = (change: FriendshipChange) =>
      serial(async () => {
        for (const id of change.removed) {
          const f = mine(id);
          // A former friend is simply no longer followed; their status reads OFFLINE from now on.
          if (f && id !== viewerId) unfollow(f);
        }
        const added = change.added.filter((id) => (!wanted || wanted.has(id)) && !mine(id));
        if (added.length === 0) return;
        await Promise.all(added.map(follow));
        // The new friend's real status becomes visible: announce it unless it reads OFFLINE.
        const loaded = await ctx.engine.load(viewerId, added);
        loaded.forEach((l, i) => {
          const f = mine(added[i]!);
          if (f && l.record) emit(f, view(added[i]!, l.record.status, l.record.t), 'OFFLINE');
        });
      });

    // Friendship channel first, then the initial set: a change in between is queued, not lost.
    const friendship: Promise<BusSubscription> | null = everyone ? null : hub.friendship(viewerId, onFriendship);
    serial(async () => {
      await friendship;
      let ids: string[];
      if (target.kind === 'friends') {
        ids = await ctx.engine.friendsOf(viewerId);
      } else {
        const unique = [...new Set(target.ids)];
        const loaded = everyone ? null : await ctx.engine.load(viewerId, unique);
        ids = unique.filter((id, i) => !loaded || id === viewerId || loaded[i]!.friend);
      }
      await Promise.all(ids.map(follow));
    });

    await stop;
    stopped = true;
    await chain.catch(() => {});
    for (const f of [...followed]) unfollow(f);
    await friendship?.then((s) => s.release(), () => {});
    metrics.subscriptions.dec();
  }, new SlidingBuffer(BUFFER));
}
