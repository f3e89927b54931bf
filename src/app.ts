import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { bearer, createVerifier, type Viewer } from './auth.js';
import type { Config } from './config.js';
import { createContext, type Context } from './context.js';
import { createMemoryEngine } from './engine/memory/index.js';
import { createRedisEngine } from './engine/redis/index.js';
import { connectRedis, waitReady, type RedisClient } from './engine/redis/connect.js';
import { createKeys } from './engine/redis/keys.js';
import type { PresenceEngine } from './engine/types.js';
import { createRedisBus } from './realtime/bus.js';
import { assertId } from './ids.js';
import { createLiveness, type Liveness, type SocketSession } from './liveness/index.js';
import { Status } from './presence.js';
import { randomUUID } from 'node:crypto';
import { createLogger, type Logger } from './logger.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { schema } from './schema/index.js';

export interface AppDeps {
  logger?: Logger;
  /** Redis connections to use instead of opening new ones from config.redis; the caller closes them. */
  redis?: { command?: RedisClient; publisher?: RedisClient; subscriber?: RedisClient };
}

/** What the WebSocket transport keeps per connection (graphql-ws `ctx.extra`). */
// A type alias, not an interface: graphql-ws requires an index-signature-compatible record.
type SocketExtra = {
  viewer?: Viewer;
  /** The device session this socket holds, once opened (awaited on close). */
  session?: Promise<SocketSession | null>;
};

export interface App {
  /** Listens on config.host:config.port (0 picks a free port); resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, closes connections and Redis clients. Safe to call twice. */
  stop(): Promise<void>;
  readonly engine: PresenceEngine;
  readonly server: Server;
  readonly liveness: Liveness;
}

/** Builds the whole service from a Config; only main.ts touches the process. */
export function createApp(config: Readonly<Config>, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger(config);
  const friendship = config.visibility === 'friends';
  const owned: RedisClient[] = [];
  /** Every Redis connection the app uses (owned or injected): start() waits for them. */
  const connections: RedisClient[] = [];
  let engine: PresenceEngine;
  if (config.redis) {
    const topology = config.redis;
    const client = (role: 'command' | 'publisher' | 'subscriber') => {
      const injected = deps.redis?.[role];
      const c = injected ?? connectRedis(topology);
      if (!injected) owned.push(c);
      connections.push(c);
      c.on('error', (err: Error) => logger.warn({ err: err.message, role }, 'redis connection error'));
      return c;
    };
    const command = client('command');
    const keys = createKeys(config.redisKeyPrefix, config.buckets);
    const bus = createRedisBus({ publisher: client('publisher'), subscriber: client('subscriber'), keys });
    engine = createRedisEngine({ client: command, prefix: config.redisKeyPrefix, buckets: config.buckets, friendship, bus });
  } else {
    engine = createMemoryEngine({ friendship });
  }
  const liveness = createLiveness(engine, config.liveness, logger);

  const verify = createVerifier(config.jwt, config.maxIdLength);
  const viewerFrom = async (authorization: string | null | undefined): Promise<Viewer | null> => {
    const token = bearer(authorization);
    return token === null ? null : verify(token);
  };

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql,
    landingPage: false,
    plugins: [useErrorCodes()],
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args.map(String).join(' ') }, 'graphql error'),
    },
    // HTTP and SSE requests carry the token in a header; WebSocket operations arrive with the
    // viewer already verified at connection time (see onConnect below).
    context: async (initial) => {
      const socket = initial as { socketViewer?: Viewer; socketSession?: SocketSession | null };
      if (socket.socketViewer) {
        const session = socket.socketSession ? { ...socket.socketSession, owner: liveness.instanceId } : null;
        return createContext(config, engine, socket.socketViewer, session);
      }
      return createContext(config, engine, await viewerFrom(initial.request.headers.get('authorization')));
    },
  });

  const server = createServer(yoga);

  // graphql-ws on the same path, running yoga's own parse/validate/execute and plugins
  // (the wiring from yoga's graphql-ws example).
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const ws = useServer<Record<string, unknown>, SocketExtra>(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      // A missing or bad token closes the socket with 4403 before any operation runs. A good one
      // opens the connection's device session: the user is present while the socket lives.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const auth = params['authorization'] ?? params['Authorization'];
        let viewer: Viewer | null;
        try {
          viewer = typeof auth === 'string' ? await viewerFrom(auth) : null;
        } catch {
          viewer = null;
        }
        if (!viewer) return false;
        const deviceId = params['deviceId'] ?? `ws-${randomUUID()}`;
        const status = params['status'] === 'AWAY' ? Status.AWAY : params['status'] === 'ONLINE' ? Status.ONLINE : null;
        try {
          if (typeof deviceId !== 'string') throw new TypeError('deviceId must be a string');
          assertId(deviceId, config.maxIdLength, 'deviceId');
        } catch {
          ctx.extra.socket.close(CloseCode.BadRequest, 'connectionParams.deviceId is not a valid id');
          return false;
        }
        ctx.extra.viewer = viewer;
        ctx.extra.session = liveness.open(viewer.userId, deviceId, status).catch((err: Error) => {
          logger.warn({ err: err.message }, 'could not open a socket session');
          return null;
        });
        // Present before the client may run anything, so its first query already sees itself online.
        return (await ctx.extra.session) !== null;
      },
      onClose: async (ctx) => {
        const session = await ctx.extra.session;
        if (session) await liveness.close(session);
      },
      onSubscribe: async (ctx, _id, params) => {
        const enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          socketViewer: ctx.extra.viewer,
          socketSession: await ctx.extra.session,
        });
        let document;
        try {
          document = enveloped.parse(params.query);
        } catch (err) {
          return [err as never];
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
        return errors.length ? errors : args;
      },
    },
    wss,
    config.liveness.keepAliveMs,
  );
  let stopped: Promise<void> | null = null;

  return {
    engine,
    server,
    liveness,
    async start() {
      // Fail fast when Redis cannot be reached at boot: an orchestrator restarts us, and a Cluster
      // client must know the slot map before the first batched read.
      await Promise.all(connections.map((c) => waitReady(c, 15_000)));
      await liveness.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      logger.info(
        {
          port,
          instanceId: liveness.instanceId,
          engine: engine.kind,
          redis: config.redis?.kind ?? null,
          visibility: config.visibility,
          jwt: config.jwt.jwksUrl ? 'jwks' : config.jwt.usingDevSecret ? 'development-secret' : 'hs256-secret',
        },
        'presence listening',
      );
      return { url, port };
    },
    stop() {
      // Graceful: stop accepting, tell every socket to go elsewhere (1001), and let its session
      // linger for the grace so a client that reconnects to another instance sends no OFFLINE.
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await ws.dispose();
        await liveness.stop();
        server.closeAllConnections();
        await closed;
        await engine.close();
        await Promise.all(owned.map((c) => c.quit().catch(() => c.disconnect())));
        logger.info('presence stopped');
      })();
      return stopped;
    },
  };
}
