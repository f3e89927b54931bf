import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { GraphQLError, type GraphQLSchema, type ValidationContext } from 'graphql';
import { createYoga, maskError, useReadinessCheck, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import type { Viewer } from '../infra/auth.js';
import { useBoard } from '../board/index.js';
import type { Config } from '../config.js';
import { PresenceError } from '../domain/errors.js';
import { createContext, type Context, type Services, type SocketContext } from '../schema/context.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { useMalformedParams, useNoSuggestions } from '../plugins/client-mistakes.js';
import { useCodedRefusals } from '../plugins/coded-refusals.js';
import type { EarlyAuth } from '../plugins/early-auth.js';
import { useErrorCodes } from '../plugins/error-codes.js';
import { useMaxFields } from '../plugins/max-fields.js';
import { operationNamesIn, usePresencePrometheus } from '../plugins/prometheus.js';
import { useRenderOnce } from '../plugins/render-once.js';
import { useStreamExpiry } from '../plugins/stream-expiry.js';
import { useStreamQuota } from '../plugins/stream-quota.js';
import { schema } from '../schema/index.js';
import type { ConnectionQuota } from '../transport/quota.js';

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

// yoga's plugins are typed for different contexts; createYoga takes them all.
type AnyPlugin = NonNullable<YogaServerOptions<Record<string, unknown>, Context>['plugins']>[number];
export type PresenceYogaOptions = YogaServerOptions<Record<string, unknown>, Context>;

/**
 * The GraphQL server: schema, plugins (limits, error codes, render once, metrics, readiness) and
 * the one typed context builder that both transports feed: HTTP and SSE requests carry the token
 * in a header; WebSocket operations arrive with the viewer verified at connection time.
 */
export function createYogaServer(deps: YogaDeps): YogaServerInstance<Record<string, unknown>, Context> {
  return createYoga(
    yogaOptions(
      deps,
      requestPlugins(deps).map(([, make]) => make()),
    ),
  );
}

/**
 * createYoga's options with the given plugins and schema. The app passes every plugin of
 * requestPlugins and the schema; a benchmark may pass fewer, to measure what each one costs.
 */
export function yogaOptions(deps: YogaDeps, plugins: AnyPlugin[], executable: GraphQLSchema = schema): PresenceYogaOptions {
  const { config, logger, services, viewerFrom, earlyAuth } = deps;
  return {
    schema: executable,
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
    plugins,
    // A resolver's expected failure (the domain's PresenceError) already carries its code, which
    // graphql-js copied onto the error: it reaches the client as it is. Everything else is masked.
    maskedErrors: { maskError: (error, message, isDev) => (isExpected(error) ? error : maskError(error, message, isDev)) },
    // HTTP and SSE requests carry the token in a header; WebSocket operations arrive with the
    // viewer verified at connection time (src/transport/ws.ts).
    context: async (initial) => {
      const socket = initial as Partial<SocketContext>;
      if (socket.socketViewer) return createContext(services, socket.socketViewer, socket.socketSession ?? null);
      const { request } = initial;
      return createContext(services, await earlyAuth.viewerOf(request, () => viewerFrom(request.headers.get('authorization'))));
    },
  };
}

const isExpected = (error: unknown): error is GraphQLError => error instanceof GraphQLError && error.originalError instanceof PresenceError;

export type PluginName = ReturnType<typeof requestPlugins>[number][0];

/** The request path's plugins, in order, by name; each made when called. */
export function requestPlugins(deps: YogaDeps) {
  const { config, logger, metrics, earlyAuth, quota, ready } = deps;
  const { limits } = config;
  // Armor's rules throw by default, which skips yoga's error codes; reported as validation errors
  // they come back as GRAPHQL_VALIDATION_FAILED like any other invalid document.
  const reported = {
    propagateOnRejection: false,
    onReject: [(ctx: unknown, err: GraphQLError) => (ctx as ValidationContext | null)?.reportError(err)],
  };
  const named = <N extends string>(name: N, make: () => AnyPlugin) => [name, make] as const;
  return [
    // /board: the page, its script and the development sign-in (off in production by default).
    ...(config.board ? [named('board', () => useBoard(config, logger))] : []),
    // Same limits on HTTP, SSE and WebSocket: the WebSocket path runs these plugins too.
    named('maxFields', () => useMaxFields(limits.maxFields)),
    named('armor', () =>
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
    ),
    named('introspectionDepth', () => maxDepthPlugin({ n: limits.maxIntrospectionDepth, ignoreIntrospection: false, ...reported })),
    // No CSRF plugin, on purpose: CSRF rides on credentials a browser attaches by itself
    // (cookies, HTTP auth). Presence reads only the Authorization header, which a cross-site
    // page cannot make a browser send, so a forged request arrives anonymous and can do nothing
    // an anonymous request cannot. Yoga's CSRF header check would only refuse the defaults of
    // urql (GET queries) and GraphiQL (GET event streams).
    ...(config.graphiql ? [] : [named('disableIntrospection', () => useDisableIntrospection())]),
    named('errorCodes', () => useErrorCodes()),
    named('codedRefusals', () => useCodedRefusals()),
    named('malformedParams', () => useMalformedParams()),
    named('earlyAuth', () => earlyAuth.plugin),
    named('streamQuota', () => useStreamQuota(quota)),
    named('streamExpiry', () => useStreamExpiry()),
    ...(config.env === 'production' ? [named('noSuggestions', () => useNoSuggestions())] : []),
    // Each event executed once per distinct selection on this instance, whatever its subscribers.
    named('renderOnce', () => useRenderOnce({ onRender: () => metrics.rendered.inc() })),
    // Served on the internal metrics listener (src/transport/metrics.ts), not here.
    named('prometheus', () => usePresencePrometheus(metrics.registry, operationNamesIn())),
    named('readiness', () => useReadinessCheck({ endpoint: '/ready', check: ready })),
  ];
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
