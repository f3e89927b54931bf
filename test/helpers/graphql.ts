import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';

export interface GraphQLResponse<T> extends ExecutionResult<T> {
  status: number;
}

/** One GraphQL request over real HTTP, typed by a codegen document. */
export async function request<T, V extends Record<string, unknown>>(
  url: string,
  doc: TypedDocumentNode<T, V>,
  variables: V,
  token?: string | null,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return { status: res.status, ...((await res.json()) as ExecutionResult<T>) };
}

/** The data of a response that must have succeeded; fails the test with the errors otherwise. */
export async function ok<T, V extends Record<string, unknown>>(
  url: string,
  doc: TypedDocumentNode<T, V>,
  variables: V,
  token?: string | null,
): Promise<T> {
  const res = await request(url, doc, variables, token);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** The error codes of a response, in order. */
export const codes = (res: ExecutionResult<unknown>) => (res.errors ?? []).map((e) => e.extensions?.['code']);
