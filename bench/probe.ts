/**
 * Measurement probe, preloaded into every server process the suite starts
 * (`node --expose-gc --import tsx --import bench/probe.ts src/main.ts`) and imported by the
 * bench-only servers. It answers commands over the IPC channel that the suite opens:
 *
 * - `mem`: a full GC (twice), then process.memoryUsage();
 * - `profile-start` / `profile-stop`: a CPU profile of a window (the in-process V8 inspector),
 *   summarised as the top self-time functions and self time by package.
 *
 * Nothing here runs unless asked; the channel is unref'd so it never keeps a process alive, and
 * the process exits if the suite goes away.
 */
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import type { ProfileSummary } from './lib/index.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

type Handler = (msg: Record<string, unknown>) => Promise<unknown> | unknown;
const handlers = new Map<string, Handler>();

/** Adds a command to the probe (the bench-only servers add their own). */
export function handle(cmd: string, fn: Handler): void {
  handlers.set(cmd, fn);
}

const gc = (globalThis as { gc?: () => void }).gc;

handle('mem', async () => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
});

const LOOP_RESOLUTION_MS = 1;
// Event-loop delay and GC pauses over a window: what a latency tail is made of.
let loop: { histogram: IntervalHistogram; observer: PerformanceObserver; pauses: number[]; major: number[] } | null = null;
handle('loop-start', () => {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const pauses: number[] = [];
  const major: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      pauses.push(e.duration);
      if (((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0) === constants.NODE_PERFORMANCE_GC_MAJOR)
        major.push(e.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  histogram.enable();
  loop = { histogram, observer, pauses, major };
  return true;
});
handle('loop-stop', () => {
  if (!loop) throw new Error('loop-start first');
  const { histogram, observer, pauses, major } = loop;
  histogram.disable();
  observer.disconnect();
  loop = null;
  // The histogram holds the whole interval between the timer's runs: keep only the lateness.
  const ms = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return {
    delayP50: ms(histogram.percentile(50)),
    delayP99: ms(histogram.percentile(99)),
    delayMax: ms(histogram.max),
    gcCount: pauses.length,
    gcTotalMs: pauses.reduce((a, b) => a + b, 0),
    gcMaxMs: pauses.length ? Math.max(...pauses) : 0,
    majorCount: major.length,
    majorMaxMs: major.length ? Math.max(...major) : 0,
  };
});

let session: Session | null = null;
handle('profile-start', async () => {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  return true;
});
handle('profile-stop', async (msg) => {
  if (!session) throw new Error('no profile running');
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[] } };
  session.disconnect();
  session = null;
  return summarize(profile.nodes, Number(msg['top'] ?? 10));
});

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

// Sampling heap profiler: live memory by allocation site, for what was allocated since the start.
let heapSession: Session | null = null;
handle('heap-start', async () => {
  heapSession = new Session();
  heapSession.connect();
  await heapSession.post('HeapProfiler.enable');
  await heapSession.post('HeapProfiler.startSampling', { samplingInterval: 16_384 });
  return true;
});
handle('heap-stop', async (msg) => {
  if (!heapSession) throw new Error('no heap sampling running');
  // Only live objects are reported: run `mem` (a full GC) first.
  const { profile } = (await heapSession.post('HeapProfiler.getSamplingProfile')) as unknown as { profile: { head: HeapNode } };
  await heapSession.post('HeapProfiler.stopSampling');
  heapSession.disconnect();
  heapSession = null;
  const topN = Number(msg['top'] ?? 10);
  const byFn = new Map<string, { name: string; where: string; bytes: number }>();
  const byPkg = new Map<string, number>();
  let total = 0;
  // A builtin (Map, Set.add, JSON.parse, ...) has no location: it is named with its nearest caller
  // that has one, so that the site says whose Map it is.
  const walk = (n: HeapNode, caller: string) => {
    const here = n.callFrame.url
      ? `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber)}`
      : caller;
    if (n.selfSize) {
      total += n.selfSize;
      const own = n.callFrame.functionName || '(anonymous)';
      const name = n.callFrame.url || !caller ? own : `${own} <- ${caller.split(' ')[0]}`;
      const w = n.callFrame.url
        ? where(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber)
        : caller.split(' ').slice(1).join(' ');
      const key = `${name}@${w}`;
      const e = byFn.get(key) ?? { name, where: w, bytes: 0 };
      e.bytes += n.selfSize;
      byFn.set(key, e);
      const pkg = packageOf(n as unknown as ProfileNode);
      byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, '');
  return {
    total,
    top: [...byFn.values()].sort((a, b) => b.bytes - a.bytes).slice(0, topN),
    byPackage: [...byPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([name, bytes]) => ({ name, bytes })),
  };
});

/** file:line of a frame, in the TypeScript source when tsx's source map knows it. */
function where(url: string, line: number, column = 0): string {
  if (!url) return '';
  if (!url.includes('node_modules/') && url.startsWith('file:')) {
    try {
      const entry = findSourceMap(url)?.findEntry(line, column) as { originalLine?: number } | undefined;
      if (entry && typeof entry.originalLine === 'number') line = entry.originalLine;
    } catch {
      /* no source map: keep the generated line */
    }
  }
  const nm = url.lastIndexOf('node_modules/');
  const short = nm >= 0 ? url.slice(nm + 13) : url.replace(/^file:\/\/.*?\/(src|bench|test)\//, '$1/');
  return `${short}:${line + 1}`;
}

function packageOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 13).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return 'node (internals)';
  const m = /\/(src|dist|bench|test)\//.exec(url);
  return m ? `${m[1]}/ (ours)` : url;
}

function summarize(nodes: ProfileNode[], topN: number): ProfileSummary {
  let samples = 0;
  let idle = 0;
  const byFn = new Map<string, { name: string; where: string; hits: number }>();
  const byPkg = new Map<string, number>();
  for (const n of nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    samples += hits;
    if (n.callFrame.functionName === '(idle)') {
      idle += hits;
      continue;
    }
    const name = n.callFrame.functionName || '(anonymous)';
    const w = where(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber);
    const key = `${name}@${w}`;
    const e = byFn.get(key) ?? { name, where: w, hits: 0 };
    e.hits += hits;
    byFn.set(key, e);
    const pkg = packageOf(n);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
  }
  const busy = Math.max(1, samples - idle);
  return {
    samples,
    idle,
    top: [...byFn.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, topN)
      .map((e) => ({ name: e.name, where: e.where, pct: (e.hits / busy) * 100 })),
    byPackage: [...byPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([name, hits]) => ({ name, pct: (hits / busy) * 100 })),
  };
}

if (process.send) {
  process.on('message', (msg: { id: number; cmd: string } & Record<string, unknown>) => {
    const fn = handlers.get(msg.cmd);
    Promise.resolve()
      .then(() => {
        if (!fn) throw new Error(`unknown command ${msg.cmd}`);
        return fn(msg);
      })
      .then(
        (result) => process.send?.({ id: msg.id, ok: true, result }),
        (err: Error) => process.send?.({ id: msg.id, ok: false, error: err.stack ?? String(err) }),
      );
  });
  // The suite went away (even by SIGKILL): do not linger.
  process.on('disconnect', () => process.exit(0));
  process.channel?.unref();
}
