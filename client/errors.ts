/**
 * What the client reports through `onError` and `client.error`. Fatal errors end the client
 * (`connection: 'failed'`, no more retries); the others are reported while it keeps retrying.
 */
export type PresenceClientErrorCode =
  /** The server refused the token (WebSocket 4401, or HTTP 401 with a fresh token): fatal. */
  | 'UNAUTHORIZED'
  /** The token expired (4403 / HTTP 401) and there is no `getToken` to ask for another: fatal. */
  | 'TOKEN_EXPIRED'
  /** `getToken` threw or rejected; retried with backoff. */
  | 'TOKEN_REFRESH_FAILED'
  /** The server refused the connection as malformed (4400, e.g. a bad deviceId): fatal. */
  | 'BAD_REQUEST'
  /** `maxAttempts` reconnections failed in a row: fatal. */
  | 'RETRIES_EXHAUSTED'
  /** The connection closed or a request failed; the client retries with backoff. */
  | 'CONNECTION_LOST'
  /** `setStatus` while the socket is down (it is not queued). */
  | 'NOT_CONNECTED'
  /** A GraphQL error from the server (`serverCode` holds its extensions.code). */
  | 'GRAPHQL_ERROR'
  /** The client was closed. */
  | 'CLOSED';

export class PresenceClientError extends Error {
  override readonly name = 'PresenceClientError';
  constructor(
    readonly code: PresenceClientErrorCode,
    message: string,
    readonly details: {
      /** Ends the client: no more retries. */
      fatal?: boolean;
      /** The WebSocket close code that caused it. */
      closeCode?: number;
      /** `extensions.code` of a GraphQL error (RATE_LIMITED, UNAUTHENTICATED, ...). */
      serverCode?: string;
      /** `extensions.retryAfterMs` of a RATE_LIMITED error. */
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
  }

  get fatal(): boolean {
    return this.details.fatal ?? false;
  }
}

/** WebSocket close codes the Presence server uses (README, "Realtime"). */
export { CloseCodes } from './close-codes.js';
