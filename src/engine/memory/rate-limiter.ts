import type { RateLimiter } from '../ports.js';

/** Windows kept before finished ones are dropped: the map holds only active callers. @default 10_000 */
const PRUNE_ABOVE = 10_000;

/** Fixed windows in this process, the same rule as the Redis engine's HIT script. */
export function createMemoryRateLimiter(): RateLimiter {
  const windows = new Map<string, { n: number; endsAt: number }>();
  return {
    async hit(key, count, windowMs) {
      const now = Date.now();
      let w = windows.get(key);
      if (!w || w.endsAt <= now) {
        if (windows.size > PRUNE_ABOVE) for (const [k, v] of windows) if (v.endsAt <= now) windows.delete(k);
        windows.set(key, (w = { n: 0, endsAt: now + windowMs }));
      }
      w.n++;
      return { allowed: w.n <= count, retryAfterMs: w.endsAt - now };
    },
  };
}
