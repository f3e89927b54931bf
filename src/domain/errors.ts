/**
 * The closed vocabulary of expected failures. Each reaches the client as a GraphQL error whose
 * `extensions.code` is one of these; anything else thrown is unexpected and masked by yoga.
 */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  BadUserInput: 'BAD_USER_INPUT',
  RateLimited: 'RATE_LIMITED',
  /** Too many subscriptions on one connection, sessions of one user, or friends of one user. */
  LimitExceeded: 'LIMIT_EXCEEDED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const httpStatus: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 400,
};

/**
 * An expected failure, with its code: what the client sent will not do. Thrown by the rules here
 * (an id, a status message) and by resolvers: graphql-js copies `extensions` onto the GraphQL error
 * it wraps this in, and yoga lets it through unmasked (server/yoga.ts). Where a transport hands an
 * error to the client itself, infra/graphql-errors.ts makes the same error a GraphQL one.
 */
export class PresenceError extends Error {
  override name = 'PresenceError';
  /** `http.status` only matters when the error ends the whole request (e.g. a bad token in context). */
  readonly extensions: { code: ErrorCode; retryAfterMs?: number; http: { status: number } };
  constructor(code: ErrorCode, message: string, extra: { retryAfterMs?: number } = {}) {
    super(message);
    this.extensions = { code, ...extra, http: { status: httpStatus[code] } };
  }
}

export const badInput = (message: string) => new PresenceError(ErrorCode.BadUserInput, message);

/** A user already has the most device sessions allowed (PRESENCE_MAX_SESSIONS). */
export class SessionLimitError extends Error {
  override name = 'SessionLimitError';
}

/** A friendship change would give a user more than PRESENCE_MAX_FRIENDS friends; nothing was stored. */
export class FriendLimitError extends Error {
  override name = 'FriendLimitError';
}

/** Redis or another backing service failed; masked for clients, logged for operators. */
export class EngineError extends Error {
  override name = 'EngineError';
}

/** setPrivacy would hide a user from more than MAX_HIDDEN_FROM viewers; nothing was stored. */
export class HiddenLimitError extends Error {
  override name = 'HiddenLimitError';
}
