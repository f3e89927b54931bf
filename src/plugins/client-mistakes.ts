import type { ExecutionResult } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * A GET request whose `variables` or `extensions` parameter is not JSON (`variables={bad`) is the
 * client's mistake: 400 BAD_REQUEST, like a POST body that is not JSON, and nothing in the error
 * log. yoga's GET parser lets the SyntaxError escape, which would be masked as a 500.
 */
export function useMalformedParams(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (err) {
          // yoga reports a body that is not JSON with the parser's message, which quotes the whole
          // body back (200 KB in, 200 KB out, to anyone): one short message instead.
          const bodyNotJson =
            (err as { extensions?: { originalError?: { name?: string } } }).extensions?.originalError?.name === 'SyntaxError';
          if (!(err instanceof SyntaxError) && !bodyNotJson) throw err;
          throw createGraphQLError(bodyNotJson ? 'the request body is not valid JSON' : 'a request parameter is not valid JSON', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      });
    },
  };
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
