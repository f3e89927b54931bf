/**
 * Benchmark 3: the write path.
 *
 * "`setPresence` requests per second (with their events published) divided by a do-nothing
 * mutation on the same server. Target at least 0.7."
 *
 * One API server process on its own redis-server. The do-nothing mutation is
 * `mutation { __typename }`: the same HTTP, auth (a JWT verified per request), parse, validate and
 * execute path, without touching Redis. setPresence is spread over BENCH_WRITE_USERS users (one
 * token each, round robin) and alternates ONLINE/AWAY per user, so every request really changes
 * the user's status and publishes an event; the PUBLISH count is read from Redis's commandstats
 * and checked against the request count. Closed loop, BENCH_CONCURRENCY in flight (undici); the
 * two are interleaved (do-nothing, setPresence, do-nothing, setPresence; BENCH_DURATION_S/2 each).
 */
import { randomUUID } from 'node:crypto';
import { signToken } from '../src/infra/auth.js';
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
  startPresenceServer,
  track,
  unpin,
  waitIdle,
  type LoadResult,
  type Section,
} from './lib/index.js';
import { profileUnderLoad } from './read.js';

const SET = 'mutation SetPresence($status: PresenceStatus!) { setPresence(status: $status) { userId status lastActiveAt version } }';
const NOOP = 'mutation Noop { __typename }';

export async function benchWrite(): Promise<Section> {
  const users = envInt('BENCH_WRITE_USERS', 20_000);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  const durationMs = envInt('BENCH_DURATION_S', 10) * 1000;
  const warmupMs = envInt('BENCH_WARMUP_S', 2) * 1000;

  const redis = await startRedis(['--hash-max-listpack-entries', '512']);
  track(redis.proc);
  const server = await startPresenceServer({ REDIS_URL: redis.url, PRESENCE_RETENTION_SCAN_MS: '3600000' });
  const stats = redis.client();
  try {
    const userIds = Array.from({ length: users }, () => randomUUID());
    const headers = await Promise.all(
      userIds.map(async (u) => ({
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${await signToken(BENCH_SECRET, u, { expiresIn: '2h' })}`,
      })),
    );
    const bodies = {
      ONLINE: JSON.stringify({ query: SET, operationName: 'SetPresence', variables: { status: 'ONLINE' } }),
      AWAY: JSON.stringify({ query: SET, operationName: 'SetPresence', variables: { status: 'AWAY' } }),
      NOOP: JSON.stringify({ query: NOOP, operationName: 'Noop' }),
    };
    // Request n goes to user n % users; each user alternates ONLINE, AWAY, ONLINE... so every
    // request changes its status (users >> concurrency: one user never has two in flight).
    let offset = 0;
    const statusOf = (n: number) => (Math.floor(n / users) % 2 === 0 ? 'ONLINE' : 'AWAY');
    const publishes = async () => Number(/cmdstat_publish:calls=(\d+)/.exec(await stats.info('commandstats'))?.[1] ?? 0);
    const pids = { server: server.pid, redis: redis.proc.pid!, 'load generator': process.pid };

    const run = async (
      kind: 'set' | 'noop',
      ms: number,
      warm: number,
      onWindow?: (edge: 'start' | 'end') => unknown,
    ): Promise<LoadResult> => {
      const base = offset;
      const r = await httpLoad({
        url: server.url,
        concurrency,
        warmupMs: warm,
        durationMs: ms,
        request: (i) => {
          const n = base + i;
          return { body: kind === 'noop' ? bodies.NOOP : bodies[statusOf(n)], headers: headers[n % users]! };
        },
        check: (text, i) =>
          kind === 'noop' ? text.includes('"__typename":"Mutation"') : text.includes(`"status":"${statusOf(base + i)}"`),
        ...(onWindow ? { onWindow } : {}),
      });
      offset += r.issued;
      return r;
    };

    pin(server.pid, 'work');
    pin(redis.proc.pid!, 'rest');
    pin(process.pid, 'rest');
    await waitIdle(server.pid, 10_000);
    // Interleaved, half the time each: do-nothing, setPresence, do-nothing, setPresence, so that
    // drift (JIT, GC, the machine) weighs on both alike.
    log(
      `write: mutation { __typename } and setPresence over ${fmtInt(users)} users, interleaved, ${concurrency} in flight, 2 x ${durationMs / 2000} s each`,
    );
    const noopRuns: LoadResult[] = [];
    const setRuns: LoadResult[] = [];
    const noopCpu: Record<string, number>[] = [];
    const setCpu: Record<string, number>[] = [];
    let published = 0;
    // Warm-up, not counted: both kinds, so the first measured half is as warm as the second.
    await run('noop', 0, warmupMs);
    await run('set', 0, warmupMs);
    for (let half = 0; half < 2; half++) {
      let cpu = cpuMeter(pids);
      noopRuns.push(await run('noop', durationMs / 2, 0, (edge) => (edge === 'start' ? (cpu = cpuMeter(pids)) : noopCpu.push(cpu.stop()))));
      let pubStart = 0;
      setRuns.push(
        await run('set', durationMs / 2, 0, async (edge) => {
          if (edge === 'start') {
            pubStart = await publishes();
            cpu = cpuMeter(pids);
          } else {
            setCpu.push(cpu.stop());
            published += (await publishes()) - pubStart;
          }
        }),
      );
    }
    const noop = mergeLoads(noopRuns);
    const set = mergeLoads(setRuns);
    if (noop.errors || !noop.requests) throw new Error(`write: do-nothing mutation failed: ${noop.firstError}`);
    if (set.errors || !set.requests) throw new Error(`write: setPresence failed (${set.errors} errors): ${set.firstError}`);
    const cpuNoop = meanCpu(noopCpu);
    const cpuSet = meanCpu(setCpu);

    const ratio = set.rate / noop.rate;
    const pass = ratio >= 0.7;
    const details = [
      pinning()
        ? 'Pinned (BENCH_PIN=1): the API server on core 0, Redis and the load generator on core 1.'
        : 'Not pinned: every process shares both cores.',
      `setPresence (alternating ONLINE/AWAY over ${fmtInt(users)} users), ${concurrency} in flight, ${fmtNum(set.seconds, 1)} s: ${fmtInt(set.requests)} requests = ${fmtInt(set.rate)} req/s` +
        ` (halves ${setRuns.map((r) => fmtInt(r.rate)).join(' and ')} req/s; p50 ${fmtNum(set.p50, 1)} ms, p99 ${fmtNum(set.p99, 1)} ms, ${set.errors} errors); Redis PUBLISHes in the windows: ${fmtInt(published)}` +
        ` (${fmtNum((published / set.requests) * 100, 0)}% of the requests counted; requests still in flight at the window's edges make up the rest). CPU: ${fmtCpu(cpuSet)}.`,
      `mutation { __typename }: ${fmtInt(noop.requests)} requests = ${fmtInt(noop.rate)} req/s (halves ${noopRuns.map((r) => fmtInt(r.rate)).join(' and ')} req/s; p50 ${fmtNum(noop.p50, 1)} ms, p99 ${fmtNum(noop.p99, 1)} ms). CPU: ${fmtCpu(cpuNoop)}.`,
      `Ratio ${fmtNum(ratio, 3)} (target >= 0.7: ${pass ? 'PASS' : `MISS by ${fmtNum(0.7 - ratio, 3)}`}).`,
    ];
    if (!pass || process.env['BENCH_PROFILE'] === '1') {
      log('write: profiling the server for 5 s of setPresence');
      const profile = await profileUnderLoad(server, () => run('set', 5_000, 0));
      details.push(`What bounds setPresence: ${boundBy(cpuSet)}`, ...profileLines('Server during setPresence', profile));
    }
    return {
      title: '3. Write path',
      rows: [
        {
          bench: '3. setPresence (event published) vs mutation { __typename }',
          presence: `${fmtInt(set.rate)} req/s`,
          baseline: `${fmtInt(noop.rate)} req/s`,
          ratio: fmtNum(ratio, 3),
          target: '>= 0.7',
          result: pass ? 'PASS' : 'MISS',
        },
      ],
      details,
    };
  } finally {
    unpin(process.pid);
    await server.stop();
    await redis.stop();
  }
}
