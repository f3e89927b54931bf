import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../domain/errors.js';

/**
 * graphql-js reports bad variable values ("$s got invalid value ...") as plain request errors with
 * no code. Clients branch on `extensions.code`, so give them BAD_USER_INPUT. Runs inside execute
 * and subscribe, so HTTP, SSE and graphql-ws all get it.
 */
export function useErrorCodes(): Plugin {
  const fix = (result: ExecutionResult, setResult: (r: ExecutionResult) => void) => {
    // Only request errors (no data, no path): resolver errors are either coded or masked later.
    if (!result.errors?.length || result.data !== undefined) return;
    if (result.errors.every((e) => e.extensions?.['code'] || e.path)) return;
    setResult({
      ...result,
      errors: result.errors.map((e) => (e.path ? e : coded(e, ErrorCode.BadUserInput))),
    });
  };
  // A request error: the whole request is refused, so it is also a 400 (GraphQL over HTTP).
  const coded = (e: GraphQLError, code: string) =>
    e.extensions?.['code']
      ? e
      : new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code, http: { status: 400 } } });
  return {
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (!(Symbol.asyncIterator in result)) fix(result, setResult);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!(Symbol.asyncIterator in result)) fix(result, setResult as (r: ExecutionResult) => void);
      },
    }),
  };
}
