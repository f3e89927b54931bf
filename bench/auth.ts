/**
 * What verifying the token costs per request, with and without the cache of verified tokens
 * (issue 11, item 1). Not part of `npm run bench`: run it alone with `npx tsx bench/auth.ts`.
 *
 * Two API servers on the memory engine (`{ __typename }` touches no storage), one with the cache
 * (JWT_CACHE_SIZE default) and one without (JWT_CACHE_SIZE=0: jose on every request, as before the
 * cache), loaded in turn with the same closed loop (BENCH_CONCURRENCY keep-alive connections):
 * no token, token with the cache, token without it; BENCH_AUTH_ROUNDS rounds of
 * BENCH_AUTH_SECONDS each, medians printed. One token for every request, like one client.
 * Besides req/s (which a busy shared machine moves a lot), it prints the server's CPU time per
 * request (its /proc ticks over the counted window), which other people's load moves much less.
 */
import { createVerifier, signToken } from '../src/infra/auth.js';
import { loadConfig } from '../src/config.js';
import {
  BENCH_SECRET,
  cpuMeter,
  envInt,
  fmtInt,
  httpLoad,
  installCleanup,
  log,
  startPresenceServer,
  type LoadResult,
} from './lib/index.js';

const QUERY = JSON.stringify({ query: '{ __typename }' });
const concurrency = envInt('BENCH_CONCURRENCY', 16);
const rounds = envInt('BENCH_AUTH_ROUNDS', 3);
const seconds = envInt('BENCH_AUTH_SECONDS', 5);

installCleanup();
const token = await signToken(BENCH_SECRET, 'bench-user', { expiresIn: '1h' });

// The verifier alone, in this process: µs per call, best of 5 batches of 20,000.
const perCall = async (verify: (t: string) => Promise<unknown>) => {
  let best = Infinity;
  for (let b = 0; b < 5; b++) {
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) await verify(token);
    best = Math.min(best, ((performance.now() - t0) * 1000) / 20_000);
  }
  return best;
};
const jwt = (env: Record<string, string>) => createVerifier(loadConfig({ JWT_SECRET: BENCH_SECRET, ...env }).jwt, 128);
const joseUs = await perCall(jwt({ JWT_CACHE_SIZE: '0' }));
const cacheUs = await perCall(jwt({}));
console.log(
  `verifier alone: jose every time ${joseUs.toFixed(1)} µs per call, cache ${cacheUs.toFixed(1)} µs per call (best of 5 x 20,000)`,
);

const cached = await startPresenceServer({});
const uncached = await startPresenceServer({ JWT_CACHE_SIZE: '0' });

type Run = LoadResult & { cpuUs: number; other: number };
const load = async (server: typeof cached, auth: boolean): Promise<Run> => {
  let meter: ReturnType<typeof cpuMeter> | null = null;
  let cpu: Record<string, number> = {};
  const res = await httpLoad({
    onWindow: (edge) => {
      if (edge === 'start') meter = cpuMeter({ server: server.pid });
      else cpu = meter!.stop();
    },
    url: server.url,
    concurrency,
    warmupMs: 1_000,
    durationMs: seconds * 1_000,
    request: () => ({
      body: QUERY,
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    }),
    check: (body) => body.includes('"__typename":"Query"'),
  });
  // cpu.server is % of one core over the window: core-seconds / requests, in µs.
  return { ...res, cpuUs: ((cpu['server']! / 100) * res.seconds * 1e6) / res.requests, other: cpu['other'] ?? NaN };
};

const runs: Record<'none' | 'cached' | 'uncached', Run[]> = { none: [], cached: [], uncached: [] };
for (let r = 0; r < rounds; r++) {
  runs.uncached.push(await load(uncached, true));
  runs.cached.push(await load(cached, true));
  runs.none.push(await load(cached, false));
  log(
    `round ${r + 1}/${rounds}: ` +
      (['none', 'cached', 'uncached'] as const)
        .map(
          (k) =>
            `${k} ${fmtInt(runs[k].at(-1)!.rate)} req/s ${fmtInt(runs[k].at(-1)!.cpuUs)} µs (others ${fmtInt(runs[k].at(-1)!.other)}%)`,
        )
        .join(', '),
  );
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (xs: Run[]) => med(xs.map((x) => x.rate));
const cpuUs = (xs: Run[]) => med(xs.map((x) => x.cpuUs));
const errors = Object.values(runs)
  .flat()
  .reduce((n, x) => n + x.errors, 0);
const line = (label: string, xs: Run[]) =>
  `${label.padEnd(36)} ${fmtInt(rate(xs)).padStart(7)} req/s  ${fmtInt(cpuUs(xs)).padStart(5)} µs CPU/request ` +
  `(runs: ${xs.map((x) => `${fmtInt(x.rate)} req/s ${fmtInt(x.cpuUs)} µs`).join('; ')})`;
console.log(`{ __typename } over HTTP, ${concurrency} connections, ${seconds} s per run, ${rounds} rounds, errors: ${errors}`);
console.log(line('no token', runs.none));
console.log(line('token, verified by jose every time', runs.uncached));
console.log(line('token, cache of verified tokens', runs.cached));
console.log(
  `with the cache: ${(rate(runs.cached) / rate(runs.uncached)).toFixed(2)}x the req/s of jose every time, ` +
    `${fmtInt(cpuUs(runs.uncached) - cpuUs(runs.cached))} µs less CPU per request; ${(rate(runs.cached) / rate(runs.none)).toFixed(2)}x no token`,
);
await Promise.all([cached.stop(), uncached.stop()]);
