import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from './context.js';
import { forbidden, unauthenticated } from '../infra/graphql-errors.js';

/** The one Pothos builder: context type, scalars and auth scopes are declared here only. */
export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { user: boolean; service: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: number | Date };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Refuse a subscription when it starts, not when its first event arrives.
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ user: ctx.viewer !== null, service: ctx.viewer?.service ?? false }),
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer ? forbidden('this operation needs a service token') : unauthenticated('sign in: send Authorization: Bearer <JWT>'),
  },
});

/**
 * The ISO string of an instant, from a small direct-mapped cache: a presence(ids) answer formats
 * ~100 instants, and every online user in it reads the same one (the request's "now"), so most
 * are formatted once per request, not once per user. 1,024 slots, indexed by the low bits of the
 * millisecond value: a fixed 1,024 strings at most, whatever clients ask.
 */
const ISO_SLOTS = 1_024;
const isoMs = new Float64Array(ISO_SLOTS).fill(NaN);
const isoText: string[] = new Array<string>(ISO_SLOTS).fill('');
export function isoString(ms: number): string {
  const slot = ms & (ISO_SLOTS - 1);
  if (isoMs[slot] === ms) return isoText[slot]!;
  const text = new Date(ms).toISOString(); // a RangeError for an invalid instant, cached never
  isoMs[slot] = ms;
  isoText[slot] = text;
  return text;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 UTC string with milliseconds, e.g. 2026-01-31T12:00:00.000Z.',
  serialize: (value) => isoString(typeof value === 'number' ? value : value.getTime()),
  parseValue: (value) => {
    const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return d;
  },
});

builder.queryType({});
builder.mutationType({});
