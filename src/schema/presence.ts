import { assertId, assertIds } from '../domain/ids.js';
import { Status, statusNames } from '../domain/presence.js';
import { type PresenceView } from '../domain/visibility.js';
import type { Context } from './context.js';
import { deviceTarget } from '../liveness/device-target.js';
import { builder } from './builder.js';
import { limited, rateLimit } from './limits.js';

export const PresenceStatus = builder.enumType('PresenceStatus', {
  description: 'What a user shows. INVISIBLE is seen as INVISIBLE by its owner and as OFFLINE by everybody else.',
  values: Object.fromEntries(statusNames.map((name) => [name, { value: name }])) as {
    [K in (typeof statusNames)[number]]: { value: K };
  },
});

export const PresenceRef = builder.objectRef<PresenceView>('Presence').implement({
  description: 'A user as the viewer is allowed to see them.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    status: t.field({ type: PresenceStatus, resolve: (p) => p.status }),
    lastActiveAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Now while the user is online; when they went offline afterwards; null if unknown or hidden.',
      resolve: (p) => p.lastActiveAt,
    }),
    version: t.float({
      description:
        'Grows with every change of this user (an integer; 0 when nothing may be shown). Drop an event whose version is not above the last one seen, except version 0: nothing may be shown any more (the friendship ended, or the user hides from the viewer), so it replaces what you had.',
      resolve: (p) => p.version,
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: PresenceRef,
    authScopes: { user: true },
    resolve: async (_root, _args, ctx) => {
      const [me] = await ctx.views([ctx.viewer!.userId]);
      return me!;
    },
  }),
  presence: t.field({
    type: [PresenceRef],
    description: 'The presence of each id, in the same order and length (duplicates allowed).',
    authScopes: { user: true },
    args: { ids: t.arg.idList({ required: true }) },
    resolve: async (_root, { ids }, ctx) => {
      const list = ids.map(String);
      assertIds(list, ctx.config.maxIds, ctx.config.maxIdLength);
      return ctx.views(list);
    },
  }),
  onlineCount: t.int({
    description: 'How many users are present now (service tokens only).',
    authScopes: { service: true },
    resolve: (_root, _args, ctx) => ctx.engine.onlineCount(),
  }),
}));

/** A missed heartbeat ends the session like a closed socket: after the TTL, then the grace. */
export const httpSessionMs = (ctx: Context) => ctx.config.liveness.httpTtlMs + ctx.config.liveness.graceMs;

builder.mutationFields((t) => ({
  setPresence: t.field({
    type: PresenceRef,
    description:
      "Sets the caller's status and returns it as the caller sees it. ONLINE and AWAY are the device's own; BUSY and INVISIBLE hold across the user's devices until changed. OFFLINE ends the device's session at once (every session when deviceId is omitted over HTTP). Over HTTP the device's session then lives for the heartbeat TTL.",
    authScopes: { user: true },
    args: {
      status: t.arg({ type: PresenceStatus, required: true }),
      deviceId: t.arg.string({
        required: false,
        description: "The device this status comes from (default: this socket's device over WebSocket).",
      }),
    },
    resolve: async (_root, { status, deviceId }, ctx) => {
      if (deviceId !== null && deviceId !== undefined) assertId(deviceId, ctx.config.maxIdLength, 'deviceId');
      await rateLimit(ctx, 'setPresence');
      const id = ctx.viewer!.userId;
      const { socket, ...target } = deviceTarget(ctx.session, deviceId);
      const { record } = await limited(ctx.engine.setStatus(id, Status[status], target, httpSessionMs(ctx), Date.now()));
      // Remembered on the connection's session, to restore it if the session must be re-opened.
      if (socket && (status === 'ONLINE' || status === 'AWAY')) socket.activity = Status[status];
      return ctx.view(id, { record, friend: false });
    },
  }),
  heartbeat: t.field({
    type: PresenceRef,
    description:
      'Keeps the device session of a client without a socket alive for the configured TTL (PRESENCE_HTTP_TTL_MS); a device that stops sending heartbeats ends like a closed socket.',
    authScopes: { user: true },
    args: { deviceId: t.arg.string({ required: true }) },
    resolve: async (_root, { deviceId }, ctx) => {
      assertId(deviceId, ctx.config.maxIdLength, 'deviceId');
      await rateLimit(ctx, 'heartbeat');
      const id = ctx.viewer!.userId;
      const { record } = await limited(ctx.engine.heartbeat(id, deviceId, httpSessionMs(ctx), Date.now()));
      return ctx.view(id, { record, friend: false });
    },
  }),
}));
