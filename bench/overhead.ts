/**
 * Benchmark 7: what a request costs over bare graphql-yoga (issue 11).
 *
 * "An authenticated `{ me { status lastActiveAt } }` served at least 0.7 times as fast as a bare
 * graphql-yoga server answering `{ hello }`."
 *
 * Presence: one API server process (src/main.ts, production mode, every plugin) on its own
 * redis-server, BENCH_OVERHEAD_VIEWERS users online, each request with one of their tokens (round
 * robin: the token cache holds them all, as it does for clients that send the same token for
 * minutes), so each request verifies its token, builds a context, checks the auth scope and reads
 * one record from Redis. Baseline: bench/bare-yoga-server.ts, graphql-yoga with one field, no
 * plugins, no Redis. Both over HTTP with undici, BENCH_CONCURRENCY in flight, interleaved (bare,
 * Presence, bare, Presence; BENCH_DURATION_S/2 each). With BENCH_PIN=1 the server under test runs
 * on core 0, Redis and the load generator on the other.
 */
import { randomUUID } from 'node:crypto';
import { signToken } from '../src/infra/auth.js';
import { createMemoryBus } from '../src/engine/bus.js';
import { createRedisEngine } from '../src/engine/redis/index.js';
import { Status } from '../src/domain/presence.js';
import { startRedis } from './lib/redis.js';
import {
  BENCH_SECRET,
  boundBy,
  cpuMeter,
  envInt,
  fmtCpu,
  fmtInt,
  fmtNum,
  httpLoad,
  log,
  meanCpu,
  mergeLoads,
  pin,
  pinning,
  profileLines,
  startNode,
  startPresenceServer,
  track,
  unpin,
  waitForOutput,
  waitIdle,
  type LoadResult,
  type Section,
} from './lib/index.js';
import { profileUnderLoad } from './read.js';

const ME = 'query Me { me { status lastActiveAt } }';
const HELLO = '{ hello }';

export async function benchOverhead(): Promise<Section> {
  const viewers = envInt('BENCH_OVERHEAD_VIEWERS', 1_000);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  const durationMs = envInt('BENCH_DURATION_S', 10) * 1000;
  const warmupMs = envInt('BENCH_WARMUP_S', 2) * 1000;

  const redis = await startRedis(['--hash-max-listpack-entries', '512']);
  track(redis.proc);
  const seed = redis.client();
  const server = await startPresenceServer({ REDIS_URL: redis.url, PRESENCE_RETENTION_SCAN_MS: '3600000' });
  const bare = startNode('bench/bare-yoga-server.ts', { nodeArgs: ['--expose-gc'], env: { NODE_ENV: 'production' } });
  try {
    const barePort = Number((await waitForOutput(bare, /"port":(\d+)[^\n]*bare-yoga listening/))[1]);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const engine = createRedisEngine({ client: seed, prefix: 'presence:', buckets: 65_536, friendship: true, bus: createMemoryBus() });
    const ids = Array.from({ length: viewers }, () => randomUUID());
    const now = Date.now();
    for (const id of ids) await engine.setStatus(id, Status.ONLINE, { sessionId: 'bench', owner: null }, 3_600_000, now);
    const headers = await Promise.all(
      ids.map(async (u) => ({
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${await signToken(BENCH_SECRET, u, { expiresIn: '2h' })}`,
      })),
    );
    const meBody = JSON.stringify({ query: ME, operationName: 'Me' });
    const helloBody = JSON.stringify({ query: HELLO });
    const helloHeaders = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };

    pin(server.pid, 'work');
    pin(bare.pid, 'work');
    pin(redis.proc.pid!, 'rest');
    pin(process.pid, 'rest');
    const pids = { server: server.pid, redis: redis.proc.pid!, 'load generator': process.pid };
    const barePids = { 'bare yoga': bare.pid, 'load generator': process.pid };
    const me = (ms: number, warm: number, onWindow?: (edge: 'start' | 'end') => unknown) =>
      httpLoad({
        url: server.url,
        concurrency,
        warmupMs: warm,
        durationMs: ms,
        request: (i) => ({ body: meBody, headers: headers[i % viewers]! }),
        check: (text) => text.includes('"status":"ONLINE"'),
        ...(onWindow ? { onWindow } : {}),
      });
    const hello = (ms: number, warm: number, onWindow?: (edge: 'start' | 'end') => unknown) =>
      httpLoad({
        url: bareUrl,
        concurrency,
        warmupMs: warm,
        durationMs: ms,
        request: () => ({ body: helloBody, headers: helloHeaders }),
        check: (text) => text.includes('"hello":"world"'),
        ...(onWindow ? { onWindow } : {}),
      });
    await waitIdle(server.pid, 10_000);
    log(`overhead: { me } on Presence vs { hello } on bare yoga, interleaved, ${concurrency} in flight, 2 x ${durationMs / 2000} s each`);
    await hello(0, warmupMs);
    await me(0, warmupMs);
    const meRuns: LoadResult[] = [];
    const helloRuns: LoadResult[] = [];
    const meCpu: Record<string, number>[] = [];
    const helloCpu: Record<string, number>[] = [];
    for (let half = 0; half < 2; half++) {
      let cpu = cpuMeter(barePids);
      helloRuns.push(await hello(durationMs / 2, 0, (e) => (e === 'start' ? (cpu = cpuMeter(barePids)) : helloCpu.push(cpu.stop()))));
      meRuns.push(await me(durationMs / 2, 0, (e) => (e === 'start' ? (cpu = cpuMeter(pids)) : meCpu.push(cpu.stop()))));
    }
    const m = mergeLoads(meRuns);
    const h = mergeLoads(helloRuns);
    if (m.errors || !m.requests) throw new Error(`overhead: { me } failed (${m.errors} errors): ${m.firstError}`);
    if (h.errors || !h.requests) throw new Error(`overhead: { hello } failed (${h.errors} errors): ${h.firstError}`);
    const cm = meCpu.length ? meanCpu(meCpu) : {};
    const ch = helloCpu.length ? meanCpu(helloCpu) : {};
    const ratio = m.rate / h.rate;
    const pass = ratio >= 0.7;
    const perReq = (share: number | undefined, rate: number) => (((share ?? NaN) / 100) * 1e6) / rate;
    const details = [
      `${pinning() ? 'Pinned (BENCH_PIN=1): the server under test on core 0, Redis and the load generator on core 1.' : 'Not pinned: every process shares both cores.'}`,
      `Presence, authenticated \`${ME}\` over ${fmtInt(viewers)} tokens, ${concurrency} in flight, ${fmtNum(m.seconds, 1)} s: ${fmtInt(m.requests)} requests = ${fmtInt(m.rate)} req/s` +
        ` (halves ${meRuns.map((r) => fmtInt(r.rate)).join(' and ')}; p50 ${fmtNum(m.p50, 1)} ms, p99 ${fmtNum(m.p99, 1)} ms, 0 errors). CPU: ${fmtCpu(cm)}; ${fmtNum(perReq(cm['server'], m.rate), 1)} µs of server CPU per request.`,
      `Bare graphql-yoga, \`${HELLO}\`: ${fmtInt(h.requests)} requests = ${fmtInt(h.rate)} req/s (halves ${helloRuns.map((r) => fmtInt(r.rate)).join(' and ')}; p50 ${fmtNum(h.p50, 1)} ms, p99 ${fmtNum(h.p99, 1)} ms). CPU: ${fmtCpu(ch)}; ${fmtNum(perReq(ch['bare yoga'], h.rate), 1)} µs of server CPU per request.`,
      `Ratio ${fmtNum(ratio, 3)} (target >= 0.7: ${pass ? 'PASS' : `MISS by ${fmtNum(0.7 - ratio, 3)}`}).`,
    ];
    if (!pass || process.env['BENCH_PROFILE'] === '1') {
      log('overhead: profiling both servers for 5 s each');
      const pm = await profileUnderLoad(server, () => me(5_000, 0));
      const ph = await profileUnderLoad(bare, () => hello(5_000, 0));
      details.push(
        `What bounds { me }: ${boundBy(cm)}`,
        ...profileLines('Presence server during { me }', pm),
        ...profileLines('Bare yoga during { hello }', ph),
      );
    }
    return {
      title: '7. Request overhead',
      rows: [
        {
          bench: `7. Authenticated { me { status lastActiveAt } } vs bare graphql-yoga { hello }, over HTTP${pinning() ? ', pinned' : ''}`,
          presence: `${fmtInt(m.rate)} req/s`,
          baseline: `${fmtInt(h.rate)} req/s`,
          ratio: fmtNum(ratio, 3),
          target: '>= 0.7',
          result: pass ? 'PASS' : 'MISS',
        },
      ],
      details,
    };
  } finally {
    unpin(process.pid);
    await bare.stop();
    await server.stop();
    await redis.stop();
  }
}
