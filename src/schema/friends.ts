import { badInput, ErrorCode, FriendLimitError } from '../domain/errors.js';
import { presenceError } from '../infra/graphql-errors.js';
import { assertId, assertIds } from '../domain/ids.js';
import { builder } from './builder.js';
import { PresenceRef } from './presence.js';

builder.queryFields((t) => ({
  friends: t.field({
    type: [PresenceRef],
    description: "The viewer's friends and what the viewer may see of each, sorted by id.",
    authScopes: { user: true },
    resolve: async (_root, _args, ctx) => {
      return ctx.views(await ctx.engine.friendsOf(ctx.viewer!.userId));
    },
  }),
}));

/** Validates a friendship change and drops repeated ids. */
function friendArgs(userId: string, friendIds: readonly (string | number)[], maxIds: number, maxLength: number) {
  const ids = [...new Set(friendIds.map(String))];
  assertId(userId, maxLength, 'userId');
  assertIds(ids, maxIds, maxLength);
  if (ids.includes(userId)) throw badInput('a user cannot be their own friend');
  return ids;
}

builder.mutationFields((t) => ({
  addFriends: t.int({
    description:
      'Makes userId and each friend mutual friends (service tokens only). Returns how many friendships were created. Past PRESENCE_MAX_FRIENDS on either side: LIMIT_EXCEEDED, and nothing is stored.',
    authScopes: { service: true },
    args: { userId: t.arg.id({ required: true }), friendIds: t.arg.idList({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const ids = friendArgs(String(args.userId), args.friendIds, ctx.config.maxIds, ctx.config.maxIdLength);
      try {
        return await ctx.engine.addFriends(String(args.userId), ids);
      } catch (err) {
        if (err instanceof FriendLimitError) throw presenceError(ErrorCode.LimitExceeded, err.message);
        throw err;
      }
    },
  }),
  removeFriends: t.int({
    description: 'Ends the friendship of userId with each friend (service tokens only). Returns how many were removed.',
    authScopes: { service: true },
    args: { userId: t.arg.id({ required: true }), friendIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.engine.removeFriends(
        String(args.userId),
        friendArgs(String(args.userId), args.friendIds, ctx.config.maxIds, ctx.config.maxIdLength),
      ),
  }),
}));
