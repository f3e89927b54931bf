/**
 * Benchmark 5: memory per idle connection.
 *
 * "Server memory per idle graphql-ws connection holding one friendPresenceChanged subscription
 * (100 friends) at 20,000 connections, against a bare `ws` connection. Target at most 16 KB per
 * connection."
 *
 * One API server process on its own redis-server. BENCH_CONNECTIONS viewers `cv-<i>`, each with
 * BENCH_CONN_FRIENDS (100) mutual friends stored with engine.addFriends. The graph (BENCH_GRAPH,
 * one run per graph listed): `realistic` (default), the friends drawn from BENCH_GRAPH_USERS (1M)
 * ids, so friend lists barely overlap; `overlapping`, a ring where each viewer is the friend of the
 * 50 viewers before and the 50 after it (every friend is itself a connected viewer). Every viewer is already online on
 * another device, so opening its socket publishes nothing and the connections stay idle. Connections are opened by two client
 * processes (bench/conn-load.ts). The server's memory is read through bench/probe.ts after a full
 * GC, before (after a warm-up of 200 connections, closed again) and after all connections are open,
 * subscribed and quiet; the difference divided by the count is the cost of one connection. The
 * baseline is measured the same way on bench/bare-ws-server.ts with bare WebSocket connections.
 * RSS is the verdict (what the machine pays); heapUsed and external show where it goes.
 */
import { readdirSync } from 'node:fs';
import { createRedisEngine } from '../src/engine/redis/index.js';
import { createMemoryBus } from '../src/engine/bus.js';
import { Status } from '../src/domain/presence.js';
import { startRedis } from './lib/redis.js';
import { connViewerId } from './conn-load.js';
import {
  envInt,
  fmtBytes,
  fmtInt,
  fmtNum,
  graphsFromEnv,
  log,
  randomIds,
  type Graph,
  type Row,
  openFilesLimit,
  pool,
  sleep,
  startNode,
  startPresenceServer,
  track,
  usedMemory,
  waitIdle,
  waitForOutput,
  type HeapSummary,
  type MemorySample,
  type NodeChild,
  type Section,
} from './lib/index.js';

const TARGET_KB = 16;
const WARMUP = 200;

interface Opened {
  opened: number;
  failed: number;
  firstError: string;
  seconds: number;
}

export async function benchConnections(): Promise<Section> {
  const rows: Row[] = [];
  const details: string[] = [];
  for (const graph of graphsFromEnv()) {
    const s = await benchConnectionsGraph(graph);
    rows.push(...s.rows);
    details.push(...s.details);
  }
  return { title: '5. Connections', rows, details };
}

async function benchConnectionsGraph(graph: Graph): Promise<Section> {
  const wanted = envInt('BENCH_CONNECTIONS', 20_000);
  const friends = envInt('BENCH_CONN_FRIENDS', 100);
  const redis = await startRedis();
  track(redis.proc);
  const clients: NodeChild[] = [];
  const children: NodeChild[] = [];
  const notes: string[] = [];
  try {
    // Two client processes, each holding half of the connections.
    for (let k = 0; k < 2; k++) {
      const c = startNode('bench/conn-load.ts');
      clients.push(c);
      children.push(c);
    }
    await Promise.all(clients.map((c) => c.next('ready')));

    /** Connections a server process can hold: its open-files limit less what it already uses. */
    const capacity = (pid: number) => openFilesLimit() - readdirSync(`/proc/${pid}/fd`).length - 50;
    const openAll = async (mode: 'presence' | 'bare', url: string, count: number) => {
      const half = Math.ceil(count / 2);
      const results = await Promise.all(
        clients.map((c, k) => c.call<Opened>('open', { mode, url, from: k * half, to: Math.min(count, (k + 1) * half) }, 600_000)),
      );
      const failed = results.reduce((a, r) => a + r.failed, 0);
      if (failed) throw new Error(`connections: ${failed} ${mode} connections failed: ${results.find((r) => r.failed)!.firstError}`);
      return Math.max(...results.map((r) => r.seconds));
    };
    const closeAll = () => Promise.all(clients.map((c) => c.call('close')));
    const quiet = (pid: number, maxMs: number) => waitIdle(pid, maxMs);
    /** Warm-up (code paths, JIT, pools), closed again, then the memory "before". */
    const baseline = async (mode: 'presence' | 'bare', server: NodeChild, url: string): Promise<MemorySample> => {
      await clients[0]!.call<Opened>('open', { mode, url, from: 0, to: WARMUP }, 120_000);
      await sleep(500);
      await clients[0]!.call('close');
      await quiet(server.pid, 15_000);
      return server.call<MemorySample>('mem');
    };

    // ---- friendships: a ring, 100 friends each ----
    const probe = await startPresenceServer({ REDIS_URL: redis.url, PRESENCE_RETENTION_SCAN_MS: '3600000' });
    children.push(probe);
    const count = Math.min(wanted, capacity(probe.pid));
    if (count < wanted) {
      notes.push(
        `Open-files limit: this machine's hard limit is ${openFilesLimit()} (ulimit -Hn), and a server process needs one descriptor per socket plus ~${readdirSync(`/proc/${probe.pid}/fd`).length} of its own,` +
          ` so this run holds ${fmtInt(count)} connections instead of ${fmtInt(wanted)}. The figure is per connection, so it barely moves; raise the hard limit (e.g. \`ulimit -Hn 65536\` as root, LimitNOFILE in systemd) for exactly ${fmtInt(wanted)}.`,
      );
      log(`connections: open-files hard limit ${openFilesLimit()}: holding ${count} connections instead of ${wanted}`);
    }
    await probe.stop();
    log(`connections: ${fmtInt(count)} viewers, ${friends} friends each, ${graph} graph`);
    const seedClients = [redis.client(), redis.client(), redis.client(), redis.client()];
    const engines = seedClients.map((client) =>
      createRedisEngine({ client, prefix: 'presence:', buckets: 65_536, friendship: true, bus: createMemoryBus() }),
    );
    const ring = Array.from({ length: count }, (_, i) => i);
    const userSpace = envInt('BENCH_GRAPH_USERS', 1_000_000);
    await pool(ring, 32, (i) =>
      engines[i % engines.length]!.addFriends(
        connViewerId(i),
        graph === 'realistic'
          ? randomIds('cu-', friends, userSpace)
          : Array.from({ length: friends / 2 }, (_, k) => connViewerId((i + k + 1) % count)),
      ),
    );
    const friendCount = await seedClients[0]!.scard('presence:friends:' + connViewerId(0));
    // Every viewer is already online on another device (an HTTP session for the next hour), so
    // opening its socket changes no status: no event storm while 20,000 sockets connect, and the
    // connections are truly idle when measured.
    await pool(ring, 64, (i) =>
      engines[i % engines.length]!.setStatus(connViewerId(i), Status.ONLINE, { sessionId: 'web', owner: null }, 3_600_000, Date.now()),
    );

    // ---- Presence ----
    const server = await startPresenceServer({ REDIS_URL: redis.url, PRESENCE_RETENTION_SCAN_MS: '3600000' });
    children.push(server);
    const before = await baseline('presence', server, server.url);
    await server.call('heap-start');
    log(`connections: opening ${fmtInt(count)} graphql-ws connections with friendPresenceChanged`);
    const redisBefore = await usedMemory(seedClients[0]!);
    const openSecs = await openAll('presence', server.url, count);
    log(`connections: opened in ${fmtNum(openSecs, 1)} s; waiting for the subscriptions to settle`);
    // Subscribed and quiet: every viewer's route is registered (one key per viewer), events delivered.
    // The instance listens on one inbox channel, whatever the count.
    const expectedChannels = 1;
    const deadline = Date.now() + 120_000;
    let channels = 0;
    for (;;) {
      const routes = (await seedClients[0]!.keys('presence:*:r:*')).length;
      channels = Number(/pubsub_channels:(\d+)/.exec(await seedClients[0]!.info('stats'))?.[1] ?? 0);
      if (routes >= count || Date.now() > deadline) break;
      await sleep(250);
    }
    const idleCpu = await quiet(server.pid, 30_000);
    log("connections: reading the server's memory after a full GC");
    const after = await server.call<MemorySample>('mem');
    const live = await server.call<HeapSummary>('heap-stop', { top: 20 });
    const redisAfter = await usedMemory(seedClients[0]!);
    const stats = await Promise.all(clients.map((c) => c.call<{ open: number; frames: number; closed: number }>('stats')));
    const stillOpen = stats.reduce((a, s) => a + s.open, 0);
    await closeAll();
    await server.stop();

    // ---- bare ws ----
    const bare = startNode('bench/bare-ws-server.ts');
    children.push(bare);
    const barePort = Number((await waitForOutput(bare, /"port":(\d+),"msg":"bare-ws listening"/))[1]);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bareBefore = await baseline('bare', bare, bareUrl);
    log(`connections: opening ${fmtInt(count)} bare ws connections`);
    const bareSecs = await openAll('bare', bareUrl, count);
    await quiet(bare.pid, 15_000);
    const bareAfter = await bare.call<MemorySample>('mem');
    await closeAll();
    await bare.stop();

    const per = (a: MemorySample, b: MemorySample, k: keyof MemorySample) => (b[k] - a[k]) / count;
    const rss = per(before, after, 'rss');
    const heap = per(before, after, 'heapUsed');
    const ext = per(before, after, 'external');
    const bareRss = per(bareBefore, bareAfter, 'rss');
    const bareHeap = per(bareBefore, bareAfter, 'heapUsed');
    const bareExt = per(bareBefore, bareAfter, 'external');
    const target = TARGET_KB * 1024;
    const pass = rss <= target;
    const kb = (n: number) => `${fmtNum(n / 1024, 1)} KB`;
    const details = [
      `Presence, ${graph} graph: ${fmtInt(count)} graphql-ws connections (one friendPresenceChanged each, ${friendCount} friends per viewer) opened in ${fmtNum(openSecs, 1)} s;` +
        ` ${fmtInt(stillOpen)} open at the reading, Redis pub/sub channels ${fmtInt(channels)} (expected ${fmtInt(expectedChannels)}).` +
        ` Server after GC: RSS ${fmtBytes(before.rss)} -> ${fmtBytes(after.rss)}, heapUsed ${fmtBytes(before.heapUsed)} -> ${fmtBytes(after.heapUsed)}, external ${fmtBytes(before.external)} -> ${fmtBytes(after.external)}.` +
        ` Per connection: RSS ${kb(rss)}, heapUsed ${kb(heap)}, external ${kb(ext)}. The idle server then used ${Math.round(idleCpu)}% of a core (keepalive pings, sweeps).`,
      `Bare ws: ${fmtInt(count)} connections opened in ${fmtNum(bareSecs, 1)} s. Server after GC: RSS ${fmtBytes(bareBefore.rss)} -> ${fmtBytes(bareAfter.rss)}, heapUsed ${fmtBytes(bareBefore.heapUsed)} -> ${fmtBytes(bareAfter.heapUsed)}.` +
        ` Per connection: RSS ${kb(bareRss)}, heapUsed ${kb(bareHeap)}, external ${kb(bareExt)}.`,
      `${graph} graph: per connection, Presence over bare: RSS x${fmtNum(rss / bareRss, 2)}, heap x${fmtNum(heap / bareHeap, 2)}. Target <= ${TARGET_KB} KB (on RSS): ${pass ? 'PASS' : `MISS by ${kb(rss - target)}`}.` +
        ` Redis used_memory grew ${fmtBytes(redisAfter - redisBefore)} (${fmtInt((redisAfter - redisBefore) / count)} B per connection: sessions, routes, client buffers) — not counted above.`,
      ...notes,
    ];
    if (!pass || process.env['BENCH_PROFILE'] === '1') {
      details.push(
        `${graph} graph, what it is made of: the JavaScript heap grows ${kb(heap)} per connection against ${kb(bareHeap)} for a bare socket; the rest of the RSS (${kb(rss - heap - ext)} per connection) is V8 heap headroom and allocator pages.` +
          ` Live heap allocated while the connections opened, by allocation site (V8 sampling heap profiler, after GC; ${fmtBytes(live.total)} = ${kb(live.total / count)} per connection):`,
        ...live.top.map(
          (t, i) =>
            `  ${String(i + 1).padStart(2)}. ${kb(t.bytes / count).padStart(9)}/conn  ${fmtNum((t.bytes / live.total) * 100, 1).padStart(5)}%  ${t.name}  ${t.where}`,
        ),
        `  by package: ${live.byPackage.map((b) => `${b.name} ${kb(b.bytes / count)}`).join(', ')}`,
      );
    }
    return {
      title: '5. Connections',
      rows: [
        {
          bench: `5. Server memory per idle graphql-ws connection, friendPresenceChanged with ${friendCount} friends, ${graph} graph (${fmtInt(count)} connections)`,
          presence: `${kb(rss)} RSS (${kb(heap)} heap)`,
          baseline: `${kb(bareRss)} RSS (${kb(bareHeap)} heap), bare ws`,
          ratio: fmtNum(rss / bareRss, 2),
          target: `<= ${TARGET_KB} KB`,
          result: pass ? 'PASS' : 'MISS',
        },
      ],
      details,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await redis.stop();
  }
}
