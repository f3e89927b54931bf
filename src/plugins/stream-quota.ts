import type { Plugin } from 'graphql-yoga';
import type { Context, SocketContext } from '../schema/context.js';
import { ErrorCode } from '../domain/errors.js';
import { presenceError } from '../infra/graphql-errors.js';
import type { ConnectionQuota } from '../transport/quota.js';

/**
 * Caps subscriptions over HTTP (Server-Sent Events, one operation per stream) per user like
 * WebSockets: each open stream takes one of the user's WS_MAX_CONNECTIONS_PER_USER connections on
 * this instance, given back when the stream ends (completed, failed or the client went away). A
 * stream beyond the cap is answered at once with LIMIT_EXCEEDED. WebSocket operations are counted
 * per socket in src/transport/ws.ts and pass through untouched.
 */
export function useStreamQuota(quota: ConnectionQuota): Plugin {
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn, setResultAndStopExecution }) {
      const ctx = args.contextValue as Partial<Context & SocketContext>;
      // Anonymous subscriptions fail in their resolver; socket operations are the socket's.
      if (ctx.socketViewer || !ctx.viewer) return;
      const userId = ctx.viewer.userId;
      if (!quota.acquire(userId)) {
        setResultAndStopExecution({
          errors: [
            presenceError(ErrorCode.LimitExceeded, `at most ${quota.max} realtime connections (WebSockets and event streams) per user`),
          ],
        });
        return;
      }
      let held = true;
      const release = () => {
        if (held) quota.release(userId);
        held = false;
      };
      setSubscribeFn(async (a) => {
        try {
          return await subscribeFn(a);
        } catch (err) {
          release();
          throw err;
        }
      });
      return {
        // Not a stream (the subscription was refused): nothing stays open. A stream gives its
        // connection back when it ends, however it ends.
        onSubscribeResult: ({ result }) => (Symbol.asyncIterator in result ? { onEnd: release } : release()),
        onSubscribeError: release,
      };
    },
  };
}
