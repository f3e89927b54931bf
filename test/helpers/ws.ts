import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/graphql`;

export interface WsClientOptions {
  onClose?: (code: number) => void;
  /** Connect at once (a device coming online) instead of on the first subscription. */
  eager?: boolean;
  deviceId?: string;
  /** Several URLs: reconnect attempts go round them (a client behind a load balancer). */
  urls?: string[];
  retryAttempts?: number;
}

/** A graphql-ws client that authenticates like Apollo/urql setups do: connectionParams.authorization. */
export function wsClient(httpUrl: string, token: string | null, opts: WsClientOptions = {}): Client {
  let attempt = 0;
  const urls = (opts.urls ?? [httpUrl]).map(wsUrl);
  return createClient({
    url: () => urls[attempt++ % urls.length]!,
    webSocketImpl: WebSocket,
    connectionParams: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.deviceId ? { deviceId: opts.deviceId } : {}) },
    retryAttempts: opts.retryAttempts ?? 0,
    retryWait: async () => new Promise((r) => setTimeout(r, 50)),
    shouldRetry: () => true,
    lazy: !opts.eager,
    // An eager device's socket closing (a killed server, a test ending) is expected here.
    onNonLazyError: () => {},
    on: opts.onClose ? { closed: (e) => opts.onClose!((e as { code: number }).code) } : {},
  });
}

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  dispose(): void;
  /** Resolves with the events once there are `n` of them. */
  take(n: number, timeoutMs?: number): Promise<T[]>;
}

/** Subscribes and records every event's data. */
export function collect<T, V extends Record<string, unknown>>(client: Client, doc: TypedDocumentNode<T, V>, variables: V): Collected<T> {
  const out: Collected<T> = {
    events: [],
    errors: [],
    completed: false,
    dispose: () => {},
    take: (n, timeoutMs = 5_000) =>
      waitFor(
        () => out.events.length >= n || out.errors.length > 0,
        timeoutMs,
        () => `${out.events.length} of ${n} events: ${JSON.stringify(out.events)} errors: ${JSON.stringify(out.errors)}`,
      ).then(() => {
        if (out.errors.length) throw new Error(`subscription failed: ${JSON.stringify(out.errors)}`);
        return out.events.slice(0, n);
      }),
  };
  out.dispose = client.subscribe<T>(
    { query: print(doc), variables },
    {
      next: (r: ExecutionResult<T>) => (r.errors ? out.errors.push(...r.errors) : out.events.push(r.data!)),
      error: (e) => out.errors.push(e),
      complete: () => (out.completed = true),
    },
  );
  return out;
}

/** Polls `cond` until true; a correctness wait with a generous bound, not a timing assertion. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, describe?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms${describe ? `: ${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
