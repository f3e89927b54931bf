import { badInput } from '../domain/errors.js';
import { assertIds } from '../domain/ids.js';
import type { PresenceView } from '../domain/visibility.js';
import type { Context } from './context.js';
import { watchPresence, type WatchTarget } from '../realtime/watch.js';
import { builder } from './builder.js';
import { PresenceRef } from './presence.js';

builder.subscriptionType({});

/** The stream for the request's viewer, from explicit dependencies (realtime never sees the context). */
const watch = (ctx: Context, target: WatchTarget) => watchPresence(ctx.watch, ctx.viewer!.userId, target);

const sinceArg = (t: Parameters<Parameters<typeof builder.subscriptionFields>[0]>[0]) =>
  t.arg.float({
    required: false,
    description:
      'Resume: first send the current state of every user shown whose version is above this (0: everyone visible), then live changes, nothing lost or repeated at the seam. Pass the highest version seen before a reconnect.',
  });

/** A version to resume from: a number >= 0 (versions are milliseconds, never negative). */
function checkedSince(since: number | null | undefined): number | null {
  if (since === null || since === undefined) return null;
  if (!Number.isFinite(since) || since < 0) throw badInput('since must be a version: a number >= 0');
  return since;
}

builder.subscriptionFields((t) => ({
  friendPresenceChanged: t.field({
    type: PresenceRef,
    description:
      "An event each time what the viewer may see of a friend's status changes. Friends added while the subscription is open are followed from then on (their current status is sent if it is not OFFLINE); a removed one (or one who hides from the viewer) gets one last event as a stranger reads them (OFFLINE, version 0): forget what you had.",
    authScopes: { user: true },
    args: { since: sinceArg(t) },
    subscribe: (_root, { since }, ctx) => watch(ctx, { kind: 'friends', since: checkedSince(since) }),
    resolve: (event: PresenceView) => event,
  }),
  presenceChanged: t.field({
    type: PresenceRef,
    description: 'The same for an explicit list of users (a chat room), under the same visibility rules and id limits as presence(ids).',
    authScopes: { user: true },
    args: { ids: t.arg.idList({ required: true }), since: sinceArg(t) },
    subscribe: (_root, { ids, since }, ctx) => {
      const list = ids.map(String);
      assertIds(list, ctx.config.maxIds, ctx.config.maxIdLength);
      return watch(ctx, { kind: 'ids', ids: list, since: checkedSince(since) });
    },
    resolve: (event: PresenceView) => event,
  }),
}));
