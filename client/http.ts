import { fullJitterDelay, jitteredInterval, type BackoffOptions } from './backoff.js';
import {
  ClientFriendsDocument,
  ClientHeartbeatDocument,
  ClientReportActivityDocument,
  ClientSetPresenceDocument,
  ClientSetStatusMessageDocument,
  type TypedDocument,
} from './documents.js';
import { PresenceClientError } from './errors.js';
import { graphQLError } from './operations.js';
import type { Transport } from './socket.js';
import type { State } from './store.js';
import type { TokenSource } from './tokens.js';

export interface HttpTransportOptions {
  httpUrl: string;
  fetchImpl: typeof fetch;
  deviceId: string;
  heartbeatIntervalMs: number;
  pollIntervalMs: number;
  jitter: number;
  backoff: BackoffOptions;
  maxAttempts: number;
  random: () => number;
}

/**
 * For clients that cannot hold a socket: `heartbeat(deviceId)` keeps the device's session alive
 * (the server drops it PRESENCE_HTTP_TTL_MS, 30 s by default, after the last one) and `friends` is
 * polled. Both timers are jittered so clients started together never beat in step. Failures back
 * off with the same full-jitter schedule as the socket.
 */
export function createHttpTransport(
  state: State,
  tokens: TokenSource,
  opts: HttpTransportOptions,
  report: (e: PresenceClientError) => void,
): Transport {
  let closed = false;
  let failures = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const post = async <R, V extends Record<string, unknown>>(doc: TypedDocument<R, V>, variables: V, token: string): Promise<R> => {
    const res = await opts.fetchImpl(opts.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: doc.query, operationName: doc.operationName, variables }),
    });
    const body = (await res.json().catch(() => null)) as { data?: R | null; errors?: unknown[] } | null;
    if (body?.errors?.length) throw graphQLError(body.errors);
    if (!res.ok || !body?.data) throw new PresenceClientError('CONNECTION_LOST', `HTTP ${res.status}`);
    return body.data;
  };

  /** One request with the current token; a token refused as expired is replaced once and the request retried. */
  const request = async <R, V extends Record<string, unknown>>(doc: TypedDocument<R, V>, variables: V): Promise<R> => {
    const token = await tokens.current();
    try {
      return await post(doc, variables, token);
    } catch (err) {
      if (!(err instanceof PresenceClientError) || err.details.serverCode !== 'UNAUTHENTICATED') throw err;
      if (!tokens.refreshable) {
        throw new PresenceClientError('UNAUTHORIZED', `the server refused the token: ${err.message}`, {
          fatal: true,
          serverCode: 'UNAUTHENTICATED',
        });
      }
      tokens.invalidate(token);
      try {
        return await post(doc, variables, await tokens.current());
      } catch (again) {
        if (again instanceof PresenceClientError && again.details.serverCode === 'UNAUTHENTICATED') {
          throw new PresenceClientError('UNAUTHORIZED', `the server refused a fresh token: ${again.message}`, {
            fatal: true,
            serverCode: 'UNAUTHENTICATED',
          });
        }
        throw again;
      }
    }
  };

  const later = (fn: () => Promise<void>, delay: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      void fn();
    }, delay);
    timers.add(t);
  };

  /** Runs `step` now and again every ~intervalMs (jittered); a failure backs off instead. */
  const loop = (step: () => Promise<void>, intervalMs: number) => {
    const run = async () => {
      if (closed) return;
      try {
        await step();
        if (closed) return;
        failures = 0;
        state.setConnection('connected', null);
        later(run, jitteredInterval(intervalMs, opts.jitter, opts.random));
      } catch (err) {
        if (closed) return;
        const e =
          err instanceof PresenceClientError
            ? err
            : new PresenceClientError('CONNECTION_LOST', err instanceof Error ? err.message : String(err));
        if (e.fatal) return stop(e);
        if (failures >= opts.maxAttempts)
          return stop(new PresenceClientError('RETRIES_EXHAUSTED', `gave up after ${failures} failed requests`, { fatal: true }));
        if (state.connection === 'connected') report(e);
        state.setConnection('reconnecting', e);
        const backoff = fullJitterDelay(failures++, opts.backoff, opts.random);
        later(run, Math.max(backoff, e.details.retryAfterMs ?? 0));
      }
    };
    void run();
  };

  const stop = (err: PresenceClientError) => {
    closed = true;
    for (const t of timers) clearTimeout(t);
    report(err);
    state.setConnection('failed', err);
  };

  loop(
    async () => state.applyMe((await request(ClientHeartbeatDocument, { deviceId: opts.deviceId })).heartbeat),
    opts.heartbeatIntervalMs,
  );
  loop(async () => {
    const read = state.beginRead();
    try {
      read.finish((await request(ClientFriendsDocument, {})).friends);
    } finally {
      read.abandon();
    }
  }, opts.pollIntervalMs);

  return {
    async setStatus(status) {
      if (closed) throw new PresenceClientError('CLOSED', 'the client is closed');
      const { setPresence } = await request(ClientSetPresenceDocument, { status, deviceId: opts.deviceId });
      state.applyMe(setPresence);
      return setPresence;
    },
    async setStatusMessage(message) {
      if (closed) throw new PresenceClientError('CLOSED', 'the client is closed');
      const { setStatusMessage } = await request(ClientSetStatusMessageDocument, message);
      state.applyMe(setStatusMessage);
      return setStatusMessage;
    },
    async reportActivity() {
      if (closed) return null;
      const { reportActivity } = await request(ClientReportActivityDocument, { deviceId: opts.deviceId });
      state.applyMe(reportActivity);
      return reportActivity;
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      if (state.connection !== 'failed') state.setConnection('closed', null);
    },
  };
}
