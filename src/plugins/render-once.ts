import type { Plugin } from 'graphql-yoga';
import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';

/**
 * Render each event once per instance per distinct selection: subscribers that receive the same
 * event object (src/realtime/watch.ts shares one view per change and relation) through the same
 * document, variables and operation share one ExecutionResult, instead of one GraphQL execution
 * per subscriber. graphql-ws and SSE still serialize it per connection (each frame carries its
 * own operation id), so what clients receive is byte for byte what they received before.
 *
 * This replaces only the subscribe function (envelop's `setSubscribeFn`): source stream, then one
 * execution per event, exactly what graphql-js' `subscribe` does, with a cache in between. Every
 * other plugin (masking, metrics, limits) still wraps it. The cache holds results by the event
 * object (a WeakMap: they go when the event does), so it only ever shares between subscribers the
 * resolvers could not tell apart: the Subscription fields here resolve from the event alone and
 * never read the context. A field that reads the context must not be added under Subscription
 * without keying this cache by it.
 */
export function useRenderOnce(opts: { onRender?: () => void } = {}): Plugin {
  const rendered = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
  const documents = new WeakMap<DocumentNode, number>();
  let nextDocument = 0;

  const subscribe = async (args: ExecutionArgs) => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    let doc = documents.get(args.document);
    if (doc === undefined) documents.set(args.document, (doc = nextDocument++));
    // yoga's parser cache hands the same DocumentNode to every request with the same text.
    const key = `${doc}|${args.operationName ?? ''}|${JSON.stringify(args.variableValues ?? {})}`;
    return mapStream(stream, (payload) => {
      if (typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload });
      let byKey = rendered.get(payload);
      if (!byKey) rendered.set(payload, (byKey = new Map()));
      let result = byKey.get(key);
      if (!result) {
        opts.onRender?.();
        byKey.set(key, (result = execute({ ...args, rootValue: payload })));
      }
      return result;
    });
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as never);
    },
  };
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/**
 * Maps a stream like graphql-js' mapAsyncIterator: return() reaches the source at once, even
 * while a next() is pending (an async generator would hold it until the next event).
 */
function mapStream<T, U>(stream: AsyncIterable<T>, fn: (value: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const it = stream[Symbol.asyncIterator]();
  const done = (): IteratorResult<U> => ({ value: undefined, done: true });
  return {
    async next() {
      const r = await it.next();
      return r.done ? done() : { value: await fn(r.value), done: false };
    },
    async return() {
      await it.return?.();
      return done();
    },
    async throw(err: unknown) {
      if (it.throw) {
        const r = await it.throw(err);
        return r.done ? done() : { value: await fn(r.value), done: false };
      }
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
