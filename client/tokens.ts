import { PresenceClientError } from './errors.js';
import { refreshAt, tokenExpiresAt } from './jwt.js';

/** The longest delay setTimeout honours (2^31 - 1 ms, ~24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface TokenSourceOptions {
  token?: string | undefined;
  getToken?: (() => string | Promise<string>) | undefined;
  /** Ask for the next token this long before the current one's exp (at most halfway through its life). */
  refreshLeadMs: number;
  /** A failed background refresh (not fatal: the next connection asks again). */
  onError: (err: PresenceClientError) => void;
}

export interface TokenSource {
  /** `getToken` was given: an expired or refused token can be replaced. */
  readonly refreshable: boolean;
  /** A token to use now: the cached one, or a fresh one when it is due for refresh or invalidated. */
  current(): Promise<string>;
  /**
   * The server refused `token` as expired (4403, HTTP 401): the next `current()` asks for another,
   * unless a fresh one has already replaced it in the meantime (fetched before exp).
   */
  invalidate(token: string): void;
  close(): void;
}

/**
 * Tokens from a fixed string or from `getToken`. With `getToken`, a fresh token is fetched in the
 * background before the current one's exp (its payload is decoded, not verified), so a reconnect
 * after the server closes the expired socket (4403) does not wait for it; one fetch at a time.
 */
export function createTokenSource(opts: TokenSourceOptions): TokenSource {
  const { getToken } = opts;
  if (!getToken) {
    if (typeof opts.token !== 'string' || opts.token === '')
      throw new TypeError('createPresenceClient needs a `token` string or a `getToken` function');
    const token = opts.token;
    return { refreshable: false, current: async () => token, invalidate: () => {}, close: () => {} };
  }
  let cached: { token: string; dueAt: number | null } | null = null;
  let inFlight: Promise<string> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const schedule = (dueAt: number | null) => {
    clearTimeout(timer);
    if (dueAt === null || closed) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now()));
    timer = setTimeout(() => {
      if (cached && cached.dueAt !== null && Date.now() < cached.dueAt) return schedule(cached.dueAt); // a clamped long wait
      fetchToken().catch(() => {}); // reported by fetchToken
    }, delay);
  };

  const fetchToken = (): Promise<string> =>
    (inFlight ??= (async () => {
      try {
        const token = await getToken();
        if (typeof token !== 'string' || token === '') throw new TypeError(`getToken must return a non-empty string, got ${typeof token}`);
        const now = Date.now();
        cached = { token, dueAt: refreshAt(tokenExpiresAt(token), now, opts.refreshLeadMs) };
        schedule(cached.dueAt);
        return token;
      } catch (err) {
        const e = new PresenceClientError('TOKEN_REFRESH_FAILED', `getToken failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!closed) opts.onError(e);
        throw e;
      } finally {
        inFlight = null;
      }
    })());

  return {
    refreshable: true,
    current: async () => {
      if (cached && (cached.dueAt === null || Date.now() < cached.dueAt)) return cached.token;
      return fetchToken();
    },
    invalidate: (token) => {
      if (cached?.token === token) cached = null;
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
  };
}
