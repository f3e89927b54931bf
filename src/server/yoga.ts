import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { GraphQLError, type ValidationContext } from 'graphql';
import { createYoga, maskError, useReadinessCheck, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import type { Viewer } from '../infra/auth.js';
import { useBoard } from '../board/index.js';
import type { Config } from '../config.js';
import { PresenceError } from '../domain/errors.js';
import { createContext, type Context, type Services } from '../schema/context.js';
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
import { builder } from '../schema/builder.js';
import { schema } from '../schema/index.js';
import type { ConnectionQuota } from '../transport/quota.js';
import type { SocketContext } from '../transport/ws.js';

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
  /**
   * Plugins to leave out. For benchmarks only (bench/plugins.ts measures what each one costs per
   * request by running the same load with and without it); the app never sets it.
   * @default none
   */
  leaveOut?: ReadonlySet<PluginName>;
}

/** The request path's plugins, by name (see `leaveOut`). scopeAuth is Pothos' authScopes check. */
export const pluginNames = [
  'board',
  'maxFields',
  'armor',
  'introspectionDepth',
  'disableIntrospection',
  'errorCodes',
  'codedRefusals',
  'malformedParams',
  'earlyAuth',
  'streamQuota',
  'streamExpiry',
  'noSuggestions',
  'renderOnce',
  'prometheus',
  'readiness',
  'scopeAuth',
] as const;
export type PluginName = (typeof pluginNames)[number];

/**
 * The GraphQL server: schema, plugins (limits, error codes, render once, metrics, readiness) and
 * the one typed context builder that both transports feed: HTTP and SSE requests carry the token
 * in a header; WebSocket operations arrive with the viewer verified at connection time.
 */
export function createYogaServer(deps: YogaDeps): YogaServerInstance<Record<string, unknown>, Context> {
  const { config, logger, services, viewerFrom, earlyAuth } = deps;
  return createYoga<Record<string, unknown>, Context>({
    schema: deps.leaveOut?.has('scopeAuth') ? schemaWithoutScopeAuth() : schema,
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
    plugins: plugins(deps),
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
  });
}

const isExpected = (error: unknown): error is GraphQLError => error instanceof GraphQLError && error.originalError instanceof PresenceError;

// yoga's plugins are typed for different contexts; createYoga takes them all.
type AnyPlugin = NonNullable<YogaServerOptions<Record<string, unknown>, Context>['plugins']>[number];

/** The same schema without Pothos' authScopes checks: for `leaveOut: ['scopeAuth']` only. */
const schemaWithoutScopeAuth = () => builder.toSchema({ sortSchema: true, disableScopeAuth: true });

/** The plugins of createYogaServer, in order, less `deps.leaveOut`. */
function plugins(deps: YogaDeps): AnyPlugin[] {
  const { config, logger, metrics, earlyAuth, quota, ready } = deps;
  const { limits } = config;
  // Armor's rules throw by default, which skips yoga's error codes; reported as validation errors
  // they come back as GRAPHQL_VALIDATION_FAILED like any other invalid document.
  const reported = {
    propagateOnRejection: false,
    onReject: [(ctx: unknown, err: GraphQLError) => (ctx as ValidationContext | null)?.reportError(err)],
  };
  const all: (readonly [PluginName, () => AnyPlugin])[] = [
    // /board: the page, its script and the development sign-in (off in production by default).
    ...(config.board ? [['board', () => useBoard(config, logger)] as const] : []),
    // Same limits on HTTP, SSE and WebSocket: the WebSocket path runs these plugins too.
    ['maxFields', () => useMaxFields(limits.maxFields)],
    [
      'armor',
      () =>
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
    ],
    ['introspectionDepth', () => maxDepthPlugin({ n: limits.maxIntrospectionDepth, ignoreIntrospection: false, ...reported })],
    // No CSRF plugin, on purpose: CSRF rides on credentials a browser attaches by itself
    // (cookies, HTTP auth). Presence reads only the Authorization header, which a cross-site
    // page cannot make a browser send, so a forged request arrives anonymous and can do nothing
    // an anonymous request cannot. Yoga's CSRF header check would only refuse the defaults of
    // urql (GET queries) and GraphiQL (GET event streams).
    ...(config.graphiql ? [] : [['disableIntrospection', () => useDisableIntrospection()] as const]),
    ['errorCodes', () => useErrorCodes()],
    ['codedRefusals', () => useCodedRefusals()],
    ['malformedParams', () => useMalformedParams()],
    ['earlyAuth', () => earlyAuth.plugin],
    ['streamQuota', () => useStreamQuota(quota)],
    ['streamExpiry', () => useStreamExpiry()],
    ...(config.env === 'production' ? [['noSuggestions', () => useNoSuggestions()] as const] : []),
    // Each event executed once per distinct selection on this instance, whatever its subscribers.
    ['renderOnce', () => useRenderOnce({ onRender: () => metrics.rendered.inc() })],
    // Served on the internal metrics listener (src/transport/metrics.ts), not here.
    ['prometheus', () => usePresencePrometheus(metrics.registry, operationNamesIn())],
    ['readiness', () => useReadinessCheck({ endpoint: '/ready', check: ready })],
  ];
  return all.filter(([name]) => !deps.leaveOut?.has(name)).map(([, make]) => make());
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
