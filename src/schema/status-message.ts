import { checkMessage } from '../domain/status-message-rules.js';
import type { StatusMessage } from '../domain/presence.js';
import { builder } from './builder.js';
import { rateLimit } from './limits.js';
import { PresenceRef } from './presence.js';

const StatusMessageRef = builder.objectRef<StatusMessage>('StatusMessage').implement({
  description: 'A line of text a user shows beside their status, with an optional emoji and expiry.',
  fields: (t) => ({
    text: t.exposeString('text'),
    emoji: t.exposeString('emoji', { nullable: true }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.expiresAt }),
  }),
});

builder.objectField(PresenceRef, 'statusMessage', (t) =>
  t.field({
    type: StatusMessageRef,
    nullable: true,
    description:
      'The status message: null when none, expired, or not visible to this viewer. Others see it while the user is present (ONLINE, AWAY or BUSY), never while OFFLINE or INVISIBLE; the user always sees their own.',
    resolve: (p) => p.statusMessage,
  }),
);

builder.mutationFields((t) => ({
  setStatusMessage: t.field({
    type: PresenceRef,
    description:
      "Sets the caller's status message (text: null clears it) and returns the caller's presence. text: at most 140 characters after NFC normalization, one line, no control characters; emoji: exactly one emoji; expiresAt: in the future and at most 30 days ahead, when the message disappears for everyone. Anything else is BAD_USER_INPUT and stores nothing.",
    authScopes: { user: true },
    args: {
      text: t.arg.string({ required: false }),
      emoji: t.arg.string({ required: false }),
      expiresAt: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const message = checkMessage(args, Date.now());
      await rateLimit(ctx, 'setStatusMessage');
      const id = ctx.viewer!.userId;
      const { record } = await ctx.engine.setMessage(id, message, Date.now());
      return ctx.view(id, { record, friend: false });
    },
  }),
}));
