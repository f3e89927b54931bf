import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../config.js';
import { unauthenticated } from './graphql-errors.js';
import { assertId } from '../domain/ids.js';

/** Who is asking: a user, possibly holding a service token. */
export interface Viewer {
  userId: string;
  /** `role: "service"` tokens may manage friendships. */
  service: boolean;
  /** Token expiry, seconds since epoch (null if the token has none). */
  exp: number | null;
}

export type VerifyToken = (token: string) => Promise<Viewer>;

/** A verifier whose cache of verified tokens can be inspected (tests, benchmarks). */
export interface CachingVerifier extends VerifyToken {
  /** Tokens held now (never above JwtConfig.cacheSize); answers from the cache; verifications by jose. */
  cacheStats(): { size: number; hits: number; misses: number };
}

/**
 * A verifier pinned to the configured algorithms: HS256 with the shared secret, or RS256/ES256
 * from the JWKS. Pinning is what refuses `alg: none` and HS256 tokens signed with a public key.
 *
 * Verifying a token (~100 µs of CPU for HS256, more for RS256/ES256) would otherwise be paid on
 * every request, while a client sends the same token for minutes. So a token that jose accepted is
 * remembered (by its SHA-256) in a bounded LRU until the earlier of its `exp` and `cacheMaxAgeS`
 * after it was verified, then verified again. Only what jose accepted is ever cached, and it is
 * dropped at `exp` exactly, before jose's own clock tolerance would end, so the cache never accepts
 * a token jose would refuse at that moment; the one difference is a JWKS key withdrawn while a token
 * it signed is cached, which is accepted for at most `cacheMaxAgeS` more (jose's own key cache
 * already keeps a withdrawn key for up to 10 minutes).
 */
export function createVerifier(cfg: JwtConfig, maxIdLength: number): CachingVerifier {
  const key: Uint8Array | JWTVerifyGetKey = cfg.jwksUrl ? createRemoteJWKSet(new URL(cfg.jwksUrl)) : new TextEncoder().encode(cfg.secret!);
  const algorithms = cfg.jwksUrl ? ['RS256', 'ES256'] : ['HS256'];

  const verify = async (token: string): Promise<Viewer> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        clockTolerance: cfg.clockToleranceS,
        ...(cfg.issuer ? { issuer: cfg.issuer } : {}),
        ...(cfg.audience ? { audience: cfg.audience } : {}),
      }));
    } catch (err) {
      throw unauthenticated(describe(err));
    }
    // A blank subject names nobody; a lone surrogate would collapse into another user's id.
    if (typeof payload.sub !== 'string' || payload.sub.trim() === '') throw unauthenticated('token has no subject');
    try {
      assertId(payload.sub, maxIdLength, 'token subject');
    } catch {
      throw unauthenticated('token subject is not a valid user id');
    }
    return Object.freeze({ userId: payload.sub, service: payload['role'] === 'service', exp: payload.exp ?? null });
  };

  const cache = createTokenCache(cfg.cacheSize, cfg.cacheMaxAgeS * 1000);
  let hits = 0;
  let misses = 0;
  const cached: CachingVerifier = Object.assign(
    async (token: string) => {
      const id = cache.enabled ? createHash('sha256').update(token).digest('base64') : '';
      const hit = cache.get(id);
      if (hit) {
        hits++;
        return hit;
      }
      misses++;
      const viewer = await verify(token);
      cache.set(id, viewer);
      return viewer;
    },
    { cacheStats: () => ({ size: cache.size(), hits, misses }) },
  );
  return cached;
}

/**
 * A bounded LRU of verified viewers: a Map in recency order (a hit moves its entry to the end; an
 * insert past `maxEntries` drops the first, least recently used). An entry lapses at the earlier of
 * the token's `exp` and `maxAgeMs` after it was stored. `maxEntries` 0 turns the cache off.
 */
function createTokenCache(maxEntries: number, maxAgeMs: number) {
  const entries = new Map<string, { viewer: Viewer; until: number }>();
  const enabled = maxEntries > 0 && maxAgeMs > 0;
  return {
    enabled,
    size: () => entries.size,
    get(id: string): Viewer | null {
      if (!enabled) return null;
      const e = entries.get(id);
      if (!e) return null;
      entries.delete(id);
      if (Date.now() >= e.until) return null;
      entries.set(id, e);
      return e.viewer;
    },
    set(id: string, viewer: Viewer) {
      if (!enabled) return;
      const now = Date.now();
      const until = Math.min(now + maxAgeMs, viewer.exp === null ? Infinity : viewer.exp * 1000);
      if (until <= now) return; // accepted only thanks to the clock tolerance: not worth keeping
      entries.delete(id);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(id, { viewer, until });
    },
  };
}

/** The message of an expired token's error: a client may retry with a fresh token. */
export const TOKEN_EXPIRED = 'token expired';

// Tell the client what is wrong with its token without echoing any of it.
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return TOKEN_EXPIRED;
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim "${err.claim}" rejected`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  return 'token invalid';
}

/** `Bearer <token>` -> token; null when absent. Throws UNAUTHENTICATED when malformed. */
export function bearer(header: string | null | undefined): string | null {
  if (header === null || header === undefined || header === '') return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) throw unauthenticated('expected "Authorization: Bearer <JWT>"');
  return m[1]!;
}

/** The viewer of an Authorization header: null without one; UNAUTHENTICATED for a bad token. */
export type ViewerFrom = (authorization: string | null | undefined) => Promise<Viewer | null>;

export function createViewerFrom(cfg: JwtConfig, maxIdLength: number): ViewerFrom {
  const verify = createVerifier(cfg, maxIdLength);
  return async (authorization) => {
    const token = bearer(authorization);
    return token === null ? null : verify(token);
  };
}

/** Signs an HS256 token: `npm run token` and tests. */
export async function signToken(
  secret: string,
  sub: string,
  opts: { service?: boolean; expiresIn?: string | number; issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT(opts.service ? { role: 'service' } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '12h');
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
