import type { Config } from '../config.js';
import type { PresenceEngine } from '../engine/ports.js';
import type { Metrics } from '../infra/metrics.js';

/**
 * The per-user windows of RATE_LIMIT_COUNT calls per RATE_LIMIT_WINDOW_MS, shared by every
 * instance through the engine. A status change counts against `setPresence` however it arrives:
 * the mutation, or `connectionParams.status` when a socket connects (else reconnecting would be a
 * way around the limit, issue 12). Every other limited mutation has its own window.
 */
export type LimitedOperation = 'setPresence' | 'heartbeat' | 'reportActivity' | 'setStatusMessage' | 'setPrivacy';

export interface RateLimitDeps {
  engine: Pick<PresenceEngine, 'hit'>;
  config: Pick<Readonly<Config>, 'limits'>;
  metrics: Pick<Metrics, 'rateLimited'>;
}

/** Counts one call of `userId`; `allowed` is false past the limit, `retryAfterMs` when the window ends. */
export async function countCall(
  deps: RateLimitDeps,
  operation: LimitedOperation,
  userId: string,
): Promise<{ allowed: boolean; retryAfterMs: number }> {
  const { rateLimitCount, rateLimitWindowMs } = deps.config.limits;
  const result = await deps.engine.hit(`${operation}:${userId}`, rateLimitCount, rateLimitWindowMs);
  if (!result.allowed) deps.metrics.rateLimited.inc({ operation });
  return result;
}
