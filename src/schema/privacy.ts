import { badInput, ErrorCode, HiddenLimitError } from '../domain/errors.js';
import { presenceError } from '../infra/graphql-errors.js';
import { assertIds } from '../domain/ids.js';
import { MAX_HIDDEN_FROM } from '../domain/presence.js';
import type { Privacy } from '../engine/ports.js';
import type { Context } from './context.js';
import { builder } from './builder.js';
import { rateLimit } from './limits.js';

const LastActiveVisibility = builder.enumType('LastActiveVisibility', {
  description: "Who reads the user's lastActiveAt. NOBODY works both ways: the user then reads nobody else's either.",
  values: { FRIENDS: { value: 'FRIENDS' }, NOBODY: { value: 'NOBODY' } } as const,
});

const PrivacyRef = builder.objectRef<Privacy>('Privacy').implement({
  description: "The viewer's own privacy settings.",
  fields: (t) => ({
    lastActive: t.field({ type: LastActiveVisibility, resolve: (p) => (p.nobody ? 'NOBODY' : 'FRIENDS') }),
    hiddenFrom: t.idList({
      description: 'Users who read the viewer as a stranger would (OFFLINE, no lastActiveAt, no message, version 0), sorted.',
      resolve: (p) => p.hiddenFrom,
    }),
  }),
});

const privacyOf = (ctx: Context) => ctx.engine.privacy(ctx.viewer!.userId);

builder.queryFields((t) => ({
  privacy: t.field({ type: PrivacyRef, authScopes: { user: true }, resolve: (_root, _args, ctx) => privacyOf(ctx) }),
}));

builder.mutationFields((t) => ({
  setPrivacy: t.field({
    type: PrivacyRef,
    description: `Changes lastActive (when given) and whom the caller hides from: a hidden user reads the caller as a stranger would, in reads and events, and is told what a friendship removal (hide) or addition (unhide) would tell them. Ids follow the limits of presence(ids); at most ${MAX_HIDDEN_FROM} users hidden from (LIMIT_EXCEEDED past it, and nothing is stored).`,
    authScopes: { user: true },
    args: {
      lastActive: t.arg({ type: LastActiveVisibility, required: false }),
      hide: t.arg.idList({ required: false }),
      unhide: t.arg.idList({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const id = ctx.viewer!.userId;
      const hide = [...new Set((args.hide ?? []).map(String))];
      const unhide = [...new Set((args.unhide ?? []).map(String))];
      assertIds([...hide, ...unhide], ctx.config.maxIds, ctx.config.maxIdLength);
      if (hide.includes(id) || unhide.includes(id)) throw badInput('a user cannot hide from themselves');
      if (hide.some((h) => unhide.includes(h))) throw badInput('an id cannot be in both hide and unhide');
      await rateLimit(ctx, 'setPrivacy');
      const change = { hide, unhide, ...(args.lastActive ? { nobody: args.lastActive === 'NOBODY' } : {}) };
      try {
        await ctx.engine.setPrivacy(id, change, MAX_HIDDEN_FROM, Date.now());
      } catch (err) {
        if (err instanceof HiddenLimitError) throw presenceError(ErrorCode.LimitExceeded, `at most ${MAX_HIDDEN_FROM} users hidden from`);
        throw err;
      }
      return privacyOf(ctx);
    },
  }),
}));
