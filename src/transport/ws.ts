import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { TOKEN_EXPIRED, type Viewer } from '../infra/auth.js';
import type { Config } from '../config.js';
import { CloseCodes } from '../../client/close-codes.js';
import type { Context, SocketContext } from '../schema/context.js';
import { ErrorCode, SessionLimitError } from '../domain/errors.js';
import { presenceError } from '../infra/graphql-errors.js';
import { assertId } from '../domain/ids.js';
import type { Liveness, SocketSession } from '../liveness/index.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { Status, type StatusCode } from '../domain/presence.js';
import { countCall, type RateLimitDeps } from '../schema/rate-limit.js';
import type { ConnectionQuota } from './quota.js';
import { at } from '../infra/timers.js';
import { quietErrors } from './quiet-ws.js';

/** What a socket carries between graphql-ws callbacks (graphql-ws `ctx.extra`). A type alias,
 * not an interface: graphql-ws requires an index-signature-compatible record. */
type SocketExtra = {
  viewer?: Viewer;
  /** The device session this socket holds, once opened (awaited on close). */
  session?: Promise<SocketSession | null>;
  /** Closes the socket when the token expires. */
  expiry?: { clear(): void };
  /** The socket closed (possibly while onConnect was still verifying the token). */
  closed?: boolean;
};

export interface WebSocketDeps {
  server: Server;
  /** Counts connectionParams.status against the user's setPresence window. */
  engine: RateLimitDeps['engine'];
  /** False while the store is known to be unreachable: new sockets are told to retry (1013). */
  available(): boolean;
  /** The user's realtime connections on this instance, shared with event streams. */
  quota: ConnectionQuota;
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  config: Readonly<Config>;
  liveness: Liveness;
  metrics: Metrics;
  logger: Logger;
  viewerFrom(authorization: string | null): Promise<Viewer | null>;
}

/** A graphql-ws connection as its callbacks see it. */
type SocketContextOf = WsContext<Record<string, unknown>, SocketExtra & Extra>;

/**
 * graphql-ws on the same path as HTTP, running yoga's own parse/validate/execute and plugins (the
 * wiring of yoga's graphql-ws example), so limits and error codes are the same on both. Each
 * authenticated connection is a device session of its user (src/liveness).
 */
export function attachWebSocket(deps: WebSocketDeps): { dispose(): Promise<void> } {
  const { yoga, config, logger } = deps;

  const wss = new WebSocketServer({
    server: deps.server,
    path: yoga.graphqlEndpoint,
    maxPayload: config.limits.wsMaxPayloadBytes,
    // Cross-site WebSocket hijacking: browsers always send Origin; refuse foreign ones before the
    // upgrade. Clients without an Origin (native apps, servers) are not browsers and may connect.
    verifyClient: ({ req }: { req: IncomingMessage }) => originAllowed(req, config.limits.wsAllowedOrigins),
  });

  const server = useServer<Record<string, unknown>, SocketExtra>(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: (ctx) => onConnect(deps, ctx),
      onClose: (ctx) => onClose(deps, ctx),
      onSubscribe: (ctx, id, params) => onSubscribe(deps, ctx, id, params),
    },
    quietErrors(wss, logger),
    config.liveness.keepAliveMs,
  );

  return { dispose: () => server.dispose() as Promise<void> };
}

/**
 * A missing or bad token closes the socket with 4401, an expired one with 4403, before any
 * operation runs. A good one opens the connection's device session: the user is present while the
 * socket lives. Resolves with the ack's payload (true: an empty one), or false once closed.
 */
async function onConnect(deps: WebSocketDeps, ctx: SocketContextOf): Promise<boolean | Record<string, unknown>> {
  const { config, metrics, logger } = deps;
  const params = ctx.connectionParams ?? {};
  const socket = ctx.extra.socket;
  const viewer = await authenticate(deps, ctx);
  if (!viewer) return false;
  const deviceId = params['deviceId'] ?? `ws-${randomUUID()}`;
  try {
    if (typeof deviceId !== 'string') throw new TypeError('deviceId must be a string');
    assertId(deviceId, config.maxIdLength, 'deviceId');
  } catch {
    socket.close(CloseCodes.BadRequest, 'connectionParams.deviceId is not a valid id');
    return false;
  }
  // The token is good but the store is down: not an auth failure, so no 4403.
  if (!deps.available()) {
    socket.close(CloseCodes.TryAgainLater, 'Presence is unavailable, retry later');
    return false;
  }
  if (!deps.quota.acquire(viewer.userId)) {
    socket.close(CloseCodes.TooManyConnections, 'Too many connections for this user');
    return false;
  }
  ctx.extra.viewer = viewer;
  metrics.connections.inc();

  // The token's expiry ends the connection: the client refreshes by reconnecting.
  if (viewer.exp !== null) {
    ctx.extra.expiry = at(viewer.exp * 1000, () => socket.close(CloseCodes.Forbidden, 'Token expired'));
  }
  const requested = params['status'] === 'AWAY' ? Status.AWAY : params['status'] === 'ONLINE' ? Status.ONLINE : null;
  const opening = openSession(deps, viewer.userId, deviceId, requested).catch((err: Error) => {
    if (err instanceof SessionLimitError) socket.close(CloseCodes.TooManyConnections, err.message);
    else {
      logger.warn({ err: err.message }, 'could not open a socket session');
      socket.close(CloseCodes.TryAgainLater, 'Presence is unavailable, retry later');
    }
    return null;
  });
  ctx.extra.session = opening.then((opened) => opened?.session ?? null);
  // Present before the client may run anything, so its first query already sees itself online.
  const opened = await opening;
  return opened !== null && opened.ack;
}

/** The viewer of `connectionParams.authorization`; null once the socket is closed for it. */
async function authenticate(deps: WebSocketDeps, ctx: SocketContextOf): Promise<Viewer | null> {
  const params = ctx.connectionParams ?? {};
  const auth = params['authorization'] ?? params['Authorization'];
  const socket = ctx.extra.socket;
  let viewer: Viewer | null;
  try {
    viewer = typeof auth === 'string' ? await deps.viewerFrom(auth) : null;
  } catch (err) {
    // An expired token is worth retrying with a fresh one (graphql-ws clients retry 4403);
    // a missing or bad one is not (4401 is fatal to graphql-ws clients: no retry loop).
    if ((err as Error).message === TOKEN_EXPIRED) socket.close(CloseCodes.Forbidden, 'Token expired');
    viewer = null;
  }
  // Closed while the token was being checked: open nothing, or it would never be closed.
  if (ctx.extra.closed) return null;
  if (!viewer) {
    socket.close(CloseCodes.Unauthorized, 'Unauthorized: send connectionParams.authorization = "Bearer <JWT>"');
    return null;
  }
  // Past its exp but inside jose's clock tolerance: acknowledging it would close it at once,
  // and each ack resets graphql-ws' retry count, so its client would loop on a dead token.
  if (viewer.exp !== null && viewer.exp * 1000 <= Date.now()) {
    socket.close(CloseCodes.Forbidden, 'Token expired');
    return null;
  }
  return viewer;
}

/**
 * Opens a socket's device session. `connectionParams.status` is a status change like setPresence
 * and counts against the same per-user window. Past it the socket still connects (a client
 * reconnecting after a network blip must not be locked out), but the status is not applied: the
 * session opens as a reconnect without a status would, and the ack payload says so and when to
 * retry (`{ statusApplied: false, code: 'RATE_LIMITED', retryAfterMs }`).
 */
async function openSession(deps: WebSocketDeps, userId: string, deviceId: string, requested: StatusCode | null) {
  const { config, metrics, liveness } = deps;
  let status = requested;
  let ack: Record<string, unknown> | true = true;
  if (status !== null) {
    const { allowed, retryAfterMs } = await countCall({ engine: deps.engine, config, metrics }, 'setPresence', userId);
    if (!allowed) {
      status = null;
      ack = { statusApplied: false, code: ErrorCode.RateLimited, retryAfterMs };
    }
  }
  return { session: await liveness.open(userId, deviceId, status), ack };
}

async function onClose(deps: WebSocketDeps, ctx: SocketContextOf): Promise<void> {
  ctx.extra.closed = true;
  ctx.extra.expiry?.clear();
  const viewer = ctx.extra.viewer;
  if (!viewer) return;
  deps.metrics.connections.dec();
  deps.quota.release(viewer.userId);
  const session = await ctx.extra.session;
  if (session) await deps.liveness.close(session);
}

/** Parses and validates an operation with yoga's own functions; refused past the per-connection cap. */
async function onSubscribe(
  deps: WebSocketDeps,
  ctx: SocketContextOf,
  id: string,
  params: SubscribePayload,
): Promise<ExecutionArgs | readonly GraphQLError[]> {
  const { yoga, config } = deps;
  // ctx.subscriptions already holds this operation's id.
  const open = Object.keys(ctx.subscriptions).filter((k) => k !== id).length;
  if (open >= config.limits.subscriptionsPerConnection) {
    return [presenceError(ErrorCode.LimitExceeded, `at most ${config.limits.subscriptionsPerConnection} operations per connection`)];
  }
  const socketContext: SocketContext = { socketViewer: ctx.extra.viewer!, socketSession: await ctx.extra.session! };
  const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params, ...socketContext });
  let document;
  try {
    document = enveloped.parse(params.query);
  } catch (err) {
    return [coded(err as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
  }
  const args: ExecutionArgs = {
    schema: enveloped.schema,
    operationName: params.operationName ?? null,
    document,
    variableValues: params.variables ?? null,
    contextValue: await enveloped.contextFactory(),
    rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
  };
  const errors = enveloped.validate(args.schema, args.document);
  return errors.length ? errors.map((e: GraphQLError) => coded(e, 'GRAPHQL_VALIDATION_FAILED')) : args;
}

/**
 * Yoga codes a document's parse and validation errors on HTTP; on the socket they arrive bare.
 * Same codes here, and without yoga's HTTP-only `extensions.http`.
 */
function coded(error: GraphQLError, code: string): GraphQLError {
  const { http: _http, ...extensions } = error.extensions ?? {};
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    extensions: { code, ...extensions },
  });
}

/** Same-origin, listed, or no Origin at all (not a browser). */
function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin || allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
