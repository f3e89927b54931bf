import { createServer, type AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_JWT_SECRET, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('needs no environment at all: memory engine, development secret, documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      env: 'development',
      port: 4000,
      host: '127.0.0.1',
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
      redis: null,
      visibility: 'friends',
      maxIds: 1000,
      maxIdLength: 128,
      graphiql: true,
      board: true,
      buckets: 65_536,
    });
    expect(c.jwt).toMatchObject({ secret: DEV_JWT_SECRET, usingDevSecret: true, clockToleranceS: 5 });
    expect(c.limits.friendsPerUser).toBe(5_000);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ METRICS_PORT: 'abc' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '4000' }, 'METRICS_PORT'],
    [{ PORT: '9464' }, 'METRICS_PORT'],
    [{ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }, 'HTTP_REQUEST_TIMEOUT_MS'],
    [{ HTTP_MAX_CONNECTIONS: '0' }, 'HTTP_MAX_CONNECTIONS'],
    [{ PRESENCE_VISIBILITY: 'public' }, 'PRESENCE_VISIBILITY'],
    [{ PRESENCE_MAX_IDS: '0' }, 'PRESENCE_MAX_IDS'],
    [{ PRESENCE_MAX_FRIENDS: '0' }, 'PRESENCE_MAX_FRIENDS'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_CLUSTER_NODES: 'a:1,b' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1' }, 'REDIS_URL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET }, 'JWT_SECRET'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ GRAPHIQL: 'maybe' }, 'GRAPHIQL'],
    [{ BOARD: 'yes' }, 'BOARD'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message).toContain(variable);
    }
  });

  it('parses Redis topologies', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:6380' }).redis).toEqual({ kind: 'standalone', url: 'redis://10.0.0.1:6380' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'pres' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'pres',
    });
  });

  it('production with real key material turns GraphiQL off by default', () => {
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) });
    expect(c.graphiql).toBe(false);
    expect(c.board).toBe(false);
    expect(c.jwt.usingDevSecret).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40), BOARD: 'on' }).board).toBe(true);
  });

  it('a port in use stops the server with exit code 2 and names the variable, no stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = String((taken.address() as AddressInfo).port);
    try {
      for (const [variable, env] of [
        ['PORT', { PORT: port, METRICS_PORT: '0' }],
        ['METRICS_PORT', { PORT: '0', METRICS_PORT: port }],
      ] as const) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
          env: { PATH: process.env['PATH'], ...env },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toContain(`presence: ${variable}: port ${port} is in use`);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      taken.close();
    }
  });

  it('the server refuses to start in production without keys, naming the variable, exit code 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env['PATH'], NODE_ENV: 'production', PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('JWT_SECRET');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
