import { createApp } from './server/app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './infra/logger.js';

// The only module that reads the process: environment in, signals and exit codes out.
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`presence: invalid configuration: ${err.message}`);
  process.exit(2);
}
const logger = createLogger(config);
if (config.jwt.usingDevSecret) {
  logger.warn('JWT_SECRET is not set: using the PUBLIC development secret. Anyone can mint tokens. Never run like this in production.');
}
const app = createApp(config, { logger });
let url: string;
try {
  ({ url } = await app.start());
} catch (err) {
  const { code, port } = err as NodeJS.ErrnoException & { port?: number };
  if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
  // A port someone else holds is a setting to change, not a crash: say which one, like ConfigError.
  const variable = port === config.metricsPort ? 'METRICS_PORT' : 'PORT';
  console.error(
    `presence: ${variable}: port ${port} is ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; set ${variable} to another port (0 picks a free one)`,
  );
  process.exit(2);
}
if (config.env !== 'production') {
  console.error(
    `\n  Presence is running (${app.engine.kind} engine)\n  GraphiQL:  ${url}/graphql\n  Token:     npm run token -- alice   (then header  Authorization: Bearer <token>)\n` +
      (config.board ? `  Board:     ${url}/board\n` : ''),
  );
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
