import { createClient, type Client } from 'graphql-ws';
import { fullJitterDelay, type BackoffOptions } from './backoff.js';
import {
  ClientFriendPresenceChangedDocument,
  ClientFriendsDocument,
  ClientMeDocument,
  ClientPresenceChangedDocument,
  ClientReportActivityDocument,
  ClientSetPresenceDocument,
  ClientSetStatusMessageDocument,
  type Presence,
  type PresenceStatus,
} from './documents.js';
import { CloseCodes, PresenceClientError } from './errors.js';
import { closeError, runOnSocket } from './operations.js';
import type { State } from './store.js';
import type { VariablesOf } from './documents.js';

export type StatusMessageVariables = VariablesOf<typeof ClientSetStatusMessageDocument>;
import type { TokenSource } from './tokens.js';

export interface SocketTransportOptions {
  wsUrl: string;
  webSocketImpl: unknown;
  deviceId: string | undefined;
  backoff: BackoffOptions;
  maxAttempts: number;
  keepAliveMs: number;
  pongTimeoutMs: number;
  ackTimeoutMs: number;
  /** A browser window's 'online' and 'offline' events; null where there are none. */
  network: NetworkEvents | null;
  random: () => number;
}

/** Where 'online' and 'offline' events come from: `window` in a browser. */
export type NetworkEvents = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

export interface Transport {
  setStatus(status: PresenceStatus): Promise<Presence>;
  setStatusMessage(message: StatusMessageVariables): Promise<Presence>;
  /** Tells the server the person is active on this device; null when there is no connection to tell it on (not queued). */
  reportActivity(): Promise<Presence | null>;
  close(): Promise<void>;
}

interface Connection {
  client: Client;
  /** The token this socket was opened with. */
  token: string;
  connected: boolean;
}

/**
 * One graphql-ws connection at a time, with our own reconnect loop around it. graphql-ws' retries
 * are off because a retried graphql-ws client re-sends the subscriptions it was given, variables
 * and all, while each of our connections must resume from the `since` its streams reached, carry
 * the current token (a 4403 asks getToken for a fresh one) and follow our backoff and maxAttempts.
 * Each connection is a fresh graphql-ws client; every close code (CloseCodes) is handled below.
 *
 * Resuming: every connection subscribes with `since` = the highest version its streams delivered
 * before (0 on the first: a snapshot of everyone visible), so the server sends each user who
 * changed meanwhile once, as they are now, then live changes, with no gap at the seam; entries are
 * applied by version, so nothing is applied twice. One `friends` read per connection settles the
 * list itself (who is a friend, friends never seen, friendships ended while away), since a stream
 * announces changes of status, not of membership.
 */
export function createSocketTransport(
  state: State,
  tokens: TokenSource,
  opts: SocketTransportOptions,
  report: (e: PresenceClientError) => void,
): Transport {
  let conn: Connection | null = null;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  /** ONLINE or AWAY as last set on this device: a new socket opens with it (the device's own status). */
  let deviceStatus: 'ONLINE' | 'AWAY' = 'ONLINE';
  /**
   * The highest version the friends stream delivered: the next connection resumes from it. Only
   * stream events count (versions are the server's milliseconds, one clock for every user): a read
   * may hold a version above an event still in flight on the stream.
   */
  let friendsSince = 0;

  const fail = (err: PresenceClientError) => {
    report(err);
    state.setConnection('failed', err);
  };

  const retry = (immediately = false, cause: PresenceClientError | null = null) => {
    if (closed) return;
    if (attempt >= opts.maxAttempts) {
      return fail(new PresenceClientError('RETRIES_EXHAUSTED', `gave up after ${attempt} reconnection attempts`, { fatal: true }));
    }
    const delay = immediately ? 0 : fullJitterDelay(attempt, opts.backoff, opts.random);
    attempt++;
    state.setConnection('reconnecting', cause);
    retryTimer = setTimeout(() => void open(), delay);
  };

  const open = async () => {
    let token: string;
    try {
      token = await tokens.current();
    } catch (err) {
      return retry(false, err as PresenceClientError); // reported by the token source
    }
    if (closed) return;
    const c: Connection = { client: null as unknown as Client, token, connected: false };
    let pong: ReturnType<typeof setTimeout> | undefined;
    try {
      c.client = connectClient(c, token, {
        onPing: () => {
          if (opts.pongTimeoutMs > 0) pong = setTimeout(() => c.client.terminate(), opts.pongTimeoutMs);
        },
        onPong: () => clearTimeout(pong),
        onClosed: () => clearTimeout(pong),
      });
    } catch (err) {
      // graphql-ws refused the WebSocket class or the URL: nothing a retry would change.
      return fail(
        new PresenceClientError('BAD_REQUEST', `cannot open a socket: ${err instanceof Error ? err.message : String(err)}`, {
          fatal: true,
        }),
      );
    }
    conn = c;
    subscribeFriends(c);
    const me = state.me;
    if (me) subscribeMe(c, me.userId, me.version);
  };

  /** A graphql-ws client for one connection: no retries of its own, every close handled by onClosed. */
  const connectClient = (c: Connection, token: string, hooks: { onPing(): void; onPong(): void; onClosed(): void }) =>
    createClient({
      url: opts.wsUrl,
      webSocketImpl: opts.webSocketImpl,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => {}, // every close is handled in `closed` below
      keepAlive: opts.keepAliveMs,
      connectionAckWaitTimeout: opts.ackTimeoutMs,
      connectionParams: {
        authorization: `Bearer ${token}`,
        ...(opts.deviceId ? { deviceId: opts.deviceId } : {}),
        ...(deviceStatus === 'AWAY' ? { status: 'AWAY' } : {}),
      },
      on: {
        connected: () => conn === c && onConnected(c),
        closed: (event) => {
          hooks.onClosed();
          if (conn === c) onClosed(c, event);
        },
        // A ping we sent must be answered within pongTimeoutMs, or the socket is dead (a laptop
        // that slept, a proxy that dropped it silently): terminate it and reconnect.
        ping: (received) => !received && hooks.onPing(),
        pong: (received) => received && hooks.onPong(),
      },
    });

  const subscribeFriends = (c: Connection) =>
    c.client.subscribe<{ friendPresenceChanged: Presence }>(
      {
        query: ClientFriendPresenceChangedDocument.query,
        operationName: ClientFriendPresenceChangedDocument.operationName,
        variables: { since: friendsSince },
      },
      {
        next: (r) => {
          if (!r.data) return void (r.errors && report(closeError(r.errors)));
          const p = r.data.friendPresenceChanged;
          if (conn === c) friendsSince = Math.max(friendsSince, p.version);
          state.applyFriends([p]);
        },
        error: (err) => conn === c && c.connected && report(closeError(err)),
        complete: () => {},
      },
    );

  /** The viewer's own stream, resumed from the version of `me` the client holds. */
  const subscribeMe = (c: Connection, userId: string, since: number) =>
    c.client.subscribe<{ presenceChanged: Presence }>(
      {
        query: ClientPresenceChangedDocument.query,
        operationName: ClientPresenceChangedDocument.operationName,
        variables: { ids: [userId], since },
      },
      {
        next: (r) => (r.data ? state.applyMe(r.data.presenceChanged) : r.errors && report(closeError(r.errors))),
        error: (err) => conn === c && c.connected && report(closeError(err)),
        complete: () => {},
      },
    );

  const onConnected = (c: Connection) => {
    c.connected = true;
    attempt = 0;
    state.setConnection('connected', null);
    void resync(c);
  };

  /**
   * Reads me and friends over this connection and merges them by version: the list's members
   * (the streams resumed with `since` carry the changes), and `me` before its stream exists.
   */
  const resync = async (c: Connection) => {
    const read = state.beginRead();
    try {
      const [me, friends] = await Promise.all([
        runOnSocket(c.client, ClientMeDocument, {}),
        runOnSocket(c.client, ClientFriendsDocument, {}),
      ]);
      if (conn !== c) return read.abandon();
      const hadMe = state.me !== null;
      state.applyMe(me.me);
      if (!hadMe) subscribeMe(c, me.me.userId, me.me.version);
      read.finish(friends.friends);
    } catch (err) {
      read.abandon();
      // A read lost to a closing socket is redone on the next connection.
      if (conn === c && c.connected) report(closeError(err));
    }
  };

  const onClosed = (c: Connection, event: unknown) => {
    const wasConnected = c.connected;
    dispose(c);
    conn = null;
    if (closed) return;
    const err = closeError(event);
    const code = err.details.closeCode;
    if (code === CloseCodes.Unauthorized) {
      return fail(
        new PresenceClientError('UNAUTHORIZED', `the server refused the token (4401): ${err.message}`, { fatal: true, closeCode: code }),
      );
    }
    if (code === CloseCodes.BadRequest) {
      return fail(
        new PresenceClientError('BAD_REQUEST', `the server refused the connection (4400): ${err.message}`, {
          fatal: true,
          closeCode: code,
        }),
      );
    }
    if (code === CloseCodes.Forbidden) {
      tokens.invalidate(c.token);
      if (!tokens.refreshable) {
        return fail(
          new PresenceClientError('TOKEN_EXPIRED', 'the token expired (4403) and there is no getToken to refresh it', {
            fatal: true,
            closeCode: code,
          }),
        );
      }
      // Expired while open: the fresh token is (usually) already fetched, come back at once.
      // Refused at the handshake: getToken returned a stale token, so back off.
      return retry(wasConnected, err);
    }
    // Reported once per lost connection, not once per failed attempt; `error` holds the latest.
    if (wasConnected) report(err);
    retry(false, err);
  };

  const dispose = (c: Connection) => {
    Promise.resolve(c.client.dispose()).catch(() => {}); // rejects when the socket never opened
  };

  // The browser knows before any ping does: when the network goes, the socket is dropped at once
  // (its events would be lost anyway) and when it returns the client reconnects at once instead of
  // waiting out a backoff delay grown while offline. Catching up is the usual resume with `since`.
  const offline = () => conn?.client.terminate();
  const online = () => {
    if (closed || conn !== null || state.connection !== 'reconnecting') return;
    clearTimeout(retryTimer);
    attempt = 0;
    void open();
  };
  opts.network?.addEventListener('offline', offline);
  opts.network?.addEventListener('online', online);

  /** The open socket's client, for a mutation: not queued while the socket is down. */
  const connected = (): Client => {
    if (closed) throw new PresenceClientError('CLOSED', 'the client is closed');
    if (!conn?.connected) throw new PresenceClientError('NOT_CONNECTED', `not connected (${state.connection}); try again once connected`);
    return conn.client;
  };

  void open();

  return {
    async setStatus(status) {
      const { setPresence } = await runOnSocket(connected(), ClientSetPresenceDocument, { status });
      if (status === 'ONLINE' || status === 'AWAY') deviceStatus = status;
      state.applyMe(setPresence);
      return setPresence;
    },
    async setStatusMessage(message) {
      const { setStatusMessage } = await runOnSocket(connected(), ClientSetStatusMessageDocument, message);
      state.applyMe(setStatusMessage);
      return setStatusMessage;
    },
    async reportActivity() {
      // Over a socket the activity is the socket's device's: no deviceId.
      if (closed || !conn?.connected) return null;
      const { reportActivity } = await runOnSocket(conn.client, ClientReportActivityDocument, {});
      state.applyMe(reportActivity);
      return reportActivity;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      opts.network?.removeEventListener('offline', offline);
      opts.network?.removeEventListener('online', online);
      const c = conn;
      conn = null;
      if (c) {
        await Promise.resolve(c.client.dispose()).catch(() => {});
      }
      if (state.connection !== 'failed') state.setConnection('closed', null);
    },
  };
}
