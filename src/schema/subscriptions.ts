import { assertIds } from '../ids.js';
import type { PresenceView } from '../presence.js';
import type { Context } from '../context.js';
import { watchPresence, type WatchTarget } from '../realtime/watch.js';
import { builder } from './builder.js';
import { PresenceRef } from './presence.js';

builder.subscriptionType({});

/** The stream for the request's viewer, from explicit dependencies (realtime never sees the context). */
const watch = (ctx: Context, target: WatchTarget) => watchPresence(ctx.watch, ctx.viewer!.userId, target);

builder.subscriptionFields((t) => ({
  friendPresenceChanged: t.field({
    type: PresenceRef,
    description:
      "An event each time what the viewer may see of a friend's status changes. Friends added while the subscription is open are followed from then on (their current status is sent if it is not OFFLINE); removed ones are dropped silently.",
    authScopes: { user: true },
    subscribe: (_root, _args, ctx) => watch(ctx, { kind: 'friends' }),
    resolve: (event: PresenceView) => event,
  }),
  presenceChanged: t.field({
    type: PresenceRef,
    description: 'The same for an explicit list of users (a chat room), under the same visibility rules and id limits as presence(ids).',
    authScopes: { user: true },
    args: { ids: t.arg.idList({ required: true }) },
    subscribe: (_root, { ids }, ctx) => {
      const list = ids.map(String);
      assertIds(list, ctx.config.maxIds, ctx.config.maxIdLength);
      return watch(ctx, { kind: 'ids', ids: list });
    },
    resolve: (event: PresenceView) => event,
  }),
}));
