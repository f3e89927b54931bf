import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../../src/infra/auth.js';
import { FriendPresenceChangedDocument, MeDocument, PresencesDocument } from '../generated/graphql.js';
import { request } from '../helpers/graphql.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { collect, waitFor, wsClient } from '../helpers/ws.js';

const SECRET = 'logging-test-secret-0123456789abcdefghijkl';

describe('structured logs', () => {
  let redis: RedisProcess;
  let srv: ServerProcess;
  beforeAll(async () => {
    redis = await startRedis();
    srv = await startServerProcess({ REDIS_URL: redis.url, JWT_SECRET: SECRET, LOG_LEVEL: 'debug', NODE_ENV: 'production' });
  });
  afterAll(async () => {
    await srv?.stop();
    await redis?.stop();
  });

  it('are JSON lines: start with the resolved config minus secrets, Redis connections, shutdown', async () => {
    const token = await signToken(SECRET, 'logged-user');
    const bad = `${token.slice(0, -4)}AAAA`;
    await request(srv.url, MeDocument, {}, token);
    await request(srv.url, MeDocument, {}, bad);
    await request(srv.url, PresencesDocument, { ids: [''] }, token);
    const ws = wsClient(srv.url, token);
    const sub = collect(ws, FriendPresenceChangedDocument, {});
    await waitFor(() => srv.output().includes('redis connected'));
    sub.dispose();
    await ws.dispose();
    // A frame over WS_MAX_PAYLOAD_BYTES: ws closes the socket (1009) and graphql-ws reports an
    // error, which must be one JSON line, not a stack trace on stderr.
    const raw = new WebSocket(`${srv.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((r) => raw.once('open', r));
    raw.send('x'.repeat(300_000));
    expect(await new Promise((r) => raw.once('close', r))).toBe(1009);
    await waitFor(() => srv.output().includes('websocket error'));
    expect(await srv.stop()).toBe(0);

    // Every line is JSON: no console output, no stack traces outside the log.
    const printed = srv
      .output()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(printed.filter((l) => !l.startsWith('{'))).toEqual([]);
    const lines = printed;
    const entries = lines.map((l) => JSON.parse(l) as { level: number; msg: string; config?: { jwt: { secret: string } } });
    const start = entries.find((e) => e.msg === 'presence listening')!;
    expect(start.config!.jwt.secret).toBe('[redacted]');
    expect(entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining(['redis connected', 'presence listening', 'shutting down', 'presence stopped']),
    );

    // Never a token or the secret, whatever happened.
    expect(srv.output()).not.toContain(SECRET);
    expect(srv.output()).not.toContain(token.split('.')[2]!);
    expect(srv.output()).not.toContain(bad.split('.')[2]!);
  });
});
