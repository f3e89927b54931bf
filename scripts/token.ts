// npm run token -- <userId> [--service] [--expires 12h]
// Prints a token signed with JWT_SECRET, or with the documented development secret when unset.
import { parseArgs } from 'node:util';
import { signToken } from '../src/infra/auth.js';
import { ConfigError, loadConfig } from '../src/config.js';

const USAGE = `usage: npm run token -- <userId> [--service] [--expires 12h]

  --service       a service token (role "service": may call addFriends and removeFriends)
  --expires SPAN  lifetime, e.g. 30s, 15m, 12h, 7d (default 12h)

Signed with JWT_SECRET, or with the public development secret when it is unset.`;

/** A usage mistake: the usage line and exit code 2, never a stack trace. */
function usage(problem?: string): never {
  console.error(problem ? `${problem}\n\n${USAGE}` : USAGE);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      service: { type: 'boolean', default: false },
      expires: { type: 'string', default: '12h' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  usage((err as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const sub = positionals[0];
if (!sub || positionals.length > 1) usage();
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  usage(`invalid configuration: ${err.message}`);
}
if (config.jwt.jwksUrl) {
  console.error('JWT_JWKS_URL is set: tokens come from your identity provider, not from this script.');
  process.exit(2);
}
try {
  console.log(
    await signToken(config.jwt.secret!, sub, {
      service: values.service,
      expiresIn: values.expires,
      ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
      ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
    }),
  );
} catch (err) {
  usage(`--expires ${values.expires}: ${(err as Error).message}`);
}
