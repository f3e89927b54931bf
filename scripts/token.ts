// npm run token -- <userId> [--service] [--expires 12h]
// Prints a token signed with JWT_SECRET, or with the documented development secret when unset.
import { parseArgs } from 'node:util';
import { signToken } from '../src/auth.js';
import { loadConfig } from '../src/config.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { service: { type: 'boolean', default: false }, expires: { type: 'string', default: '12h' } },
});
const sub = positionals[0];
if (!sub || positionals.length > 1) {
  console.error('usage: npm run token -- <userId> [--service] [--expires 12h]');
  process.exit(2);
}
const config = loadConfig(process.env);
if (config.jwt.jwksUrl) {
  console.error('JWT_JWKS_URL is set: tokens come from your identity provider, not from this script.');
  process.exit(2);
}
console.log(
  await signToken(config.jwt.secret!, sub, {
    service: values.service,
    expiresIn: values.expires,
    ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
  }),
);
