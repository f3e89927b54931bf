import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';
import type { Context } from '../context.js';
import { project, type PresenceChange, type PresenceView, type StatusCode } from '../presence.js';
import type { BusSubscription, FriendshipChange } from './bus.js';

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
 * PRESENCE_VISIBILITY=everyone), one bus subscription each; strangers cost nothing. The viewer's
 * own friendship channel keeps that set current while the stream is open. Everything that changes
 * the followed set runs on one serial chain, so a friendship change racing the initial load can
 * neither be lost nor leave a stale follow behind. When the client completes or disconnects,
 * Repeater resolves `stop` and every channel is released.
 */
export function watchPresence(ctx: Context, target: WatchTarget): AsyncIterable<PresenceView> {
  const viewerId = ctx.viewer!.userId;
  const { bus } = ctx.engine;
  const everyone = ctx.config.visibility === 'everyone';

  return new Repeater<PresenceView>(async (push, stop) => {
    ctx.metrics.subscriptions.inc();
    const followed = new Map<string, Promise<BusSubscription>>();
    const friends = new Set<string>();
    /** Last status sent per user: filters repeats, including after a lost event. */
    const shown = new Map<string, { status: PresenceView['status']; version: number }>();
    const wanted = target.kind === 'ids' ? new Set(target.ids) : null;
    let stopped = false;

    const view = (userId: string, status: StatusCode, t: number) =>
      project(userId, { status, t, sticky: 0 }, userId === viewerId ? 'self' : friends.has(userId) ? 'friend' : 'other', ctx.config.visibility, t);

    const emit = (next: PresenceView, before: PresenceView['status']) => {
      const last = shown.get(next.userId);
      if (last && next.version <= last.version) return; // stale or repeated
      if ((last?.status ?? before) === next.status) return; // nothing the viewer can see changed
      shown.set(next.userId, { status: next.status, version: next.version });
      ctx.metrics.delivered.inc();
      ctx.metrics.deliveryLag.observe(Math.max(0, Date.now() - next.version) / 1000);
      void push(next);
    };

    const onChange = (c: PresenceChange) => {
      if (!followed.has(c.userId)) return;
      emit(view(c.userId, c.status, c.t), view(c.userId, c.prev, c.t).status);
    };

    const follow = (id: string) => {
      if (stopped || followed.has(id)) return;
      const sub = bus.subscribe('presence', id, onChange);
      followed.set(id, sub);
      sub.catch((err) => stop(err));
    };
    const unfollow = (id: string) => {
      const sub = followed.get(id);
      followed.delete(id);
      shown.delete(id);
      return sub?.then((s) => s.release(), () => {});
    };
    const visibleTo = (id: string) => id === viewerId || everyone || friends.has(id);

    let chain: Promise<unknown> = Promise.resolve();
    const serial = (step: () => Promise<void>) => {
      chain = chain.then(() => (stopped ? undefined : step())).catch((err) => stop(err));
    };

    const onFriendship = (change: FriendshipChange) =>
      serial(async () => {
        const added = change.added.filter((id) => !friends.has(id) && (!wanted || wanted.has(id)));
        for (const id of change.removed) {
          friends.delete(id);
          // A former friend is simply no longer followed; their status reads OFFLINE from now on.
          if (!visibleTo(id)) await unfollow(id);
        }
        if (added.length === 0) return;
        added.forEach((id) => friends.add(id));
        added.forEach(follow);
        // The new friend's real status becomes visible: announce it unless it reads OFFLINE.
        const loaded = await ctx.engine.load(viewerId, added);
        loaded.forEach((l, i) => {
          if (l.record) emit(view(added[i]!, l.record.status, l.record.t), 'OFFLINE');
        });
      });

    // Friendship channel first, then the initial set: a change in between is queued, not lost.
    const friendship = everyone ? null : bus.subscribe('friends', viewerId, onFriendship);
    serial(async () => {
      await friendship;
      if (target.kind === 'friends') {
        const list = await ctx.engine.friendsOf(viewerId);
        list.forEach((id) => friends.add(id));
        list.forEach(follow);
      } else {
        const ids = [...new Set(target.ids)];
        const loaded = everyone ? [] : await ctx.engine.load(viewerId, ids);
        loaded.forEach((l, i) => l.friend && friends.add(ids[i]!));
        ids.filter(visibleTo).forEach(follow);
      }
      await Promise.all(followed.values());
    });

    await stop;
    stopped = true;
    await chain.catch(() => {});
    await Promise.all([...followed.keys()].map(unfollow));
    await friendship?.then((s) => s.release(), () => {});
    ctx.metrics.subscriptions.dec();
  }, new SlidingBuffer(BUFFER));
}
