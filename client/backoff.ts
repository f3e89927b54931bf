/**
 * Reconnect delays: exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
 * Architecture Blog). Attempt n waits a uniformly random time in [0, min(capMs, baseMs * 2^n)], so
 * clients that lost the same server at the same moment spread out instead of coming back together.
 * Pure functions: `random` is injectable so tests can pin it.
 */

export interface BackoffOptions {
  /** The ceiling of the first retry's delay. @default 500 // 0.5 s */
  baseMs: number;
  /** No delay is ever above this. @default 30_000 // 30 s */
  capMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ baseMs: 500, capMs: 30_000 });

/** The largest delay attempt `attempt` (0 for the first retry) may wait: min(capMs, baseMs * 2^attempt). */
export function backoffCeiling(attempt: number, { baseMs, capMs }: BackoffOptions = DEFAULT_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new TypeError(`attempt must be an integer >= 0, got ${attempt}`);
  if (!(baseMs >= 0) || !(capMs >= 0)) throw new TypeError(`baseMs and capMs must be >= 0, got ${baseMs} and ${capMs}`);
  // 2^attempt overflows to Infinity past ~1023; min() keeps the cap either way.
  return Math.min(capMs, baseMs * 2 ** attempt);
}

/** Full jitter: a uniformly random delay in [0, backoffCeiling(attempt)]. */
export function fullJitterDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  return jitterIn(0, backoffCeiling(attempt, opts), random);
}

/**
 * A periodic timer's next delay, spread uniformly over intervalMs * [1 - spread, 1 + spread], so
 * that clients started together (a deploy, a page reload wave) do not stay in step.
 */
export function jitteredInterval(intervalMs: number, spread: number, random: () => number = Math.random): number {
  if (!(intervalMs >= 0)) throw new TypeError(`intervalMs must be >= 0, got ${intervalMs}`);
  if (!(spread >= 0 && spread <= 1)) throw new TypeError(`spread must be within [0, 1], got ${spread}`);
  return jitterIn(intervalMs * (1 - spread), intervalMs * (1 + spread), random);
}

/** A whole number of milliseconds, uniformly within [lo, hi]. */
function jitterIn(lo: number, hi: number, random: () => number): number {
  return Math.min(hi, Math.max(lo, Math.round(lo + random() * (hi - lo))));
}
