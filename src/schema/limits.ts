import type { Context } from './context.js';
import { SessionLimitError, ErrorCode } from '../domain/errors.js';
import { presenceError, rateLimited } from '../infra/graphql-errors.js';
import { countCall, type LimitedOperation } from './rate-limit.js';

/** Counts the call against the caller's shared per-operation window; throws RATE_LIMITED past it. */
export async function rateLimit(ctx: Context, operation: LimitedOperation) {
  const { allowed, retryAfterMs } = await countCall(ctx, operation, ctx.viewer!.userId);
  if (allowed) return;
  const { rateLimitCount, rateLimitWindowMs } = ctx.config.limits;
  throw rateLimited(`too many ${operation} calls: at most ${rateLimitCount} per ${rateLimitWindowMs} ms`, retryAfterMs);
}

/** A new device beyond PRESENCE_MAX_SESSIONS is the client's doing: say so, with a code. */
export async function limited<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (err) {
    if (err instanceof SessionLimitError) throw presenceError(ErrorCode.LimitExceeded, err.message);
    throw err;
  }
}
