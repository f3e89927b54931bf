import type { Client } from 'graphql-ws';
import type { TypedDocument } from './documents.js';
import { PresenceClientError } from './errors.js';

/** The error of a GraphQL response, typed (the first error decides the code). */
export function graphQLError(errors: readonly unknown[]): PresenceClientError {
  const first = (errors[0] ?? {}) as { message?: string; extensions?: { code?: unknown; retryAfterMs?: unknown } };
  const serverCode = typeof first.extensions?.code === 'string' ? first.extensions.code : undefined;
  const retryAfterMs = typeof first.extensions?.retryAfterMs === 'number' ? first.extensions.retryAfterMs : undefined;
  return new PresenceClientError('GRAPHQL_ERROR', first.message ?? 'GraphQL error', {
    ...(serverCode ? { serverCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/** One query or mutation over a graphql-ws client: its data, or a PresenceClientError. */
export function runOnSocket<R, V extends Record<string, unknown>>(client: Client, doc: TypedDocument<R, V>, variables: V): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let data: R | undefined;
    client.subscribe<R>(
      { query: doc.query, operationName: doc.operationName, variables },
      {
        next: (r) => {
          if (r.errors?.length) reject(graphQLError(r.errors));
          else data = r.data as R;
        },
        error: (err) => reject(closeError(err)),
        complete: () => (data === undefined ? reject(new PresenceClientError('CONNECTION_LOST', 'no result')) : resolve(data)),
      },
    );
  });
}

/** A graphql-ws sink error (a close event, an Error, or GraphQL errors) as a PresenceClientError. */
export function closeError(err: unknown): PresenceClientError {
  if (err instanceof PresenceClientError) return err;
  if (Array.isArray(err)) return graphQLError(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') {
    const reason = (err as { reason?: unknown }).reason;
    return new PresenceClientError('CONNECTION_LOST', `socket closed: ${code}${reason ? ` ${String(reason)}` : ''}`, { closeCode: code });
  }
  return new PresenceClientError('CONNECTION_LOST', err instanceof Error ? err.message : 'socket error');
}
