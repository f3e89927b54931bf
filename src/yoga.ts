import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import type { GraphQLError, ValidationContext } from 'graphql';
import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { Viewer } from './auth.js';
import { useBoard } from './board/index.js';
import type { Config } from './config.js';
import { createContext, type Context, type Services } from './context.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { useMalformedParams, useNoSuggestions } from './plugins/client-mistakes.js';
import { useCodedRefusals } from './plugins/coded-refusals.js';
import type { EarlyAuth } from './plugins/early-auth.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { useMaxFields } from './plugins/max-fields.js';
import { operationNamesIn, usePresencePrometheus } from './plugins/prometheus.js';
import { useRenderOnce } from './plugins/render-once.js';
import { useStreamExpiry } from './plugins/stream-expiry.js';
import { useStreamQuota } from './plugins/stream-quota.js';
import { schema } from './schema/index.js';
import type { ConnectionQuota } from './transport/quota.js';
import type { SocketContext } from './transport/ws.js';

export interface YogaDeps {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  services: Services;
  /** The viewer of an Authorization header (null without one); throws on a bad token. */
  viewerFrom(authorization: string | null | undefined): Promise<Viewer | null>;
  /** Checks HTTP and SSE tokens before their document is parsed (src/plugins/early-auth.ts). */
  earlyAuth: EarlyAuth;
  /** The user's realtime connections on this instance: event streams count like sockets. */
  quota: ConnectionQuota;
  /** /ready: false while draining, or while Redis is unreachable, stalled or refusing writes. */
  ready(): Promise<boolean>;
}

/**
 * The GraphQL server: schema, plugins (limits, error codes, render once, metrics, readiness) and
 * the one typed context builder that both transports feed: HTTP and SSE requests carry the token
 * in a header; WebSocket operations arrive with the viewer verified at connection time.
 */
export function createYogaServer(deps: YogaDeps): YogaServerInstance<Record<string, unknown>, Context> {
  const { config, logger, metrics, services, viewerFrom, earlyAuth, quota, ready } = deps;
  const { limits } = config;
  // Armor's rules throw by default, which skips yoga's error codes; reported as validation errors
  // they come back as GRAPHQL_VALIDATION_FAILED like any other invalid document.
  const reported = {
    propagateOnRejection: false,
    onReject: [(ctx: unknown, err: GraphQLError) => (ctx as ValidationContext | null)?.reportError(err)],
  };
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    // Served from node_modules (no CDN): the page works on a network without internet. The bundle
    // is 9 MB of JavaScript, loaded on the first page view rather than at every start.
    graphiql: config.graphiql ? graphiqlOptions : false,
    renderGraphiQL: async (opts) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(opts),
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args.map(String).join(' ') }, 'graphql error'),
    },
    plugins: [
      // /board: the page, its script and the development sign-in (off in production by default).
      ...(config.board ? [useBoard(config, logger)] : []),
      // Same limits on HTTP, SSE and WebSocket: the WebSocket path runs these plugins too.
      useMaxFields(limits.maxFields),
      EnvelopArmorPlugin({
        // Presence's own fields are bounded by GRAPHQL_MAX_DEPTH; introspection (only answered
        // while GraphiQL is on) has its own, deeper bound just below, so GraphiQL's schema loads.
        maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, ...reported },
        maxAliases: { n: limits.maxAliases, ...reported },
        maxTokens: { n: limits.maxTokens },
        costLimit: { maxCost: limits.maxCost, ...reported },
        maxDirectives: { n: 10, ...reported },
        blockFieldSuggestion: { enabled: config.env === 'production' },
      }),
      maxDepthPlugin({ n: limits.maxIntrospectionDepth, ignoreIntrospection: false, ...reported }),
      // No CSRF plugin, on purpose: CSRF rides on credentials a browser attaches by itself
      // (cookies, HTTP auth). Presence reads only the Authorization header, which a cross-site
      // page cannot make a browser send, so a forged request arrives anonymous and can do nothing
      // an anonymous request cannot. Yoga's CSRF header check would only refuse the defaults of
      // urql (GET queries) and GraphiQL (GET event streams).
      ...(config.graphiql ? [] : [useDisableIntrospection()]),
      useErrorCodes(),
      useCodedRefusals(),
      useMalformedParams(),
      earlyAuth.plugin,
      useStreamQuota(quota),
      useStreamExpiry(),
      ...(config.env === 'production' ? [useNoSuggestions()] : []),
      // Each event executed once per distinct selection on this instance, whatever its subscribers.
      useRenderOnce({ onRender: () => metrics.rendered.inc() }),
      // Served on the internal metrics listener (src/transport/metrics.ts), not here.
      usePresencePrometheus(metrics.registry, operationNamesIn()),
      useReadinessCheck({ endpoint: '/ready', check: ready }),
    ],
    // HTTP and SSE requests carry the token in a header; WebSocket operations arrive with the
    // viewer verified at connection time (src/transport/ws.ts).
    context: async (initial) => {
      const socket = initial as Partial<SocketContext>;
      if (socket.socketViewer) return createContext(services, socket.socketViewer, socket.socketSession ?? null);
      const { request } = initial;
      return createContext(services, await earlyAuth.viewerOf(request, () => viewerFrom(request.headers.get('authorization'))));
    },
  });
}

/** GraphiQL's first screen says how to authenticate: every operation needs a token. */
const graphiqlOptions = {
  title: 'Presence GraphiQL',
  defaultQuery: `# Welcome to Presence.
#
# Every operation needs a token. Get one with
#   npm run token -- alice
# and put it in the Headers tab below:
#   { "Authorization": "Bearer <token>" }
#
# Then run this query. To watch friends live, run
#   subscription { friendPresenceChanged { userId status } }
# and change a friend's status from another tab.

query Me {
  me {
    userId
    status
    lastActiveAt
    version
  }
}
`,
  defaultEditorToolsVisibility: 'headers' as const,
};
