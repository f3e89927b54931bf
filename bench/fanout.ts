/**
 * Benchmark 4: fan-out.
 *
 * "One change per friend to 10,000 graphql-ws subscribers spread over two instances: deliveries
 * per second and publish-to-receipt latency p50/p99, against a raw baseline (ioredis subscriber
 * plus `ws.send` of the same payload). Target ratio at least 0.5 and p99 at most 100 ms at 70% of
 * the maximum rate."
 *
 * Two API server processes on one redis-server; BENCH_FANOUT_VIEWERS viewers (half on each)
 * holding friendPresenceChanged; publishers, each the friend of `k` connected viewers (spread over
 * both instances), so each change has exactly `k` recipients. The graph (BENCH_GRAPH, one run per
 * graph listed):
 * - `realistic` (default): k = BENCH_FANOUT_RECIPIENTS (10), viewers/k publishers; each viewer has
 *   one publisher among its BENCH_GRAPH_FRIENDS (100) friends, the others drawn from
 *   BENCH_GRAPH_USERS (1M) ids, and each publisher has 100 friends too (its k viewers and 100 - k
 *   random ids): viewers' friend lists barely overlap, and routing a change reads 100 friends'
 *   routes to find its k connected ones.
 * - `overlapping`: BENCH_FANOUT_PUBLISHERS (100) publishers, k = viewers/publishers, no other
 *   friends (every viewer follows one of a few shared users).
 * The receivers and the driver run in one separate process (bench/fanout-load.ts); the driver
 * changes publishers' statuses with the engine's own PRESENCE script on its own Redis connection
 * and the engine routes it (friends, their routes, one PUBLISH per instance inbox), as
 * setPresence does, so the HTTP cost of setPresence is left out and only fan-out is measured.
 *   1. maximum rate: closed loop with BENCH_FANOUT_WINDOW x 100 deliveries outstanding;
 *   2. latency: open loop at 70% of that rate; every delivery's publish-to-receipt time.
 * Baseline: the same graph, the same writer and routing, against two bench/raw-fanout-server.ts
 * processes (ioredis on the instance inbox + `ws.send` to each named recipient) on the same Redis.
 */
import { createKeys } from '../src/engine/redis/keys.js';
import { createRedisEngine } from '../src/engine/redis/index.js';
import { createMemoryBus } from '../src/engine/bus.js';
import { Status } from '../src/domain/presence.js';
import { startRedis } from './lib/redis.js';
import { publisherId, viewerId } from './fanout-load.js';
import {
  boundBy,
  cpuMeter,
  graphsFromEnv,
  randomIds,
  type Graph,
  type Row,
  envInt,
  fmtCpu,
  fmtInt,
  fmtNum,
  log,
  pool,
  profileLines,
  startNode,
  startPresenceServer,
  track,
  waitForOutput,
  loopLine,
  type LoopSummary,
  type NodeChild,
  type ProfileSummary,
  type Section,
} from './lib/index.js';

interface Saturation {
  deliveries: number;
  changes: number;
  seconds: number;
  rate: number;
  lost: number;
  driverErrors: number;
  otherFrames: number;
  closed: number;
}
interface Latency {
  targetRate: number;
  achievedRate: number;
  deliveries: number;
  expected: number;
  deliveriesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  over100: number;
  slowSlots: number;
  slots: number;
  worstSlots: { atMs: number; maxMs: number; over100: number }[];
  unmatched: number;
  driverErrors: number;
  otherFrames: number;
  closed: number;
}
interface Outcome {
  connect: { connected: number; seconds: number };
  sat: Saturation;
  lat: Latency;
  cpuSat: Record<string, number>;
  cpuLat: Record<string, number>;
  /** Event-loop delay and GC of each server (then of the load process) during the latency run. */
  loops: LoopSummary[];
  /** Redis SLOWLOG entries (over 10 ms) during the runs. */
  slowlog: string[];
  profile: ProfileSummary | null;
}

const BUCKETS = 65_536; // the servers' default PRESENCE_BUCKETS

export async function benchFanout(): Promise<Section> {
  const rows: Row[] = [];
  const details: string[] = [];
  for (const graph of graphsFromEnv()) {
    const s = await benchFanoutGraph(graph);
    rows.push(...s.rows);
    details.push(...s.details);
  }
  return { title: '4. Fan-out', rows, details };
}

async function benchFanoutGraph(graph: Graph): Promise<Section> {
  const viewers = envInt('BENCH_FANOUT_VIEWERS', 10_000);
  const realistic = graph === 'realistic';
  const friendsPer = envInt('BENCH_GRAPH_FRIENDS', 100);
  const userSpace = envInt('BENCH_GRAPH_USERS', 1_000_000);
  const recipients = envInt('BENCH_FANOUT_RECIPIENTS', 10);
  if (realistic && viewers % recipients !== 0) throw new Error('BENCH_FANOUT_VIEWERS must be a multiple of BENCH_FANOUT_RECIPIENTS');
  if (realistic && recipients > friendsPer) throw new Error('BENCH_FANOUT_RECIPIENTS must be at most BENCH_GRAPH_FRIENDS');
  const publishers = realistic ? viewers / recipients : envInt('BENCH_FANOUT_PUBLISHERS', 100);
  // The same deliveries outstanding whatever the recipients per change: BENCH_FANOUT_WINDOW x 100.
  const durationMs = envInt('BENCH_DURATION_S', 10) * 1000;
  const warmupMs = envInt('BENCH_WARMUP_S', 2) * 1000;
  if (viewers % publishers !== 0) throw new Error('BENCH_FANOUT_VIEWERS must be a multiple of BENCH_FANOUT_PUBLISHERS');
  const fanout = viewers / publishers;
  const window = Math.max(1, Math.round((envInt('BENCH_FANOUT_WINDOW', 50) * 100) / fanout));
  log(`fan-out, ${graph} graph: ${fmtInt(viewers)} viewers, ${fmtInt(publishers)} publishers, ${fanout} recipients per change`);

  const redis = await startRedis();
  track(redis.proc);
  const children: NodeChild[] = [];
  try {
    // Friendships: each publisher with its viewers (i % publishers === p), stored by the engine.
    const seed = [redis.client(), redis.client(), redis.client(), redis.client()].map((client) =>
      createRedisEngine({ client, prefix: 'presence:', buckets: BUCKETS, friendship: true, bus: createMemoryBus() }),
    );
    const engine = seed[0]!;
    const ps = Array.from({ length: publishers }, (_, p) => p);
    const seedStart = performance.now();
    await pool(ps, 10, (p) =>
      engine.addFriends(
        publisherId(p),
        Array.from({ length: fanout }, (_, k) => viewerId(p + k * publishers)),
      ),
    );
    if (realistic) {
      // The rest of everyone's 100 friends: random ids out of 1M, not connected (no routes).
      const vs = Array.from({ length: viewers }, (_, i) => i);
      await pool(vs, 32, (i) => seed[i % seed.length]!.addFriends(viewerId(i), randomIds('fu-', friendsPer - 1, userSpace)));
      if (friendsPer > fanout)
        await pool(ps, 32, (p) => seed[p % seed.length]!.addFriends(publisherId(p), randomIds('fu-', friendsPer - fanout, userSpace)));
    }
    const admin0 = redis.client();
    const friendsOf = async (id: string) => admin0.scard(`presence:friends:${id}`);
    const sampleViewer = await friendsOf(viewerId(0));
    const samplePublisher = await friendsOf(publisherId(0));
    admin0.disconnect();
    log(
      `fan-out, ${graph} graph: friendships stored in ${fmtNum((performance.now() - seedStart) / 1000, 1)} s (viewer 0 has ${sampleViewer} friends, publisher 0 has ${samplePublisher})`,
    );
    await pool(ps, 50, (p) => engine.setStatus(publisherId(p), Status.ONLINE, { sessionId: 'bench', owner: null }, 3_600_000, Date.now()));

    const admin = redis.client();
    await admin.call('SLOWLOG', 'RESET');
    const load = startNode('bench/fanout-load.ts');
    children.push(load);
    await load.next('ready');
    const keys = createKeys('presence:', BUCKETS);

    const measure = async (mode: 'presence' | 'raw', servers: NodeChild[], urls: string[]): Promise<Outcome> => {
      const label = mode === 'presence' ? 'Presence' : 'raw baseline';
      log(`fan-out (${label}): connecting ${fmtInt(viewers)} sockets to ${servers.length} instances`);
      const connect = await load.call<Outcome['connect']>(
        'connect',
        { mode, urls, viewers, publishers, redisUrl: redis.url, buckets: BUCKETS },
        300_000,
      );
      await load.call('warm', { timeoutMs: 60_000 }, 90_000);
      const pids: Record<string, number> = { redis: redis.proc.pid!, 'load+receivers': load.pid };
      servers.forEach((s, i) => (pids[`${mode === 'presence' ? 'api' : 'raw'}-${'AB'[i]}`] = s.pid));

      log(
        `fan-out (${label}): maximum rate, ${window} changes (${fmtInt(window * fanout)} deliveries) outstanding, ${durationMs / 1000} s`,
      );
      let cpu = cpuMeter(pids);
      const sat = await load.call<Saturation>('saturate', { warmupMs, durationMs, window }, durationMs + warmupMs + 30_000);
      const cpuSat = cpu.stop();
      const rate = (0.7 * sat.rate) / fanout;
      log(
        `fan-out (${label}): latency at 70% of it (${fmtInt(rate)} changes/s = ${fmtInt(rate * fanout)} deliveries/s), ${durationMs / 1000} s`,
      );
      cpu = cpuMeter(pids);
      await Promise.all([...servers, load].map((s) => s.call('loop-start')));
      const lat = await load.call<Latency>('latency', { rate, warmupMs, durationMs }, durationMs + warmupMs + 30_000);
      const loops = await Promise.all([...servers, load].map((s) => s.call<LoopSummary>('loop-stop')));
      const cpuLat = cpu.stop();
      // Redis's own view: commands that took over 10 ms (slowlog) in these runs.
      const slow = (await admin.call('SLOWLOG', 'GET', '5')) as [number, number, number, string[]][];
      await admin.call('SLOWLOG', 'RESET');
      const slowlog = slow.map(([, , us, args]) => `${args.slice(0, 2).join(' ')} ${fmtNum(us / 1000, 1)} ms`);
      // Evidence, in case a target is missed: a profile of one API instance at the maximum rate.
      const profile = mode === 'presence' ? await profileSaturated(load, servers[0]!) : null;
      await load.call('close');
      return { connect, sat, lat, cpuSat, cpuLat, loops, profile, slowlog };
    };
    const profileSaturated = async (load: NodeChild, server: NodeChild) => {
      log('fan-out: profiling instance A for 5 s at the maximum rate');
      await server.call('profile-start');
      await load.call('saturate', { warmupMs: 0, durationMs: 5_000, window }, 60_000);
      return server.call<ProfileSummary>('profile-stop', { top: 10 });
    };

    // ---- Presence: two API instances ----
    const env = { REDIS_URL: redis.url, PRESENCE_RETENTION_SCAN_MS: '3600000' };
    const api = await Promise.all([startPresenceServer(env), startPresenceServer(env)]);
    children.push(...api);
    const presence = await measure(
      'presence',
      api,
      api.map((s) => s.url),
    );
    await Promise.all(api.map((s) => s.stop()));

    // ---- raw baseline: two ioredis + ws servers, routed like the API instances ----
    // The API instances' routes go (whatever their shutdown left), the raw instances' are added:
    // viewer i on instance floor(i / publishers) % 2, as fanout-load.ts connects them.
    const routeKeys: string[] = [];
    for (let cursor = '0'; ;) {
      const [next, found] = await admin.scan(cursor, 'MATCH', 'presence:*:r:*', 'COUNT', 1000);
      routeKeys.push(...found);
      if ((cursor = next) === '0') break;
    }
    for (let i = 0; i < routeKeys.length; i += 1000) await admin.del(...routeKeys.slice(i, i + 1000));
    const rawIds = ['raw-A', 'raw-B'];
    const rawPipe = admin.pipeline();
    for (let i = 0; i < viewers; i++) rawPipe.sadd(keys.routes(viewerId(i)), rawIds[Math.floor(i / publishers) % 2]!);
    await rawPipe.exec();
    const raws = rawIds.map((id) => startNode('bench/raw-fanout-server.ts', { env: { REDIS_URL: redis.url, RAW_INBOX: keys.inbox(id) } }));
    children.push(...raws);
    const ports = await Promise.all(
      raws.map((r) => waitForOutput(r, /"port":(\d+),"msg":"raw-fanout listening"/).then((m) => Number(m[1]))),
    );
    const raw = await measure(
      'raw',
      raws,
      ports.map((p) => `http://127.0.0.1:${p}`),
    );
    await Promise.all(raws.map((r) => r.stop()));

    const ratio = presence.sat.rate / raw.sat.rate;
    await load.stop();

    const ok = ratio >= 0.5;
    const latOk = presence.lat.p99 <= 100;
    const line = (label0: string, o: Outcome) => {
      const label = `${label0}, ${graph} graph`;
      return [
        `${label}: ${fmtInt(o.connect.connected)} sockets connected in ${fmtNum(o.connect.seconds, 1)} s.` +
          ` Maximum: ${fmtInt(o.sat.deliveries)} deliveries in ${fmtNum(o.sat.seconds, 1)} s = ${fmtInt(o.sat.rate)} deliveries/s (${fmtInt(o.sat.changes / o.sat.seconds)} changes/s x ${fanout});` +
          ` lost ${o.sat.lost}, sockets closed ${o.sat.closed}, error frames ${o.sat.otherFrames}, driver errors ${o.sat.driverErrors}. CPU: ${fmtCpu(o.cpuSat)}.`,
        `${label}: at 70% (${fmtInt(o.lat.targetRate)} changes/s asked, ${fmtInt(o.lat.achievedRate)} sent, ${fmtInt(o.lat.deliveriesPerSec)} deliveries/s):` +
          ` publish-to-receipt p50 ${fmtNum(o.lat.p50, 1)} ms, p99 ${fmtNum(o.lat.p99, 1)} ms, max ${fmtNum(o.lat.max, 1)} ms over ${fmtInt(o.lat.deliveries)} of ${fmtInt(o.lat.expected)} expected deliveries` +
          ` (unmatched ${o.lat.unmatched}). ${fmtInt(o.lat.over100)} deliveries (${fmtNum((o.lat.over100 / Math.max(1, o.lat.deliveries)) * 100, 2)}%) took over 100 ms,` +
          ` sent in ${o.lat.slowSlots} of ${o.lat.slots} 250-ms slots${o.lat.worstSlots.length ? ` (worst: ${o.lat.worstSlots.map((w) => `+${fmtNum(w.atMs / 1000, 2)} s max ${fmtNum(w.maxMs, 0)} ms`).join(', ')})` : ''}. CPU: ${fmtCpu(o.cpuLat)}.`,
        ...o.loops.map(
          (l, i) =>
            `${label}, ${i < o.loops.length - 1 ? `instance ${'AB'[i]}` : 'load+receivers process'} during the latency run: ${loopLine('', l, (warmupMs + durationMs) / 1000).slice(2)}`,
        ),
        `${label}: Redis commands over 10 ms (SLOWLOG) during these runs: ${o.slowlog.length ? o.slowlog.join('; ') : 'none'}.`,
      ];
    };
    /** Server CPU (all instances) per delivery at the maximum rate, in µs. */
    const cost = (o: Outcome) =>
      (Object.entries(o.cpuSat)
        .filter(([k]) => k.startsWith('api-') || k.startsWith('raw-'))
        .reduce((a, [, v]) => a + v, 0) /
        100 /
        o.sat.rate) *
      1e6;
    const details = [
      ...line('Presence (2 API instances)', presence),
      ...line('Raw baseline (2 ioredis+ws servers)', raw),
      `${graph} graph: server CPU per delivery at the maximum rate: Presence ${fmtNum(cost(presence), 1)} µs, raw ${fmtNum(cost(raw), 1)} µs (x${fmtNum(cost(presence) / cost(raw), 1)}): the contention-free view of the same ratio.`,
      `${graph} graph: ratio of maximum rates ${fmtNum(ratio, 3)} (target >= 0.5: ${ok ? 'PASS' : `MISS by ${fmtNum(0.5 - ratio, 3)}`}); p99 at 70% ${fmtNum(presence.lat.p99, 1)} ms (target <= 100 ms: ${latOk ? 'PASS' : `MISS by ${fmtNum(presence.lat.p99 - 100, 1)} ms`}).`,
      `${graph} graph setup: ${fmtInt(viewers)} viewers, ${publishers} publishers, ${fanout} connected viewers per publisher (each publisher's viewers split over both instances);` +
        (realistic
          ? ` every viewer has ${sampleViewer} friends (one publisher, the rest drawn from ${fmtInt(userSpace)} ids), every publisher ${samplePublisher} (its ${fanout} viewers and random ids);`
          : ` every viewer has ${sampleViewer} friend(s), all shared with the other viewers of its publisher;`) +
        ` one change = one PRESENCE script, then the engine's routing (SMEMBERS of the friends, SMEMBERS of their routes, one PUBLISH per instance inbox), the same for Presence and baseline;` +
        ` ${fmtInt(window)} changes (${fmtInt(window * fanout)} deliveries) outstanding at the maximum rate.` +
        ' Every process shares the same 2 cores: Redis, both servers and the load/receiver process compete, so the maximum rate is that of the whole box, for Presence and baseline alike.',
    ];
    if (!latOk) {
      const apiLoops = presence.loops.slice(0, -1);
      const loadLoop = presence.loops[presence.loops.length - 1]!;
      const rawLoops = raw.loops.slice(0, -1);
      const gcShare = (ls: LoopSummary[]) => (ls.reduce((a, l) => a + l.gcTotalMs, 0) / ls.length / (warmupMs + durationMs)) * 100;
      const slowest = presence.slowlog.map((e) => Number(/([\d.]+) ms$/.exec(e)?.[1] ?? 0));
      details.push(
        `${graph} graph, what bounds the p99: ${fmtInt(presence.lat.over100)} deliveries took over 100 ms and all were sent in ${presence.lat.slowSlots} of the ${presence.lat.slots} 250-ms slots:` +
          ` a few stalls, not a uniformly slow path (p50 ${fmtNum(presence.lat.p50, 1)} ms). The API instances' event loops stalled for up to ${fmtNum(Math.max(...apiLoops.map((l) => l.delayMax)), 0)} ms` +
          ` (the receivers' for at most ${fmtNum(loadLoop.delayMax, 0)} ms; Redis's slowest command took ${fmtNum(Math.max(0, ...slowest), 0)} ms),` +
          ` and they spent ${fmtNum(gcShare(apiLoops), 1)}% of the time in GC pauses against ${fmtNum(gcShare(rawLoops), 1)}% for the raw servers.`,
      );
    }
    if (!ok || !latOk || process.env['BENCH_PROFILE'] === '1') {
      details.push(`${graph} graph, what bounds Presence at the maximum rate: ${boundBy(presence.cpuSat)}`);
      if (presence.profile) details.push(...profileLines(`${graph} graph, API instance A at the maximum rate`, presence.profile));
    }
    return {
      title: '4. Fan-out',
      rows: [
        {
          bench: `4. Fan-out to ${fmtInt(viewers)} graphql-ws subscribers on 2 instances, ${graph} graph (${fanout} recipients per change): deliveries/s`,
          presence: `${fmtInt(presence.sat.rate)}/s`,
          baseline: `${fmtInt(raw.sat.rate)}/s (ioredis inbox + ws.send)`,
          ratio: fmtNum(ratio, 3),
          target: '>= 0.5',
          result: ok ? 'PASS' : 'MISS',
        },
        {
          bench: `4c. Server CPU per delivery at the maximum rate, ${graph} graph`,
          presence: `${fmtNum(cost(presence), 1)} µs`,
          baseline: `${fmtNum(cost(raw), 1)} µs`,
          ratio: fmtNum(cost(presence) / cost(raw), 2),
          target: '(none)',
          result: 'info',
        },
        {
          bench: `4b. Fan-out publish-to-receipt latency at 70% of max rate, ${graph} graph, p50 / p99`,
          presence: `${fmtNum(presence.lat.p50, 1)} / ${fmtNum(presence.lat.p99, 1)} ms`,
          baseline: `${fmtNum(raw.lat.p50, 1)} / ${fmtNum(raw.lat.p99, 1)} ms`,
          ratio: '-',
          target: 'p99 <= 100 ms',
          result: latOk ? 'PASS' : 'MISS',
        },
      ],
      details,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await redis.stop();
  }
}
