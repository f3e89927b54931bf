import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from './config.js';
import { unauthenticated } from './errors.js';
import { assertId } from './ids.js';

/** Who is asking: a user, possibly holding a service token. */
export interface Viewer {
  userId: string;
  /** `role: "service"` tokens may manage friendships. */
  service: boolean;
  /** Token expiry, seconds since epoch (null if the token has none). */
  exp: number | null;
}

export type VerifyToken = (token: string) => Promise<Viewer>;

/**
 * A verifier pinned to the configured algorithms: HS256 with the shared secret, or RS256/ES256
 * from the JWKS. Pinning is what refuses `alg: none` and HS256 tokens signed with a public key.
 */
export function createVerifier(cfg: JwtConfig, maxIdLength: number): VerifyToken {
  const key: Uint8Array | JWTVerifyGetKey = cfg.jwksUrl
    ? createRemoteJWKSet(new URL(cfg.jwksUrl))
    : new TextEncoder().encode(cfg.secret!);
  const algorithms = cfg.jwksUrl ? ['RS256', 'ES256'] : ['HS256'];

  return async (token) => {
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
    return { userId: payload.sub, service: payload['role'] === 'service', exp: payload.exp ?? null };
  };
}

// Tell the client what is wrong with its token without echoing any of it.
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
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
