import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

export type { Logger };

/** JSON lines on stdout. Tokens never reach a log: the only auth data logged is a user id. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'presence' },
    redact: { paths: ['*.authorization', '*.token', '*.secret', 'jwt.secret', 'config.jwt.secret'], censor: '[redacted]' },
  });
}
