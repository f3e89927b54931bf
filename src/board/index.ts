import type { Plugin } from 'graphql-yoga';
import { signToken } from '../infra/auth.js';
import type { Config } from '../config.js';
import { assertId } from '../domain/ids.js';
import type { Logger } from '../infra/logger.js';
import { boardScript } from './bundle.js';
import { boardPage } from './html.js';

/** A development sign-in token lives this long; the page asks for the next one before it ends. */
export const DEV_TOKEN_TTL = '15m';

/**
 * The board (README, "Board"): GET /board is the page, GET /board/board.js its script (the client
 * library, bundled), POST /board/dev-token `{ "userId": "alice" }` a development token. Mounted
 * only while BOARD is on; otherwise these paths are yoga's coded 404 like any unknown path.
 *
 * The development sign-in mints a token for any name, so it exists only while the PUBLIC
 * development secret is in use (no JWT_SECRET nor JWT_JWKS_URL, which production forbids): it
 * grants nothing that `npm run token` does not already give anyone. With a real secret it answers
 * 403 DEV_SIGN_IN_DISABLED, and the page asks for a token instead.
 */
export function useBoard(config: Readonly<Config>, logger: Logger): Plugin {
  const devSignIn = config.jwt.usingDevSecret && config.env !== 'production';
  const script = boardScript();
  const page = boardPage({ devSignIn });
  return {
    async onRequest({ request, url, fetchAPI, endResponse }) {
      const path = url.pathname;
      if (path !== '/board' && !path.startsWith('/board/')) return;
      const respond = (body: string, status: number, type: string, extra: Record<string, string> = {}) =>
        endResponse(new fetchAPI.Response(body, { status, headers: { 'content-type': type, 'cache-control': 'no-cache', ...extra } }));
      const refuse = (status: number, code: string, message: string) =>
        respond(JSON.stringify({ errors: [{ message, extensions: { code } }] }), status, 'application/json; charset=utf-8');

      if (path === '/board' && request.method === 'GET') {
        return respond(page, 200, 'text/html; charset=utf-8', {
          // Everything from this origin; the only inline code is the page's stylesheet.
          'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'",
          'x-content-type-options': 'nosniff',
        });
      }
      if (path === '/board/board.js' && request.method === 'GET') {
        try {
          return respond(await script(), 200, 'text/javascript; charset=utf-8', { 'x-content-type-options': 'nosniff' });
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'the board script could not be bundled');
          return refuse(500, 'INTERNAL_SERVER_ERROR', 'the board script is not available');
        }
      }
      if (path === '/board/dev-token' && request.method === 'POST') {
        if (!devSignIn) {
          return refuse(403, 'DEV_SIGN_IN_DISABLED', 'development sign-in works only with the development secret (no JWT_SECRET set)');
        }
        const body = (await request.json().catch(() => null)) as { userId?: unknown } | null;
        const userId = typeof body?.userId === 'string' ? body.userId.trim() : '';
        try {
          assertId(userId, config.maxIdLength, 'userId');
        } catch (err) {
          return refuse(400, 'BAD_USER_INPUT', (err as Error).message);
        }
        const token = await signToken(config.jwt.secret!, userId, {
          expiresIn: DEV_TOKEN_TTL,
          ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
          ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
        });
        return respond(JSON.stringify({ token }), 200, 'application/json; charset=utf-8', { 'cache-control': 'no-store' });
      }
      return refuse(404, 'NOT_FOUND', 'not found');
    },
  };
}
