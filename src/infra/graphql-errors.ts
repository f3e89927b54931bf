import { createGraphQLError } from 'graphql-yoga';
import { ErrorCode, PresenceError } from '../domain/errors.js';

/**
 * Expected failures as the GraphQL errors a transport or plugin hands to a client itself (a
 * socket's refused operation, a stream's last event, a token refused before parsing). Resolvers
 * may throw the domain's PresenceError instead: graphql-js wraps it with the same extensions.
 */
export const graphqlError = (error: PresenceError) => createGraphQLError(error.message, { extensions: error.extensions });

export const presenceError = (code: ErrorCode, message: string) => graphqlError(new PresenceError(code, message));
export const unauthenticated = (message: string) => presenceError(ErrorCode.Unauthenticated, message);
export const forbidden = (message: string) => presenceError(ErrorCode.Forbidden, message);

/** A per-user limit was hit: the client should wait `retryAfterMs` before trying again. */
export const rateLimited = (message: string, retryAfterMs: number) =>
  graphqlError(new PresenceError(ErrorCode.RateLimited, message, { retryAfterMs }));
