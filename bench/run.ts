/**
 * Presence benchmark suite: `npm run bench` (tsx bench/run.ts); `npm run bench -- --help` lists
 * the options. Runs against real redis-server processes it starts itself on free loopback ports
 * (never the shared Redis on 6379) and real API server processes (src/main.ts, production mode),
 * prints one table (each figure a ratio against a baseline measured side by side in the same run,
 * with the absolute numbers behind it), then the details and evidence. Every process it starts is
 * killed on exit, on error and on Ctrl-C. About 6 minutes on a 2-core machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchConnections } from './connections.js';
import { benchFanout } from './fanout.js';
import { benchMemory } from './memory.js';
import { benchOverhead } from './overhead.js';
import { benchPlugins } from './plugins.js';
import { benchRead } from './read.js';
import { benchWrite } from './write.js';
import {
  BENCH_DIR,
  installCleanup,
  killAll,
  log,
  openFilesLimit,
  perturbation,
  setCurrentBench,
  waitForQuietMachine,
  type Row,
  type Section,
} from './lib/index.js';

const USAGE = `Usage: npm run bench [-- --write] [-- --help]

Runs the benchmarks and prints the results. They are also written to .tmp/bench-results.md;
bench/RESULTS.md (committed) is only written with --write.

Options:
  --write    also write bench/RESULTS.md, the committed results
  --help     print this and exit; runs nothing, writes nothing

Benchmarks:
  1. memory       Redis bytes per offline user at 1M users vs SET ... EX      (bench/memory.ts)
  2. read         presence(ids) x100 over HTTP vs a raw ioredis pipeline       (bench/read.ts)
  3. write        setPresence vs mutation { __typename }                       (bench/write.ts)
  4. fanout       10K subscribers on 2 instances vs ioredis inbox + ws.send    (bench/fanout.ts)
  5. connections  server memory per idle subscribed connection vs bare ws      (bench/connections.ts)
  6. plugins      CPU per request of each plugin, in one process (A/B by leaving each out) (bench/plugins.ts)
  7. overhead     authenticated { me } over HTTP vs bare graphql-yoga { hello }  (bench/overhead.ts)

Settings (environment variables, all optional):
  BENCH_ONLY                  comma-separated subset, e.g. "read,write" (default: all)
  BENCH_DURATION_S            seconds of measured load per measurement (default 10)
  BENCH_WARMUP_S              seconds of unmeasured load before each (default 2)
  BENCH_CONCURRENCY           requests in flight, read and write benches and their baselines (32)
  BENCH_PROFILE=1             always print CPU/heap profiles (by default only for a missed target)
  BENCH_USERS                 memory: users written through the engine (1000000)
  BENCH_BUCKETS               memory: PRESENCE_BUCKETS for those users (4096, ~244 per bucket)
  BENCH_ONLINE_USERS          memory: users kept online for the per-online-user figure (100000)
  BENCH_READ_USERS            read: users with a status (100000)
  BENCH_READ_VIEWERS          read: viewers (tokens), each with BENCH_READ_IDS friends (1000)
  BENCH_READ_IDS              read: ids per presence(ids) request (100)
  BENCH_READ_MESSAGES         read: percent of users with a status message (their settings are read
                              too, issue 13) (0)
  BENCH_WRITE_USERS           write: users setPresence is spread over (20000)
  BENCH_GRAPH                 fanout, connections: the social graph, realistic|overlapping, or both
                              comma-separated to run them side by side in one run (default realistic):
                                realistic    every viewer's friends drawn from BENCH_GRAPH_USERS ids,
                                             so friend lists barely overlap; fan-out publishers are
                                             friends of BENCH_FANOUT_RECIPIENTS connected viewers each
                                overlapping  fan-out: every viewer follows one of BENCH_FANOUT_PUBLISHERS
                                             shared users; connections: a ring of connected viewers
  BENCH_GRAPH_USERS           realistic graph: user ids friends are drawn from (1000000)
  BENCH_GRAPH_FRIENDS         realistic graph, fanout: friends per viewer and per publisher (100)
  BENCH_FANOUT_VIEWERS        fanout: subscribers, split over 2 instances (10000)
  BENCH_FANOUT_RECIPIENTS     fanout, realistic graph: connected viewers per publisher, i.e. recipients
                              of each change (10; viewers/recipients publishers)
  BENCH_FANOUT_PUBLISHERS     fanout, overlapping graph: users whose changes are fanned out (100;
                              viewers/publishers each)
  BENCH_FANOUT_WINDOW         fanout: x100 deliveries outstanding when finding the maximum rate (50)
  BENCH_CONNECTIONS           connections: idle connections held (20000; capped by ulimit -Hn)
  BENCH_CONN_FRIENDS          connections: friends per viewer (100)
  BENCH_PIN=1                 read, write, overhead: the process under test on core 0, Redis and the
                              load generator on the other (taskset; the machine has 2 cores)
  BENCH_OVERHEAD_VIEWERS      overhead: users (tokens) the { me } requests are spread over (1000)
  BENCH_PLUGIN_ROUNDS         plugins: interleaved rounds per variant (7)
  BENCH_PLUGIN_REQUESTS       plugins: requests per variant and round ({ me }; presence(ids) runs a tenth) (2000)
  BENCH_BUILD                 what the API servers run: tsx (src/main.ts through tsx, default) or dist
                              (dist/src/main.js, the tsc build \`npm start\` runs; \`npm run build\` first)
  BENCH_SERVER_<NAME>=value   sets <NAME> in every API server's environment, e.g.
                              BENCH_SERVER_WS_KEEPALIVE_MS=0 (for experiments; the defaults are what is measured)`;

let options: { write: boolean };
try {
  const { values } = parseArgs({ options: { write: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  options = { write: values.write };
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

installCleanup();

const benches: { name: string; title: string; run: () => Promise<Section> }[] = [
  { name: 'memory', title: '1. Memory per user', run: benchMemory },
  { name: 'read', title: '2. Read path', run: benchRead },
  { name: 'write', title: '3. Write path', run: benchWrite },
  { name: 'fanout', title: '4. Fan-out', run: benchFanout },
  { name: 'connections', title: '5. Connections', run: benchConnections },
  { name: 'plugins', title: '6. Per-plugin cost', run: benchPlugins },
  { name: 'overhead', title: '7. Request overhead', run: benchOverhead },
];

function machine(): string[] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo)?.[1];
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    /* reported as unknown */
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `- CPU: ${cpus().length} cores, ${model}${mhz ? ` (${Math.round(Number(mhz))} MHz)` : ''}`,
    `- RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}; open-files limit ${openFilesLimit()}`,
    `- Node ${process.version}, Redis ${redis} (redis-server started by the suite, no persistence), ioredis, graphql-yoga, graphql-ws, undici as load generator`,
    `- Date: ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC; load average before the run ${load}`,
  ];
}

function table(rows: Row[]): string[] {
  const cells = (r: string[]) => `| ${r.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [
    cells(['Benchmark', 'Presence', 'Baseline', 'Ratio', 'Target', 'Result']),
    cells(['---', '---:', '---:', '---:', '---', '---']),
    ...rows.map((r) => cells([r.bench, r.presence, r.baseline, r.ratio, r.target, r.result])),
  ];
}

const only = (process.env['BENCH_ONLY'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const selected = only.length ? benches.filter((b) => only.includes(b.name)) : benches;
if (only.length && selected.length !== only.length) {
  console.error(`BENCH_ONLY: unknown benchmark in "${only.join(',')}"; known: ${benches.map((b) => b.name).join(', ')}`);
  process.exit(2);
}

const header = machine();
const settings = Object.entries(process.env)
  .filter(([k]) => k.startsWith('BENCH_'))
  .map(([k, v]) => `${k}=${v}`);
const t0 = performance.now();
const sections: Section[] = [];
let failed = 0;
for (const b of selected) {
  const start = performance.now();
  log(`=== ${b.title} ===`);
  setCurrentBench(b.title);
  // Other people's work on a shared machine skews every figure: give it a moment to finish.
  const busy = await waitForQuietMachine(20_000);
  if (busy >= 25) log(`the machine is busy (${Math.round(busy)}% of a core used by other processes): figures will be perturbed`);
  try {
    sections.push(await b.run());
  } catch (err) {
    failed++;
    log(`${b.title} failed: ${(err as Error).stack ?? String(err)}`);
    killAll();
    sections.push({
      title: b.title,
      rows: [{ bench: b.title, presence: '-', baseline: '-', ratio: '-', target: '-', result: 'ERROR' }],
      details: [
        `Failed: ${String((err as Error).message ?? err)
          .split('\n')
          .slice(0, 6)
          .join(' / ')}`,
      ],
    });
  }
  log(`${b.title}: ${((performance.now() - start) / 1000).toFixed(0)} s`);
}
const total = (performance.now() - t0) / 1000;

const rows = sections.flatMap((s) => s.rows);
const verdicts = rows.filter((r) => r.result === 'PASS' || r.result === 'MISS');
const out = [
  '# Presence benchmarks',
  '',
  `\`npm run bench\`${settings.length ? ` with ${settings.join(' ')}` : ''}: ${selected.map((b) => b.name).join(', ')};` +
    ` total ${Math.floor(total / 60)} min ${Math.round(total % 60)} s. Each figure is a ratio against a baseline measured side by side in the same run.`,
  '',
  '## Machine',
  '',
  ...header,
  '',
  '## Results',
  '',
  ...table(rows),
  '',
  ...(perturbation.maxOther >= 20
    ? [
        `**Warning:** other processes on this machine used up to ${Math.round(perturbation.maxOther)}% of a core during a measurement (${perturbation.where}):` +
          ' those figures are perturbed; rerun on a quiet machine.',
        '',
      ]
    : []),
  `${verdicts.filter((r) => r.result === 'PASS').length} of ${verdicts.length} targets met${failed ? `; ${failed} benchmark(s) failed to run` : ''}.` +
    ' Ratios are Presence / baseline (for memory, lower is better). CPU shares below are % of one core (the machine has' +
    ` ${cpus().length * 100}%); "other" is every process the suite did not start.`,
  '',
  '## Details and evidence',
  '',
  ...sections.flatMap((s) => [
    `### ${s.title}`,
    '',
    ...s.details.map((d) => (d.startsWith('  ') ? `    ${d.trimStart()}` : d === '' || d.startsWith('|') ? d : `- ${d}`)),
    '',
  ]),
  '## Notes',
  '',
  `- This machine has ${cpus().length} cores and every process of a benchmark runs on them together: Redis, the API server(s), the load generator and (fan-out) the receivers.` +
    ' Ratios compare runs under the same contention; absolute rates on a machine where the load generator and Redis have their own cores would be higher.' +
    (process.env['BENCH_PIN'] === '1'
      ? ' This run was pinned (BENCH_PIN=1): the process under test (API server, bare yoga, or the raw ioredis client) on core 0, Redis and the load generator on the last core; processes the suite did not start still run anywhere.'
      : ''),
  '- The suite starts its own redis-server processes (`--save "" --appendonly no`, loopback only) and API servers as `node --import tsx src/main.ts` with NODE_ENV=production,' +
    ' a 40-character JWT_SECRET, LOG_LEVEL=info and PRESENCE_RETENTION_SCAN_MS=3600000 (the once-a-minute retention scan of every bucket would otherwise land in some measurement windows); everything else is the default configuration.',
  '- bench/probe.ts is preloaded into the servers (`--import`) to read memory after a full GC (`--expose-gc`) and to take CPU and heap profiles over IPC; it does nothing unless asked.',
  '- Other people\'s processes on a shared machine perturb the figures: each CPU line shows them as "other".',
  '',
];
const text = out.join('\n');
console.log(text);
const target = options.write ? join(BENCH_DIR, 'RESULTS.md') : join(BENCH_DIR, '..', '.tmp', 'bench-results.md');
mkdirSync(join(target, '..'), { recursive: true });
writeFileSync(target, text);
log(`wrote ${target}${options.write ? '' : ' (bench/RESULTS.md only with --write)'}; total ${total.toFixed(0)} s`);
killAll();
process.exit(failed ? 1 : 0);
