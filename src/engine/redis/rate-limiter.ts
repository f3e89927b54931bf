import type { RateLimiter } from '../ports.js';
import { scriptsOf } from './commands.js';
import type { RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/** Fixed windows shared by every instance: one HIT script (INCR, PEXPIRE on the first) per call. */
export function createRedisRateLimiter({ client, keys }: { client: RedisClient; keys: RedisKeys }): RateLimiter {
  const scripted = scriptsOf(client);
  return {
    async hit(key, count, windowMs) {
      const [n, ttl] = await scripted.hit(keys.rateLimit(key), windowMs);
      return { allowed: n <= count, retryAfterMs: ttl };
    },
  };
}
