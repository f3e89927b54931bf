import { createApp, type App } from '../../src/server/app.js';
import { signToken } from '../../src/infra/auth.js';
import { DEV_JWT_SECRET, loadConfig, type Config } from '../../src/config.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface TestServer {
  url: string;
  /** The internal listener's base URL: `${metricsUrl}/metrics`. */
  metricsUrl: string;
  app: App;
  config: Readonly<Config>;
  token(userId: string, opts?: { service?: boolean; expiresIn?: string | number }): Promise<string>;
  stop(): Promise<void>;
}

/** An app in this process on a free port, from env-style settings (as main.ts would read them). */
export async function startApp(env: Record<string, string | undefined> = {}): Promise<TestServer> {
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', METRICS_PORT: '0', JWT_SECRET: TEST_SECRET, ...env });
  const app = createApp(config);
  const { url, metricsUrl } = await app.start();
  return {
    url,
    metricsUrl,
    app,
    config,
    token: (userId, opts = {}) => signToken(config.jwt.secret ?? DEV_JWT_SECRET, userId, opts),
    stop: () => app.stop(),
  };
}
