import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../context.js';
import { forbidden, unauthenticated } from '../errors.js';

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

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 UTC string with milliseconds, e.g. 2026-01-31T12:00:00.000Z.',
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => {
    const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return d;
  },
});

builder.queryType({});
builder.mutationType({});
