import type { ExecutionResult } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** yoga's request parser (one per content type), as onRequestParse hands it over. */
type RequestParser = Parameters<Parameters<NonNullable<Plugin['onRequestParse']>>[0]['setRequestParser']>[0];

/**
 * A GET request whose `variables` or `extensions` parameter is not JSON (`variables={bad`) is the
 * client's mistake: 400 BAD_REQUEST, like a POST body that is not JSON, and nothing in the error
 * log. yoga's GET parser lets the SyntaxError escape, which would be masked as a 500.
 */
export function useMalformedParams(): Plugin {
  // One wrapper per parser (yoga has a handful), made once: nothing is allocated per request, and
  // a parser that answers at once is not turned into a promise.
  const wrapped = new WeakMap<RequestParser, RequestParser>();
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      let wrapper = wrapped.get(requestParser);
      if (!wrapper) wrapped.set(requestParser, (wrapper = refusingMalformed(requestParser)));
      setRequestParser(wrapper);
    },
  };
}

function refusingMalformed(parse: RequestParser): RequestParser {
  return (request) => {
    let parsed: ReturnType<RequestParser>;
    try {
      parsed = parse(request);
    } catch (err) {
      return Promise.reject(malformed(err));
    }
    return isPromiseLike(parsed) ? Promise.resolve(parsed).catch((err: unknown) => Promise.reject(malformed(err)) as never) : parsed;
  };
}

const isPromiseLike = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then === 'function';

/** The client's mistake as a coded 400; anything else as it came. */
function malformed(err: unknown): unknown {
  // yoga reports a body that is not JSON with the parser's message, which quotes the whole
  // body back (200 KB in, 200 KB out, to anyone): one short message instead.
  const bodyNotJson = (err as { extensions?: { originalError?: { name?: string } } }).extensions?.originalError?.name === 'SyntaxError';
  if (!(err instanceof SyntaxError) && !bodyNotJson) return err;
  return createGraphQLError(bodyNotJson ? 'the request body is not valid JSON' : 'a request parameter is not valid JSON', {
    extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
  });
}

/** graphql-js' "Did you mean ...?" in every form: fields, types, arguments, enum values. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;
const MASK = ' [Suggestion hidden]';

const hide = (error: Error) => {
  if (SUGGESTION.test(error.message)) error.message = error.message.replace(SUGGESTION, MASK);
  SUGGESTION.lastIndex = 0;
  return error;
};
const hideAll = (result: ExecutionResult) => {
  result.errors?.forEach(hide);
};

/**
 * Outside development, error messages do not suggest names: suggestions let anyone map a schema
 * with introspection off. GraphQL Armor's blockFieldSuggestion misses enum values ("Did you mean
 * the enum value ...") and variable values, which fail in execute, not validate; this covers
 * validation, execution and subscription results on every transport.
 */
export function useNoSuggestions(): Plugin {
  return {
    onValidate:
      () =>
      ({ result }) => {
        result.forEach(hide);
      },
    onExecute: () => ({
      onExecuteDone: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) hideAll(result);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) hideAll(result as ExecutionResult);
      },
      onSubscribeError: ({ error }) => {
        if (error instanceof Error) hide(error);
      },
    }),
  };
}
