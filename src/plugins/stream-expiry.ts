import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { TOKEN_EXPIRED } from '../infra/auth.js';
import type { Context, SocketContext } from '../schema/context.js';
import { unauthenticated } from '../infra/graphql-errors.js';
import { at } from '../infra/timers.js';

/**
 * An event stream (SSE) ends when its token expires, as a WebSocket is closed with 4403: the last
 * event is an UNAUTHENTICATED "token expired" error, after which the client subscribes again with
 * a fresh token. Socket operations are ended by their socket (src/transport/ws.ts).
 */
export function useStreamExpiry(): Plugin {
  return {
    onSubscribe({ args }) {
      const ctx = args.contextValue as Partial<Context & SocketContext>;
      const exp = ctx.viewer?.exp;
      if (ctx.socketViewer || !exp) return;
      return {
        onSubscribeResult: ({ result, setResult }) => {
          if (Symbol.asyncIterator in result) setResult(untilExpiry(result, exp * 1000));
        },
      };
    },
  };
}

/**
 * The stream, ended at `expiresAtMs` with one last error. A hand-written iterator, not an async
 * generator: a generator suspended on `await` cannot be returned until its next event arrives, so
 * a client going away would not release the subscription until then.
 */
function untilExpiry(source: AsyncIterable<ExecutionResult>, expiresAtMs: number): AsyncIterableIterator<ExecutionResult> {
  const events = source[Symbol.asyncIterator]();
  let finished = false;
  let expire!: () => void;
  const expired = new Promise<'expired'>((resolve) => (expire = () => resolve('expired')));
  const timer = at(expiresAtMs, expire);
  const finish = async () => {
    if (finished) return;
    finished = true;
    timer.clear();
    await events.return?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return { done: true, value: undefined };
      const next = await Promise.race([events.next(), expired]);
      if (next === 'expired') {
        await finish();
        return { done: false, value: { errors: [unauthenticated(TOKEN_EXPIRED)] } };
      }
      if (next.done) await finish();
      return next;
    },
    async return() {
      await finish();
      return { done: true, value: undefined };
    },
    async throw(err: unknown) {
      await finish();
      throw err;
    },
  };
}
