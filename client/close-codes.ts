/**
 * The WebSocket close codes a Presence server closes a socket with, and what a client should do on
 * each (README, "Realtime"). One table: the server (src/transport/ws.ts) closes with these and
 * this library reacts to them. graphql-ws' own codes keep graphql-ws' meaning; TooManyConnections
 * is Presence's own, in a range graphql-ws does not use (41xx), so that no graphql-ws client reads
 * it as graphql-ws' 4429 (TooManyInitialisationRequests). No imports: the client package ships it.
 */
export const CloseCodes = Object.freeze({
  /** The instance is shutting down: reconnect (to another instance). */
  GoingAway: 1001,
  /**
   * The store is unavailable (Redis unreachable, stalled or refusing writes): retry later, with
   * backoff. 1013 rather than 1011 because graphql-ws' client retries 1013 on its own and treats
   * 1011 as fatal.
   */
  TryAgainLater: 1013,
  /** A malformed request (connectionParams.deviceId): fatal. */
  BadRequest: 4400,
  /** No token, or one that will not do: fatal. */
  Unauthorized: 4401,
  /** The token expired: reconnect with a fresh one. */
  Forbidden: 4403,
  /**
   * The user already holds WS_MAX_CONNECTIONS_PER_USER realtime connections on the instance
   * (sockets and SSE streams), or PRESENCE_MAX_SESSIONS sessions in all: retried with backoff
   * (another may close).
   */
  TooManyConnections: 4129,
  /** graphql-ws' own: the client gave up on a socket that stopped answering pings. */
  Terminated: 4499,
} as const);
