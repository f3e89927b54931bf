import { assertId } from '../domain/ids.js';
import { statusName } from '../domain/presence.js';
import { type PresenceView } from '../domain/visibility.js';
import type { DeviceView } from '../engine/ports.js';
import { deviceTarget } from '../liveness/device-target.js';
import { builder } from './builder.js';
import { limited, rateLimit } from './limits.js';
import { httpSessionMs, PresenceRef, PresenceStatus } from './presence.js';

/**
 * Issue 13, automatic away and devices (README, "Automatic away and devices"): a client reports
 * input with reportActivity; a device that reported and then went quiet for PRESENCE_IDLE_MS turns
 * AWAY by itself (the deadline sweep), and the multi-device rule decides what friends see. The
 * viewer reads their own devices on Presence.devices.
 */
const DeviceRef = builder.objectRef<DeviceView>('Device').implement({
  description: "One of the viewer's own device sessions.",
  fields: (t) => ({
    deviceId: t.exposeString('deviceId'),
    status: t.field({
      type: PresenceStatus,
      description: "The device's own status: ONLINE, or AWAY (chosen, or idle for PRESENCE_IDLE_MS after its last reportActivity).",
      resolve: (d) => statusName(d.status),
    }),
    lastActiveAt: t.field({
      type: 'DateTime',
      description:
        'Its last reported activity (to within a tenth of PRESENCE_IDLE_MS: reports that close together are not written); now while it never reported any.',
      resolve: (d) => d.lastActiveAt,
    }),
    transport: t.string({
      description:
        '"websocket": held by an open graphql-ws connection. "http": kept alive by a deadline, i.e. heartbeats or reportActivity over HTTP, or a socket that closed and lingers for the grace period.',
      resolve: (d) => d.transport,
    }),
  }),
});

builder.objectField(PresenceRef, 'devices', (t) =>
  t.field({
    type: [DeviceRef],
    nullable: true,
    description: "The viewer's own device sessions, sorted by deviceId (one read, only when asked for); null on anyone else's presence.",
    // Decided by the view itself against the viewer: subscriptions share a rendered event only
    // between viewers with the same relation to its user (src/plugins/render-once.ts), and only the
    // user is 'self' to themself, so a rendered list never reaches anyone else.
    resolve: (p: PresenceView, _args, ctx) =>
      ctx.viewer && !ctx.viewer.service && p.userId === ctx.viewer.userId
        ? ctx.engine.devices(p.userId, ctx.config.liveness.idleMs, Date.now())
        : null,
  }),
);

builder.mutationField('reportActivity', (t) =>
  t.field({
    type: PresenceRef,
    description:
      "A person is at this device (call it on input, at most every few seconds): the device is ONLINE and turns AWAY by itself after PRESENCE_IDLE_MS without another call. Over WebSocket deviceId defaults to this socket's device; over HTTP to 'default', and the call keeps that device's session alive like heartbeat. Cheap when nothing changes.",
    authScopes: { user: true },
    args: {
      deviceId: t.arg.string({ required: false, description: "The device (default: this socket's over WebSocket, 'default' over HTTP)." }),
    },
    resolve: async (_root, { deviceId }, ctx) => {
      if (deviceId !== null && deviceId !== undefined) assertId(deviceId, ctx.config.maxIdLength, 'deviceId');
      await rateLimit(ctx, 'reportActivity');
      const id = ctx.viewer!.userId;
      const { sessionId, owner } = deviceTarget(ctx.session, deviceId);
      const { idleMs } = ctx.config.liveness;
      const { record } = await limited(ctx.engine.reportActivity(id, { sessionId, owner }, idleMs, httpSessionMs(ctx), Date.now()));
      return ctx.view(id, { record, friend: false });
    },
  }),
);
