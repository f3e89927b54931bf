/**
 * Shared plumbing of the benchmark suite (bench/run.ts): child processes that are always cleaned
 * up, API server processes with a measurement probe, CPU accounting from /proc, an HTTP load
 * generator, a minimal graphql-ws client, percentiles and formatting.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import WebSocket from 'ws';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
/** HS256 secret of every server the suite starts (production requires >= 32 characters). */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef-0123456789abcdef';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An integer setting from the environment (BENCH_*), with a default. */
export function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${raw}"`);
  return Math.floor(n);
}

export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- child processes: every one is killed when the suite exits, however it exits -----------------

const children = new Set<ChildProcess>();

/** Registers a child process so that it is killed when the suite exits (normally, on error or on a signal). */
export function track<T extends ChildProcess>(proc: T): T {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

export function killAll(): void {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

let handlersInstalled = false;
/** Installs exit/signal handlers that kill every tracked child. Called once by run.ts. */
export function installCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping every process the suite started`);
      killAll();
      process.exit(130);
    });
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// ---- node child processes with an IPC channel (servers with the probe, load generators) ----------

export interface NodeChild {
  proc: ChildProcess;
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Sends a command over IPC and resolves with its answer (see bench/probe.ts and the load scripts). */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Resolves with the first IPC message of this `type` (events sent by the child on its own). */
  next<T = unknown>(type: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/** Starts a TypeScript entry point with tsx, an IPC channel and the given node flags and env. */
export function startNode(script: string, opts: { env?: Record<string, string>; nodeArgs?: string[]; args?: string[] } = {}): NodeChild {
  const proc = track(
    spawn(process.execPath, ['--import', 'tsx', ...(opts.nodeArgs ?? []), script, ...(opts.args ?? [])], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const waiters: { type: string; resolve(v: unknown): void }[] = [];
  proc.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string; type?: string }) => {
    if (m.id !== undefined && pending.has(m.id)) {
      const p = pending.get(m.id)!;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error ?? 'failed'));
    } else if (m.type) {
      const i = waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    }
  });
  proc.once('exit', (code, signal) => {
    const err = new Error(`${script} exited (${code ?? signal}) with requests pending:\n${out.slice(-3000)}`);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000) {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script}: "${cmd}" not answered in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        proc.send({ id, cmd, ...args });
      });
    },
    next<T>(type: string, timeoutMs = 60_000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${script}: no "${type}" message in ${timeoutMs} ms:\n${out.slice(-3000)}`)),
          timeoutMs,
        );
        waiters.push({
          type,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
        });
      });
    },
    stop: () => stopProcess(proc),
  };
}

export interface PresenceServer extends NodeChild {
  url: string;
  port: number;
}

/**
 * One API server (src/main.ts) as its own process, the way it is deployed: NODE_ENV=production,
 * a real secret, the Redis engine. bench/probe.ts is preloaded so the suite can ask it for its
 * memory after a full GC and for a CPU profile (nothing in src/ is changed for this).
 */
export async function startPresenceServer(env: Record<string, string>, timeoutMs = 30_000): Promise<PresenceServer> {
  const child = startNode(serverEntry(), {
    nodeArgs: ['--expose-gc', '--import', new URL('../probe.ts', import.meta.url).href],
    env: {
      NODE_ENV: 'production',
      JWT_SECRET: BENCH_SECRET,
      PORT: '0',
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
      // BENCH_SERVER_<NAME>=value sets <NAME> for every API server the suite starts.
      ...Object.fromEntries(
        Object.entries(process.env)
          .filter(([k, v]) => k.startsWith('BENCH_SERVER_') && v !== undefined)
          .map(([k, v]) => [k.slice('BENCH_SERVER_'.length), v!]),
      ),
    },
  });
  const port = await waitForOutput(child, /"port":(\d+)[^\n]*presence listening/, timeoutMs).then((m) => Number(m[1]));
  return { ...child, url: `http://127.0.0.1:${port}`, port };
}

/**
 * What the API servers run: src/main.ts through tsx (default), or with BENCH_BUILD=dist the tsc
 * build that `npm start` runs (dist/src/main.js, `npm run build` first). tsx compiles with esbuild's
 * keepNames, which wraps every named closure in `__name(fn, "name")` (one defineProperty per
 * closure made): per-connection closures cost more memory under tsx than in production.
 */
export function serverEntry(): string {
  const build = process.env['BENCH_BUILD'] ?? 'tsx';
  if (build === 'tsx') return 'src/main.ts';
  if (build !== 'dist') throw new Error(`BENCH_BUILD: expected tsx or dist, got "${build}"`);
  if (!existsSync(join(ROOT, 'dist', 'src', 'main.js')))
    throw new Error('BENCH_BUILD=dist: dist/src/main.js is missing; run `npm run build` first');
  return 'dist/src/main.js';
}

/** Waits until the child's output matches `re`. */
export async function waitForOutput(child: NodeChild, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(child.output());
    if (m) return m;
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`process ${child.pid} exited before printing ${re}:\n${child.output().slice(-3000)}`);
    }
    if (Date.now() > deadline)
      throw new Error(`process ${child.pid} did not print ${re} in ${timeoutMs} ms:\n${child.output().slice(-3000)}`);
    await sleep(20);
  }
}

// ---- what the probe answers ------------------------------------------------------------------------

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface ProfileSummary {
  /** Samples in the window, and how many of them the process was idle. */
  samples: number;
  idle: number;
  /** Top functions by self time: share of the busy samples. */
  top: { name: string; where: string; pct: number }[];
  /** Self time by package (node_modules/<pkg>, src, node internals, GC...). */
  byPackage: { name: string; pct: number }[];
}

/** Event-loop delay and GC pauses over a window (bench/probe.ts `loop-stop`), in ms. */
export interface LoopSummary {
  delayP50: number;
  delayP99: number;
  delayMax: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  majorCount: number;
  majorMaxMs: number;
}

export const loopLine = (label: string, l: LoopSummary, seconds: number) =>
  `${label}: event-loop delay p50 ${fmtNum(l.delayP50, 1)} ms, p99 ${fmtNum(l.delayP99, 1)} ms, max ${fmtNum(l.delayMax, 1)} ms;` +
  ` GC ${l.gcCount} pauses, ${fmtNum((l.gcTotalMs / 1000 / seconds) * 100, 1)}% of the time, longest ${fmtNum(l.gcMaxMs, 1)} ms` +
  ` (${l.majorCount} mark-compact, longest ${fmtNum(l.majorMaxMs, 1)} ms).`;

/** Live memory by allocation site (bench/probe.ts `heap-stop`). */
export interface HeapSummary {
  total: number;
  top: { name: string; where: string; bytes: number }[];
  byPackage: { name: string; bytes: number }[];
}

// ---- CPU accounting from /proc ---------------------------------------------------------------------

const CLK_TCK = 100;
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
  } catch {
    return NaN;
  }
}

/** Busy jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
  } catch {
    return NaN;
  }
}

/** The most CPU that processes the suite did not start took during any measured window (% of one core). */
export const perturbation = { maxOther: 0, where: '' };
let currentBench = '';
export const setCurrentBench = (name: string) => (currentBench = name);

/**
 * Waits (at most `maxMs`) until the rest of the machine is quiet: under 25% of one core busy over
 * a second, not counting this process. Returns that last reading.
 */
export async function waitForQuietMachine(maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const m = cpuMeter({ self: process.pid }, false);
    await sleep(1_000);
    const busy = m.stop()['other'] ?? 0;
    if (busy < 25 || Date.now() > deadline) return busy;
  }
}

/**
 * Starts measuring the CPU time of the given processes; `stop()` returns each one's share of one
 * core, in %, plus `other`: everything else that ran on the machine meanwhile (other people's
 * processes on a shared box show up here).
 */
export function cpuMeter(pids: Record<string, number>, record = true): { stop(): Record<string, number> } {
  const t0 = process.hrtime.bigint();
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === process.pid ? NaN : cpuTicks(pid)]));
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  return {
    stop() {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const out: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) {
        if (pid === process.pid) {
          const u = process.cpuUsage(self0);
          out[k] = ((u.user + u.system) / 1e6 / secs) * 100;
        } else out[k] = ((cpuTicks(pid) - start[k]!) / CLK_TCK / secs) * 100;
      }
      const machine = ((machineTicks() - machine0) / CLK_TCK / secs) * 100;
      const ours = Object.values(out).reduce((a, b) => a + b, 0);
      if (Number.isFinite(machine)) out['other'] = Math.max(0, machine - ours);
      if (record && secs >= 2 && (out['other'] ?? 0) > perturbation.maxOther) {
        perturbation.maxOther = out['other']!;
        perturbation.where = currentBench;
      }
      return out;
    },
  };
}

export const fmtCpu = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${Math.round(v)}%`)
    .join(', ');

// ---- HTTP load -------------------------------------------------------------------------------------

export interface LoadResult {
  /** Requests issued in all (warm-up included). */
  issued: number;
  requests: number;
  errors: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  firstError: string | null;
}

/**
 * Closed-loop HTTP load: `concurrency` keep-alive connections, each with one request in flight at
 * a time, for `warmupMs` (not counted) then `durationMs` (counted). `request(i)` gives the i-th
 * request; `check(body)` says whether an answer is correct (a 200 that fails it counts as an error).
 */
export async function httpLoad(opts: {
  url: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  request: (i: number) => { body: string; headers: Record<string, string> };
  check: (body: string, i: number) => boolean;
  /** Called when the counted window starts and ends (e.g. to read counters). */
  onWindow?: (edge: 'start' | 'end') => unknown;
}): Promise<LoadResult> {
  const clients = Array.from({ length: opts.concurrency }, () => new Client(opts.url, { pipelining: 1, keepAliveTimeout: 60_000 }));
  let seq = 0;
  let counting = false;
  let running = true;
  let requests = 0;
  let errors = 0;
  let firstError: string | null = null;
  const latencies: number[] = [];
  const loop = async (client: Client) => {
    while (running) {
      const i = seq++;
      const { body, headers } = opts.request(i);
      const t0 = performance.now();
      let ok = false;
      try {
        const res = await client.request({ path: '/graphql', method: 'POST', headers, body });
        const text = await res.body.text();
        ok = res.statusCode === 200 && opts.check(text, i);
        if (!ok && firstError === null) firstError = `HTTP ${res.statusCode}: ${text.slice(0, 300)}`;
      } catch (err) {
        if (firstError === null) firstError = String(err);
        if (!running) break;
        await sleep(10);
      }
      if (counting && running) {
        if (ok) requests++;
        else errors++;
        if ((requests & 7) === 0) latencies.push(performance.now() - t0);
      }
    }
  };
  const loops = clients.map(loop);
  await sleep(opts.warmupMs);
  await opts.onWindow?.('start');
  counting = true;
  const t0 = performance.now();
  await sleep(opts.durationMs);
  const seconds = (performance.now() - t0) / 1000;
  counting = false;
  await opts.onWindow?.('end');
  running = false;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.close()));
  latencies.sort((a, b) => a - b);
  return { issued: seq, requests, errors, seconds, rate: requests / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), firstError };
}

/** Runs `op` with `concurrency` loops for warmup + duration, like httpLoad, in this process. */
export async function localLoad(opts: {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  op: (i: number) => Promise<unknown>;
  onWindow?: (edge: 'start' | 'end') => unknown;
}) {
  let seq = 0;
  let counting = false;
  let running = true;
  let requests = 0;
  const loop = async () => {
    while (running) {
      await opts.op(seq++);
      if (counting && running) requests++;
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  await sleep(opts.warmupMs);
  await opts.onWindow?.('start');
  counting = true;
  const t0 = performance.now();
  await sleep(opts.durationMs);
  const seconds = (performance.now() - t0) / 1000;
  counting = false;
  await opts.onWindow?.('end');
  running = false;
  await Promise.all(loops);
  return { requests, seconds, rate: requests / seconds };
}

// ---- numbers ---------------------------------------------------------------------------------------

/** The p-th percentile of sorted values (nearest rank). */
export function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmtNum = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const fmtBytes = (n: number) =>
  !Number.isFinite(n)
    ? 'n/a'
    : Math.abs(n) >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MiB`
      : Math.abs(n) >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${Math.round(n)} B`;

// ---- graphql-ws, minimal (the load generators hold thousands of these) ------------------------------

export const SUBSCRIPTION = 'subscription { friendPresenceChanged { userId status lastActiveAt version } }';

/**
 * Opens one graphql-ws connection (protocol graphql-transport-ws), authenticates with
 * connectionParams.authorization like Apollo/urql clients, starts one subscription, and hands
 * every later frame to `onFrame` as the raw Buffer (no JSON parsing on the hot path).
 * No reconnects: a closed socket is reported through `onClose`.
 */
export function graphqlWs(opts: {
  url: string;
  token: string;
  query: string;
  localAddress?: string;
  onFrame(data: Buffer): void;
  onClose?(code: number): void;
  timeoutMs?: number;
}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(opts.url, 'graphql-transport-ws', {
      perMessageDeflate: false,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    let acked = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('graphql-ws connection not acknowledged in time'));
    }, opts.timeoutMs ?? 60_000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${opts.token}` } })));
    ws.on('message', (data: Buffer) => {
      if (acked) {
        // Protocol-level ping (the server may send one): answer it; everything else is an event.
        if (data[9] === 0x70 && data.toString().startsWith('{"type":"ping"')) ws.send('{"type":"pong"}');
        else opts.onFrame(data);
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string };
      if (msg.type === 'connection_ack') {
        acked = true;
        clearTimeout(timer);
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: opts.query } }));
        resolve(ws);
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      if (!acked) reject(err);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (!acked) reject(new Error(`graphql-ws connection closed with ${code} before ack`));
      else opts.onClose?.(code);
    });
  });
}

/** Reads the integer that follows `key` (e.g. `"version":`) in a frame, without parsing the JSON. NaN if absent. */
export function intAfter(buf: Buffer, key: Buffer): number {
  const at = buf.lastIndexOf(key);
  if (at < 0) return NaN;
  let n = 0;
  let i = at + key.length;
  let digits = 0;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    digits++;
  }
  return digits ? n : NaN;
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** The hard limit on open files of this process (children inherit it). */
export function openFilesLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
    if (!m) return Infinity;
    return m[2] === 'unlimited' ? Infinity : Number(m[2]);
  } catch {
    return Infinity;
  }
}

// ---- results ---------------------------------------------------------------------------------------

export type Verdict = 'PASS' | 'MISS' | 'info' | 'ERROR';

/** One line of the results table. */
export interface Row {
  bench: string;
  presence: string;
  baseline: string;
  ratio: string;
  target: string;
  result: Verdict;
}

/** What one benchmark returns: its table rows and the details printed under the table. */
export interface Section {
  title: string;
  rows: Row[];
  details: string[];
}

/** INFO used_memory of a Redis server. */
export async function usedMemory(client: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
}

export function profileLines(label: string, p: ProfileSummary): string[] {
  const busy = p.samples - p.idle;
  return [
    `${label}: CPU profile, ${p.samples} samples, busy ${fmtNum((busy / Math.max(1, p.samples)) * 100, 0)}% of the window. Top self time (share of busy samples):`,
    ...p.top.map((t, i) => `  ${String(i + 1).padStart(2)}. ${fmtNum(t.pct, 1).padStart(5)}%  ${t.name}  ${t.where}`),
    `  by package: ${p.byPackage.map((b) => `${b.name} ${fmtNum(b.pct, 0)}%`).join(', ')}`,
  ];
}

/** Which process limits a run, from each one's CPU share in the window (100% = one core). */
export function boundBy(cpu: Record<string, number>): string {
  const cores = availableParallelism();
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  const [busiest, share] = Object.entries(cpu)
    .filter(([k]) => k !== 'other')
    .sort((a, b) => b[1] - a[1])[0] ?? ['?', 0];
  const parts = [`CPU in the window: ${fmtCpu(cpu)}; ${Math.round(total)}% of the machine's ${cores * 100}%.`];
  if (share >= 90) parts.push(`${busiest} is saturated (its JavaScript, or Redis's commands, run on one thread): it is the bottleneck.`);
  else if (total >= cores * 100 * 0.9)
    parts.push("No single process is at 100%, but the machine's cores are: the processes compete for CPU.");
  else
    parts.push('Neither a process nor the machine is saturated: the run is bound by latency/concurrency (try a higher BENCH_CONCURRENCY).');
  if ((cpu['other'] ?? 0) >= 20)
    parts.push(`Other processes on the machine took ${Math.round(cpu['other']!)}% meanwhile: the figures are perturbed.`);
  return parts.join(' ');
}

/** Several runs of one measurement (e.g. the halves of an interleaved A/B/A/B) as one. */
export function mergeLoads(runs: LoadResult[]): LoadResult {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  return {
    issued: runs.reduce((a, r) => a + r.issued, 0),
    requests,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    seconds,
    rate: requests / seconds,
    // Per-run percentiles cannot be merged exactly: the worse of the runs.
    p50: Math.max(...runs.map((r) => r.p50)),
    p99: Math.max(...runs.map((r) => r.p99)),
    firstError: runs.find((r) => r.firstError)?.firstError ?? null,
  };
}

/** The mean of several CPU readings (same keys). */
export function meanCpu(readings: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of readings) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v / readings.length;
  return out;
}

/**
 * Waits until process `pid` uses under `threshold`% of a core for a whole second (at most
 * `maxMs`), and returns that last reading: lets a server finish its start-up work (e.g. the first
 * sweeps) before a measurement.
 */
export async function waitIdle(pid: number, maxMs: number, threshold = 15): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const m = cpuMeter({ p: pid }, false);
    await sleep(1_000);
    const cpu = m.stop()['p'] ?? 0;
    if (cpu < threshold || Date.now() > deadline) return cpu;
  }
}

// ---- social graphs (fan-out and connections) ---------------------------------------------------------

/**
 * The social graph of the fan-out and connections benchmarks (BENCH_GRAPH, a comma-separated list,
 * run one after the other in the same run; default `realistic`):
 * - `realistic`: every viewer's BENCH_GRAPH_FRIENDS (100) friends are drawn from BENCH_GRAPH_USERS
 *   (1,000,000) user ids, so viewers' friend lists barely overlap;
 * - `overlapping`: the original graph, every viewer following a few shared users.
 */
export type Graph = 'realistic' | 'overlapping';
export function graphsFromEnv(): Graph[] {
  const raw = (process.env['BENCH_GRAPH'] ?? 'realistic')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const g of raw)
    if (g !== 'realistic' && g !== 'overlapping') throw new Error(`BENCH_GRAPH: expected realistic and/or overlapping, got "${g}"`);
  return raw.length ? [...new Set(raw as Graph[])] : ['realistic'];
}

/** `n` distinct random ids `<prefix><k>`, k < `space` (a realistic graph's unconnected friends). */
export function randomIds(prefix: string, n: number, space: number): string[] {
  const out = new Set<string>();
  while (out.size < n) out.add(`${prefix}${Math.floor(Math.random() * space)}`);
  return [...out];
}

// ---- CPU pinning (BENCH_PIN=1) --------------------------------------------------------------------

/** BENCH_PIN=1: the process under test on core 0, Redis and the load generator on the last core. */
export const pinning = () => process.env['BENCH_PIN'] === '1' && cpus().length >= 2;

/**
 * Pins every thread of `pid` to `core` (taskset -a); a no-op unless BENCH_PIN=1. Cores are counted
 * with os.cpus(), not availableParallelism(), which shrinks to 1 once this process is pinned.
 */
export function pin(pid: number, core: 'work' | 'rest'): void {
  if (!pinning()) return;
  const cpu = core === 'work' ? 0 : cpus().length - 1;
  execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Lets every thread of `pid` run on every core again; a no-op unless BENCH_PIN=1. */
export function unpin(pid: number): void {
  if (!pinning()) return;
  execFileSync('taskset', ['-a', '-pc', `0-${cpus().length - 1}`, String(pid)], { stdio: 'ignore' });
}
