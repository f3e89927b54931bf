/**
 * Reads a JWT's payload WITHOUT verifying it: the client only needs `exp` and `sub` to know when to
 * ask for a fresh token. The server verifies every token; nothing here is trusted for access.
 */

/** The decoded payload, or null when the token is not a JWT the client can read (it is still sent). */
export function decodeJwtPayload(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The token's `exp` in epoch milliseconds, or null when it has none (or cannot be read). */
export function tokenExpiresAt(token: string): number | null {
  const exp = decodeJwtPayload(token)?.['exp'];
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
}

/**
 * When to ask for the next token: `leadMs` before exp, but never earlier than halfway through the
 * time left when the token arrived (so a short-lived token is not refreshed in a tight loop).
 * Null when the token has no exp.
 */
export function refreshAt(expiresAt: number | null, receivedAt: number, leadMs: number): number | null {
  if (expiresAt === null) return null;
  const left = Math.max(0, expiresAt - receivedAt);
  return expiresAt - Math.min(leadMs, left / 2);
}
