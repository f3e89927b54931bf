/**
 * Presence's client library: a live friends list over one graphql-ws socket (or HTTP heartbeats),
 * with version dedupe, full-jitter reconnects and token refresh. graphql-ws is its only dependency.
 */
export { createPresenceClient, type PresenceClient, type PresenceClientOptions } from './client.js';
export { ACTIVITY_EVENTS, createActivityThrottle, listenForActivity, type ActivityThrottleOptions } from './activity.js';
export { backoffCeiling, fullJitterDelay, jitteredInterval, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { applyEvents, isNewer, mergeSnapshot, type ConnectionState, type Listener, type Merged, type PresenceChange } from './store.js';
export { decodeJwtPayload, refreshAt, tokenExpiresAt } from './jwt.js';
export { CloseCodes, PresenceClientError, type PresenceClientErrorCode } from './errors.js';
export * from './documents.js';
