import type { Plugin } from 'graphql-yoga';

/** Codes for the refusals yoga answers with an empty body. */
const codeFor: Record<number, string> = {
  404: 'NOT_FOUND',
  406: 'NOT_ACCEPTABLE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Yoga answers an unknown path (404), an Accept it cannot serve (406) and a Content-Type it cannot
 * read (415) with an empty body. Clients branch on `extensions.code`, so every refusal gets a
 * GraphQL-shaped JSON body with one; the status stays what yoga chose.
 */
export function useCodedRefusals(): Plugin {
  return {
    onResponse({ response, setResponse, fetchAPI }) {
      if (response.status < 400 || response.headers.get('content-type')) return;
      const code = codeFor[response.status] ?? 'BAD_REQUEST';
      const message = code.toLowerCase().replaceAll('_', ' ');
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-type', 'application/json; charset=utf-8');
      headers.delete('content-length');
      setResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), { status: response.status, headers }),
      );
    },
  };
}
