import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

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
  logger.warn(
    'JWT_SECRET is not set: using the PUBLIC development secret. Anyone can mint tokens. Never run like this in production.',
  );
}
const app = createApp(config, { logger });
const { url } = await app.start();
if (config.env !== 'production') {
  console.error(`\n  Presence is running (${app.engine.kind} engine)\n  GraphiQL:  ${url}/graphql\n  Token:     npm run token -- alice   (then header  Authorization: Bearer <token>)\n`);
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
