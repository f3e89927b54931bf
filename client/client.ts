import { createActivityThrottle, listenForActivity, type EventSource } from './activity.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { Presence, PresenceStatus, StatusMessageInput } from './documents.js';
import { PresenceClientError } from './errors.js';
import { createHttpTransport } from './http.js';
import { createSocketTransport, type NetworkEvents, type Transport } from './socket.js';
import { createState, type ConnectionState, type Listener } from './store.js';
import { createTokenSource } from './tokens.js';

export interface PresenceClientOptions {
  /** The GraphQL endpoint, `https://host/graphql` (a `wss://` URL is accepted too; the other is derived). */
  url: string;
  /** The WebSocket endpoint when it is not `url` with ws(s) for http(s). */
  wsUrl?: string;
  /** A fixed token. It cannot be refreshed: an expired one ends the client (TOKEN_EXPIRED). */
  token?: string;
  /**
   * Returns a current token (from your backend). Called at start, before the token's `exp` (read
   * from its payload, unverified) and after the server says it expired (4403, HTTP 401).
   */
  getToken?: () => string | Promise<string>;
  /**
   * `'ws'`: one graphql-ws socket (the socket itself keeps the user present).
   * `'http'`: no socket; `heartbeat` and a polled `friends` over HTTP.
   * @default 'ws'
   */
  transport?: 'ws' | 'http';
  /** A WebSocket class where there is no global one: Node 20 with `import WebSocket from 'ws'`. @default globalThis.WebSocket */
  webSocketImpl?: unknown;
  /** @default globalThis.fetch */
  fetchImpl?: typeof fetch;
  /**
   * This device's id (one session per device, see PRESENCE.md). Over a socket the server picks one
   * per socket when omitted; over HTTP one is generated per client.
   */
  deviceId?: string;
  /** The first retry waits a random time in [0, reconnectBaseMs]; each later one doubles the bound. @default 500 // ms */
  reconnectBaseMs?: number;
  /** No retry waits longer than this. @default 30_000 // 30 s */
  reconnectCapMs?: number;
  /** Failed attempts in a row before giving up (`RETRIES_EXHAUSTED`). @default Infinity // retry forever */
  maxAttempts?: number;
  /** Ask `getToken` for a new token this long before exp (at most halfway through the token's life). @default 60_000 // 1 min */
  tokenRefreshLeadMs?: number;
  /** A graphql-ws ping every this long; 0 disables. @default 15_000 // 15 s */
  keepAliveMs?: number;
  /** A ping unanswered this long means a dead socket: reconnect. 0 disables. @default 5_000 // 5 s */
  pongTimeoutMs?: number;
  /** The server must acknowledge a new socket within this. 0 disables. @default 10_000 // 10 s */
  ackTimeoutMs?: number;
  /** HTTP transport: heartbeat about this often; keep it well under PRESENCE_HTTP_TTL_MS (30 s). @default 20_000 // 20 s */
  heartbeatIntervalMs?: number;
  /** HTTP transport: read `friends` about this often. @default 10_000 // 10 s */
  pollIntervalMs?: number;
  /** HTTP transport: each interval is spread over ±this fraction. @default 0.25 */
  jitter?: number;
  /**
   * Where 'online' and 'offline' events come from. Offline drops the socket at once; online
   * reconnects at once rather than after the backoff delay. null: none.
   * @default window in a browser, null elsewhere
   */
  networkEvents?: NetworkEvents | null;
  /**
   * Where input events come from: each one is activity, reported to the server (`reportActivity`,
   * throttled) so that it can turn this device AWAY by itself when they stop. null: none (call
   * `reportActivity()` yourself, e.g. from a native app's input handler).
   * @default document in a browser, null elsewhere
   */
  activityEvents?: EventSource | null;
  /** At most one activity report per this long, each window lengthened by up to 25 % at random. @default 5_000 // 5 s */
  activityThrottleMs?: number;
  /** Every error: the fatal one that stops the client, and the ones it recovers from. */
  onError?: (error: PresenceClientError) => void;
  /** The random source of every jitter (tests pin it). @default Math.random */
  random?: () => number;
}

export interface PresenceClient {
  /** Friends by userId, current as far as the client knows. A new Map after each change. */
  readonly friends: ReadonlyMap<string, Presence>;
  /** The viewer's own presence; null until first read. */
  readonly me: Presence | null;
  readonly connection: ConnectionState;
  /** The latest error; set with `connection: 'failed'` (fatal) or `'reconnecting'`. */
  readonly error: PresenceClientError | null;
  /** Called after every change of friends, me or connection; returns an unsubscribe function. */
  onChange(listener: Listener): () => void;
  /** Sets the viewer's status (over the socket, or HTTP); resolves with it as the server returned it. */
  setStatus(status: PresenceStatus): Promise<Presence>;
  /**
   * Sets the viewer's status message, or clears it with `{ text: null }`; resolves with the viewer's
   * presence. Friends see it while the viewer is present. Rejects like setStatus (BAD_USER_INPUT
   * in `serverCode` for a text over 140 characters, an emoji that is not one emoji, an expiry past
   * 30 days).
   */
  setStatusMessage(message: StatusMessageInput): Promise<Presence>;
  /**
   * The person is active on this device (throttled to one report per `activityThrottleMs`;
   * dropped while disconnected). In a browser the page's input events call it already.
   */
  reportActivity(): void;
  /** Closes the socket (the device session then ends after the server's grace) and stops every timer. */
  close(): Promise<void>;
}

/**
 * A live presence store for one viewer.
 *
 * ```ts
 * const presence = createPresenceClient({ url: 'https://presence.example.com/graphql', getToken });
 * presence.onChange(() => render([...presence.friends.values()]));
 * ```
 */
export function createPresenceClient(options: PresenceClientOptions): PresenceClient {
  const { httpUrl, wsUrl } = endpoints(options);
  const onError = options.onError ?? (() => {});
  const report = (e: PresenceClientError) => {
    try {
      onError(e);
    } catch (err) {
      setTimeout(() => {
        throw err;
      });
    }
  };
  if (
    (options.transport ?? 'ws') === 'ws' &&
    options.webSocketImpl === undefined &&
    typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function'
  ) {
    throw new TypeError("no global WebSocket here (Node 20): pass `webSocketImpl` (import WebSocket from 'ws'), or use transport: 'http'");
  }
  const state = createState();
  const tokens = createTokenSource({
    token: options.token,
    getToken: options.getToken,
    refreshLeadMs: options.tokenRefreshLeadMs ?? 60_000,
    onError: report,
  });
  const random = options.random ?? Math.random;
  const backoff = { baseMs: options.reconnectBaseMs ?? DEFAULT_BACKOFF.baseMs, capMs: options.reconnectCapMs ?? DEFAULT_BACKOFF.capMs };
  const maxAttempts = options.maxAttempts ?? Infinity;

  const transport: Transport =
    (options.transport ?? 'ws') === 'http'
      ? createHttpTransport(
          state,
          tokens,
          {
            httpUrl,
            fetchImpl: options.fetchImpl ?? globalThis.fetch.bind(globalThis),
            deviceId: options.deviceId ?? `http-${randomId(random)}`,
            heartbeatIntervalMs: options.heartbeatIntervalMs ?? 20_000,
            pollIntervalMs: options.pollIntervalMs ?? 10_000,
            jitter: options.jitter ?? 0.25,
            backoff,
            maxAttempts,
            random,
          },
          report,
        )
      : createSocketTransport(
          state,
          tokens,
          {
            wsUrl,
            webSocketImpl: options.webSocketImpl,
            deviceId: options.deviceId,
            backoff,
            maxAttempts,
            keepAliveMs: options.keepAliveMs ?? 15_000,
            pongTimeoutMs: options.pongTimeoutMs ?? 5_000,
            ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
            network: options.networkEvents === undefined ? browserWindow() : options.networkEvents,
            random,
          },
          report,
        );

  const activity = createActivityReports(transport, report, options, random);

  return {
    get friends() {
      return state.friends;
    },
    get me() {
      return state.me;
    },
    get connection() {
      return state.connection;
    },
    get error() {
      return state.error as PresenceClientError | null;
    },
    onChange: (listener) => state.subscribe(listener),
    setStatus: async (status) => {
      const me = await transport.setStatus(status);
      activity.chose(status);
      return me;
    },
    setStatusMessage: ({ text, emoji = null, expiresAt = null }) =>
      transport.setStatusMessage({ text, emoji, expiresAt: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt }),
    reportActivity: activity.report,
    close: async () => {
      activity.stop();
      await transport.close();
      tokens.close();
    },
  };
}

/** The HTTP and WebSocket URLs from `url` (either scheme) and `wsUrl`. */
function endpoints(options: PresenceClientOptions): { httpUrl: string; wsUrl: string } {
  if (typeof options.url !== 'string') throw new TypeError(`createPresenceClient needs a url string, got ${typeof options.url}`);
  const url = new URL(options.url); // throws a TypeError on a malformed URL, here rather than in a socket
  if (!/^(http|ws)s?:$/.test(url.protocol)) throw new TypeError(`url must be http(s) or ws(s), got ${url.protocol}`);
  const secure = url.protocol.endsWith('s:');
  const http = new URL(url);
  http.protocol = secure ? 'https:' : 'http:';
  const ws = new URL(url);
  ws.protocol = secure ? 'wss:' : 'ws:';
  return { httpUrl: http.toString(), wsUrl: options.wsUrl ?? ws.toString() };
}

/** Throttled activity reports, fed by the page's input events in a browser. */
function createActivityReports(
  transport: Transport,
  report: (e: PresenceClientError) => void,
  options: PresenceClientOptions,
  random: () => number,
): { report(): void; chose(status: PresenceStatus): void; stop(): void } {
  /** Set when the server has no `reportActivity` (one older than issue 13): reports stop quietly. */
  let unsupported = false;
  /**
   * AWAY chosen on this device: the server would take the next report as "back" and turn it
   * ONLINE, so none is sent until the person chooses ONLINE. (BUSY and INVISIBLE are not
   * affected by activity: reports go on, and keep the device ONLINE underneath them.)
   */
  let chosenAway = false;
  const send = () => {
    if (unsupported || chosenAway) return;
    transport.reportActivity().catch((err: PresenceClientError) => {
      if (err.details?.serverCode === 'GRAPHQL_VALIDATION_FAILED') unsupported = true;
      else if (err.code !== 'CONNECTION_LOST' && err.code !== 'CLOSED') report(err); // a lost socket is reported already
    });
  };
  const throttled = createActivityThrottle(send, { throttleMs: options.activityThrottleMs ?? 5_000, jitter: 0.25, random });
  const source = options.activityEvents === undefined ? (browserWindow()?.document ?? null) : options.activityEvents;
  const stop = source ? listenForActivity(source, throttled) : () => {};
  return {
    report: throttled,
    chose: (status) => {
      if (status === 'ONLINE' || status === 'AWAY') chosenAway = status === 'AWAY';
    },
    stop,
  };
}

/** The page's window when running in a browser (it has 'online', 'offline' and input events). */
function browserWindow(): (NetworkEvents & { document: NetworkEvents }) | null {
  const g = globalThis as { window?: unknown; document?: unknown; addEventListener?: unknown };
  return g.window === globalThis && typeof g.addEventListener === 'function' && g.document
    ? (globalThis as unknown as NetworkEvents & { document: NetworkEvents })
    : null;
}

function randomId(random: () => number): string {
  return Array.from({ length: 16 }, () => Math.floor(random() * 36).toString(36)).join('');
}

export { PresenceClientError };
