/**
 * Benchmark 6: what each plugin of the request path costs (issue 11, item 2).
 *
 * In one process, no HTTP and no Redis: the server's own yoga options and plugins
 * (src/server/yoga.ts yogaOptions, requestPlugins) on the memory engine, driven through yoga.fetch, so that what is measured is the GraphQL request path
 * alone (parse, validate, context, execute, plugins, stringify) and the noise of sockets and
 * other processes stays out. The same load runs against the full plugin set, against the set less
 * one plugin (one variant per plugin), against no plugins at all, and against a bare
 * graphql-yoga answering `{ hello }`; the variants are interleaved round by round in a shuffled
 * order, and each figure is the median over the rounds of CPU µs per request
 * (process.cpuUsage, user + system, GC included). A plugin's cost is the median over the rounds
 * of all - (all less it), both from the same round; a negative one is noise.
 *
 * Workloads: `{ me { status lastActiveAt } }` (authenticated) and `presence(ids)` x100 (a viewer
 * with 100 friends, all with a status). `BENCH_PLUGIN_ROUNDS` rounds (default 25) of
 * `BENCH_PLUGIN_REQUESTS` requests (default 400; a tenth for presence(ids)) per variant, 16 in flight.
 */
import { randomUUID } from 'node:crypto';
import { createSchema, createYoga } from 'graphql-yoga';
import { createViewerFrom, signToken } from '../src/infra/auth.js';
import { loadConfig } from '../src/config.js';
import { createMemoryEngine } from '../src/engine/memory/index.js';
import { createContext } from '../src/schema/context.js';
import { createMetrics } from '../src/infra/metrics.js';
import { createEarlyAuth } from '../src/plugins/early-auth.js';
import { Status } from '../src/domain/presence.js';
import type { WatchDeps } from '../src/realtime/watch.js';
import { createConnectionQuota } from '../src/transport/quota.js';
import { builder } from '../src/schema/builder.js';
import { schema } from '../src/schema/index.js';
import { requestPlugins, yogaOptions, type PluginName, type YogaDeps } from '../src/server/yoga.js';
import { createLogger } from '../src/infra/logger.js';
import { BENCH_SECRET, envInt, fmtNum, log, pct, pin, startNode, type Section } from './lib/index.js';

type Fetch = (body: string, headers: Record<string, string>) => Promise<string>;
/** A plugin of the request path, or Pothos' authScopes check (scopeAuth). */
type Variant = PluginName | 'scopeAuth';

const ME = '{ me { status lastActiveAt } }';
const PRESENCE = 'query Presence($ids: [ID!]!) { presence(ids: $ids) { userId status lastActiveAt version } }';

/** The in-process server of this benchmark (also used to profile the request path by hand). */
export async function pluginBenchSetup() {
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: BENCH_SECRET, LOG_LEVEL: 'warn' });
  const engine = createMemoryEngine({ friendship: true });
  const viewerId = randomUUID();
  const friends = Array.from({ length: 100 }, () => randomUUID());
  await engine.addFriends(viewerId, friends);
  const now = Date.now();
  await engine.setStatus(viewerId, Status.ONLINE, { sessionId: 'd', owner: null }, 3_600_000, now);
  for (const [i, f] of friends.entries()) {
    await engine.setStatus(f, i % 3 ? Status.ONLINE : Status.AWAY, { sessionId: 'd', owner: null }, 3_600_000, now - i * 1_000);
  }
  const token = await signToken(BENCH_SECRET, viewerId, { expiresIn: '2h' });
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` };

  const metrics = createMetrics();
  const watch = {
    router: null,
    load: engine.load.bind(engine),
    friendsOf: engine.friendsOf.bind(engine),
    visibility: config.visibility,
    metrics,
  };
  const services = { config, engine, metrics, watch: watch as unknown as WatchDeps };
  const viewerFrom = createViewerFrom(config.jwt, config.maxIdLength);
  const deps: YogaDeps = {
    config,
    logger: createLogger(config),
    metrics,
    services,
    viewerFrom,
    earlyAuth: createEarlyAuth(viewerFrom, config.limits.maxAnonymousChars),
    quota: createConnectionQuota(config.limits.connectionsPerUser),
    ready: async () => true,
  };
  // This benchmark's own yoga: the app's options with the plugins of requestPlugins less those
  // left out; scopeAuth (Pothos' authScopes) is left out with a schema built without it.
  const plugins = requestPlugins(deps);
  const withoutScopeAuth = builder.toSchema({ sortSchema: true, disableScopeAuth: true });
  const variants: Variant[] = [...plugins.map(([name]) => name), 'scopeAuth'];
  const presenceYoga = (leaveOut: ReadonlySet<Variant>): Fetch => {
    const kept = plugins.filter(([name]) => !leaveOut.has(name)).map(([, make]) => make());
    const yoga = createYoga(yogaOptions(deps, kept, leaveOut.has('scopeAuth') ? withoutScopeAuth : schema));
    return async (body, h) => (await yoga.fetch('http://127.0.0.1/graphql', { method: 'POST', headers: h, body })).text();
  };
  const close = () => engine.close();
  return { config, presenceYoga, variants, headers, friends, close, services, engine, viewerId };
}

/**
 * Runs the measurement in a child process with NODE_ENV=production, as the servers run: graphql-js
 * picks its slower development-mode checks (instanceOf) at import time, and this process (the
 * suite) has imported it already.
 */
export async function benchPlugins(): Promise<Section> {
  const child = startNode('bench/plugins.ts', {
    env: {
      NODE_ENV: 'production',
      BENCH_PLUGIN_CHILD: '1',
      ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('BENCH_') && v !== undefined)),
    },
  });
  try {
    pin(child.pid, 'work');
    return (await child.next<{ section: Section }>('plugins-result', 30 * 60_000)).section;
  } finally {
    await child.stop();
  }
}

if (process.env['BENCH_PLUGIN_CHILD'] === '1') {
  const section = await measurePlugins();
  process.send!({ type: 'plugins-result', section });
  // Let the message leave before the process does.
  await new Promise((r) => setTimeout(r, 200));
  process.exit(0);
}

async function measurePlugins(): Promise<Section> {
  const rounds = envInt('BENCH_PLUGIN_ROUNDS', 25);
  const perVariant = envInt('BENCH_PLUGIN_REQUESTS', 400);
  const { presenceYoga, variants: present, headers, friends, close, services, engine, viewerId } = await pluginBenchSetup();
  const bare = createYoga({
    schema: createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } }),
    logging: false,
  });
  const bareFetch: Fetch = async (body, h) => (await bare.fetch('http://127.0.0.1/graphql', { method: 'POST', headers: h, body })).text();

  const variants: { name: string; fetch: Fetch }[] = [
    { name: 'all', fetch: presenceYoga(new Set()) },
    ...present.map((n) => ({ name: `-${n}`, fetch: presenceYoga(new Set([n])) })),
    { name: 'none', fetch: presenceYoga(new Set(present)) },
  ];

  const workloads = [
    { name: '{ me { status lastActiveAt } }', body: JSON.stringify({ query: ME }), check: '"status":"ONLINE"', n: perVariant },
    {
      name: 'presence(ids) x100',
      body: JSON.stringify({ query: PRESENCE, operationName: 'Presence', variables: { ids: friends } }),
      check: '"version"',
      n: Math.max(20, Math.round(perVariant / 10)),
    },
  ];
  const hello = JSON.stringify({ query: '{ hello }' });

  /** CPU µs per request of `n` requests, 16 in flight. */
  const measure = async (fetch: Fetch, body: string, check: string, n: number) => {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const text = await fetch(body, headers);
        if (!text.includes(check)) throw new Error(`plugins: unexpected answer ${text.slice(0, 300)}`);
      }
    };
    const t0 = process.cpuUsage();
    await Promise.all(Array.from({ length: 16 }, worker));
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / n;
  };

  const results: { workload: string; costs: Map<string, number[]>; hello: number[] }[] = [];
  for (const w of workloads) {
    log(`plugins: ${w.name}: ${variants.length} variants + bare yoga, ${rounds} rounds of ${w.n} requests each`);
    const costs = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const helloCosts: number[] = [];
    // Warm-up: every variant once, not counted.
    for (const v of variants) await measure(v.fetch, w.body, w.check, w.n);
    await measure(bareFetch, hello, 'world', w.n);
    for (let r = 0; r < rounds; r++) {
      const order = [...variants.map((v) => v as { name: string; fetch: Fetch } | null), null].sort(() => Math.random() - 0.5);
      for (const v of order) {
        if (v) costs.get(v.name)!.push(await measure(v.fetch, w.body, w.check, w.n));
        else helloCosts.push(await measure(bareFetch, hello, '"hello":"world"', w.n));
      }
    }
    results.push({ workload: w.name, costs, hello: helloCosts });
  }

  const median = (xs: number[]) =>
    pct(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const spread = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return (pct(s, 75) - pct(s, 25)) / 2;
  };
  const lines = [
    `In one process, through yoga.fetch (no HTTP, no Redis: the memory engine), ${rounds} interleaved rounds per variant; CPU µs per request, median (± half the interquartile range).` +
      ` A plugin's cost is all - (all less it). Bare graphql-yoga answering \`{ hello }\` is measured in the same rounds.`,
    '',
    `| Plugin (cost = all - all less it) | ${results.map((r) => `${r.workload}: µs/request`).join(' | ')} |`,
    `| --- | ${results.map(() => '---:').join(' | ')} |`,
  ];
  const all = results.map((r) => median(r.costs.get('all')!));
  lines.push(
    `| **all plugins (as deployed)** | ${all.map((a, i) => `**${fmtNum(a, 1)}** ± ${fmtNum(spread(results[i]!.costs.get('all')!), 1)}`).join(' | ')} |`,
  );
  for (const n of present) {
    const cells = results.map((r) => {
      const without = r.costs.get(`-${n}`)!;
      const diffs = r.costs.get('all')!.map((a, round) => a - without[round]!);
      return `${fmtNum(median(diffs), 1)} ± ${fmtNum(spread(diffs), 1)}`;
    });
    lines.push(`| ${n} | ${cells.join(' | ')} |`);
  }
  lines.push(
    `| none of them (schema, context, resolvers and yoga alone) | ${results.map((r) => fmtNum(median(r.costs.get('none')!), 1)).join(' | ')} |`,
    `| bare graphql-yoga, \`{ hello }\` | ${results.map((r) => fmtNum(median(r.hello), 1)).join(' | ')} |`,
  );
  // What is not a yoga plugin: the context each request builds, and the presence loader in front
  // of engine.load (presence(ids) goes through loadMany), each against the same work without it.
  const viewer = { userId: viewerId, service: false, exp: null };
  const perCall = async (n: number, op: () => unknown) => {
    for (let i = 0; i < n / 10; i++) await op();
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await op();
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / n;
  };
  const contextUs: number[] = [];
  const loaderUs: number[] = [];
  const directUs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    contextUs.push(await perCall(20_000, () => createContext(services, viewer)));
    loaderUs.push(await perCall(500, () => createContext(services, viewer).presence.loadMany(friends)));
    directUs.push(await perCall(500, () => engine.load(viewerId, friends)));
  }
  const loaderDiffs = loaderUs.map((l, i) => l - directUs[i]!);
  lines.push(
    '',
    `Outside the plugins, same process, ${rounds} rounds: building a request's context (src/schema/context.ts) ${fmtNum(median(contextUs), 2)} µs;` +
      ` the context's presence loader (loadMany of 100 ids) costs ${fmtNum(median(loaderDiffs), 1)} ± ${fmtNum(spread(loaderDiffs), 1)} µs more than calling engine.load with them directly` +
      ` (${fmtNum(median(loaderUs), 1)} against ${fmtNum(median(directUs), 1)} µs on the memory engine).`,
  );
  await close();
  const me = results[0]!;
  const ratio = median(me.hello) / median(me.costs.get('all')!);
  return {
    title: '6. Per-plugin cost',
    rows: [
      {
        bench: '6. Request path in one process (yoga.fetch): { me } vs bare yoga { hello }, CPU per request',
        presence: `${fmtNum(median(me.costs.get('all')!), 1)} µs`,
        baseline: `${fmtNum(median(me.hello), 1)} µs`,
        ratio: fmtNum(ratio, 3),
        target: '(info; the HTTP figure is benchmark 7)',
        result: 'info',
      },
    ],
    details: lines,
  };
}
