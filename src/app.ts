import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { bearer, createVerifier, type Viewer } from './auth.js';
import type { Config } from './config.js';
import { createContext, type Context } from './context.js';
import { createMemoryEngine } from './engine/memory/index.js';
import { createRedisEngine } from './engine/redis/index.js';
import { connectRedis, type RedisClient } from './engine/redis/connect.js';
import type { PresenceEngine } from './engine/types.js';
import { createLogger, type Logger } from './logger.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { schema } from './schema/index.js';

export interface AppDeps {
  logger?: Logger;
  /** Redis connections to use instead of opening new ones from config.redis; the caller closes them. */
  redis?: { command?: RedisClient };
}

export interface App {
  /** Listens on config.host:config.port (0 picks a free port); resolves with the base URL. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, closes connections and Redis clients. Safe to call twice. */
  stop(): Promise<void>;
  readonly engine: PresenceEngine;
  readonly server: Server;
}

/** Builds the whole service from a Config; only main.ts touches the process. */
export function createApp(config: Readonly<Config>, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger(config);
  const friendship = config.visibility === 'friends';
  const owned: RedisClient[] = [];
  let engine: PresenceEngine;
  if (config.redis) {
    const command = deps.redis?.command ?? connectRedis(config.redis);
    if (!deps.redis?.command) owned.push(command);
    command.on('error', (err) => logger.warn({ err: err.message }, 'redis command connection error'));
    engine = createRedisEngine({ client: command, prefix: config.redisKeyPrefix, buckets: config.buckets, friendship });
  } else {
    engine = createMemoryEngine({ friendship });
  }

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
    context: async ({ request }) => createContext(config, engine, await viewerFrom(request.headers.get('authorization'))),
  });

  const server = createServer(yoga);
  let stopped: Promise<void> | null = null;

  return {
    engine,
    server,
    async start() {
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
      stopped ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.close();
        await Promise.all(owned.map((c) => c.quit().catch(() => c.disconnect())));
        logger.info('presence stopped');
      })();
      return stopped;
    },
  };
}
