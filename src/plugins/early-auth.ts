import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../infra/auth.js';
import { unauthenticated } from '../infra/graphql-errors.js';

export interface EarlyAuth {
  plugin: Plugin;
  /** The viewer verified for this HTTP request before its document was parsed. */
  viewerOf(request: Request, verify: () => Promise<Viewer | null>): Promise<Viewer | null>;
}

/**
 * Authenticates HTTP and SSE requests before their document is parsed and validated, which for a
 * document near the token limit costs tens to hundreds of milliseconds of CPU (issue 12): a bad
 * token is refused (401 UNAUTHENTICATED) without parsing anything, and a request without a token
 * may only send a document of up to `maxAnonymousChars` (enough for GraphiQL's introspection
 * query, ~2,100 characters); every Presence operation needs a token anyway. WebSocket operations
 * are authenticated once, when the socket connects (src/transport/ws.ts). The viewer found here
 * is the one the request's context uses: the token is verified once.
 */
export function createEarlyAuth(
  viewerFrom: (authorization: string | null) => Promise<Viewer | null>,
  maxAnonymousChars: number,
): EarlyAuth {
  const verified = new WeakMap<Request, Viewer | null>();
  return {
    plugin: {
      async onParams({ request, params, setResult }) {
        let viewer: Viewer | null;
        try {
          viewer = await viewerFrom(request.headers.get('authorization'));
        } catch (err) {
          if (!(err instanceof GraphQLError)) throw err;
          setResult({ errors: [err] });
          return;
        }
        verified.set(request, viewer);
        if (viewer === null && (params.query?.length ?? 0) > maxAnonymousChars) {
          setResult({ errors: [unauthenticated(`a token is required for documents over ${maxAnonymousChars} characters`)] });
        }
      },
    },
    viewerOf: (request, verify) => (verified.has(request) ? Promise.resolve(verified.get(request)!) : verify()),
  };
}
