/**
 * Load generator and receivers of the fan-out benchmark (bench/fanout.ts), in one process so that
 * publish and receipt are timed on one clock and the driver can keep a bounded number of
 * deliveries in flight. Driven over IPC by the suite:
 *
 * - `connect` {mode, urls, viewers, publishers, redisUrl, buckets}: opens one socket per viewer
 *   (graphql-ws + friendPresenceChanged for `presence`; `/?viewer=<id>` for `raw`); viewer i is a
 *   friend of publisher i % publishers, on instance floor(i / publishers) % urls.length, so every
 *   publisher's viewers are spread over the instances. (Under BENCH_GRAPH=realistic each viewer
 *   and publisher also has friends who are not connected, drawn from 1M ids: bench/fanout.ts.)
 * - `warm`: a change per publisher, repeated until every viewer has received an event.
 * - `saturate` {warmupMs, durationMs, window}: closed loop, at most `window` changes' deliveries
 *   outstanding; returns deliveries per second.
 * - `latency` {rate, warmupMs, durationMs}: open loop at `rate` changes/s; publish-to-receipt
 *   latency of every delivery of the changes made in the window.
 * - `close`.
 *
 * A change is engine.setStatus on the publisher (the PRESENCE Lua script writes and PUBLISHes, the
 * same write path as setPresence) through this process's own ioredis connection, alternating
 * ONLINE/AWAY; its `now` is the wall-clock ms, which becomes the event's `version` (`t` in the raw
 * payload), so each receipt is matched to the precise moment its change was sent. The engine
 * routes each change (reads the publisher's friends and their routes, one PUBLISH per instance
 * inbox) for Presence and the raw baseline alike.
 */
import { handle } from './probe.js';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { signToken } from '../src/infra/auth.js';
import { createRedisEngine } from '../src/engine/redis/index.js';
import { createRedisBus } from '../src/engine/bus.js';
import { createKeys } from '../src/engine/redis/keys.js';
import { Status } from '../src/domain/presence.js';
import { BENCH_SECRET, graphqlWs, intAfter, pct, pool, sleep, SUBSCRIPTION } from './lib/index.js';

export const viewerId = (i: number) => `fv-${i}`;
export const publisherId = (p: number) => `fp-${p}`;

let sockets: WebSocket[] = [];
let viewers = 0;
let publishers = 0;
let fanout = 0;
let key = Buffer.from('"version":');
let isPresence = true;

// Delivery accounting (hot path: one call per received frame).
let delivered = 0;
let otherFrames = 0;
let closed = 0;
let got = new Uint32Array(0);
let sendTimes: Map<number, number>[] = [];
let recordFrom = Infinity;
let recordTo = Infinity;
let latencies: number[] = [];
/** Send time (ms since the window opened) of each recorded delivery, parallel to `latencies`. */
let sentAts: number[] = [];
let unmatched = 0;
let onDelivery: (() => void) | null = null;

// The driver.
let client: Redis | null = null;
let engine: ReturnType<typeof createRedisEngine> | null = null;
let published = 0;
let driverErrors = 0;
let unchanged = 0;
let nextPublisher = 0;
let statusOf = new Uint8Array(0);

function frame(viewer: number, data: Buffer) {
  // graphql-ws frames are {"id":"1","type":"next",...}: byte 18 is the n of "next".
  if (isPresence && data[18] !== 0x6e) {
    otherFrames++;
    return;
  }
  delivered++;
  got[viewer]!++;
  if (recordFrom !== Infinity) {
    const sent = sendTimes[viewer % publishers]!.get(intAfter(data, key));
    if (sent === undefined) unmatched++;
    else if (sent >= recordFrom && sent < recordTo) {
      latencies.push(performance.now() - sent);
      sentAts.push(sent - recordFrom);
    }
  }
  onDelivery?.();
}

/** One change of the next publisher (round robin), alternating ONLINE/AWAY. */
function change() {
  const p = nextPublisher;
  nextPublisher = (nextPublisher + 1) % publishers;
  statusOf[p] = statusOf[p] === Status.ONLINE ? Status.AWAY : Status.ONLINE;
  const now = Date.now();
  sendTimes[p]!.set(now, performance.now());
  published++;
  engine!
    .setStatus(publisherId(p), statusOf[p] as 1 | 2, { sessionId: 'bench', owner: null }, 3_600_000, now)
    .then((r) => {
      if (!r.changed) unchanged++;
    })
    .catch(() => driverErrors++);
}

handle('connect', async (msg) => {
  const mode = msg['mode'] as 'presence' | 'raw';
  const urls = msg['urls'] as string[];
  viewers = Number(msg['viewers']);
  publishers = Number(msg['publishers']);
  fanout = viewers / publishers;
  isPresence = mode === 'presence';
  key = Buffer.from(isPresence ? '"version":' : '"t":');
  got = new Uint32Array(viewers);
  sendTimes = Array.from({ length: publishers }, () => new Map());
  statusOf = new Uint8Array(publishers).fill(Status.ONLINE);
  delivered = otherFrames = closed = unmatched = 0;
  if (!client) {
    client = new Redis(String(msg['redisUrl']), { maxRetriesPerRequest: 1 });
    // The driver writes like an API instance: the engine routes each change to the viewers' inboxes.
    const keys = createKeys('presence:', Number(msg['buckets']));
    const bus = createRedisBus({ publisher: client, subscriber: client, sharded: false, channel: keys.inbox });
    engine = createRedisEngine({ client, prefix: 'presence:', buckets: Number(msg['buckets']), friendship: true, bus });
  }
  const t0 = performance.now();
  const ids = Array.from({ length: viewers }, (_, i) => i);
  // Several loopback source addresses: plenty of ephemeral ports even with sockets in TIME_WAIT.
  const from = (i: number) => `127.0.0.${2 + (i % 8)}`;
  sockets = new Array(viewers);
  await pool(ids, 100, async (i) => {
    const url = urls[Math.floor(i / publishers) % urls.length]!;
    if (isPresence) {
      sockets[i] = await graphqlWs({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        token: await signToken(BENCH_SECRET, viewerId(i), { expiresIn: '2h' }),
        query: SUBSCRIPTION,
        localAddress: from(i),
        onFrame: (data) => frame(i, data),
        onClose: () => closed++,
      });
    } else {
      sockets[i] = await new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/?viewer=${encodeURIComponent(viewerId(i))}`, {
          perMessageDeflate: false,
          localAddress: from(i),
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
        ws.on('message', (data: Buffer) => frame(i, data));
        ws.on('close', () => closed++);
      });
    }
  });
  return { connected: sockets.length, seconds: (performance.now() - t0) / 1000 };
});

handle('warm', async (msg) => {
  const deadline = Date.now() + Number(msg['timeoutMs'] ?? 60_000);
  got.fill(0);
  let rounds = 0;
  for (;;) {
    rounds++;
    for (let p = 0; p < publishers; p++) change();
    const until = Date.now() + 2_000;
    while (Date.now() < until && got.some((n) => n === 0)) await sleep(20);
    const missing = got.filter((n) => n === 0).length;
    if (missing === 0) break;
    if (Date.now() > deadline) throw new Error(`warm-up: ${missing} of ${viewers} viewers never received an event`);
  }
  await sleep(500);
  return { rounds, driverErrors, unchanged, otherFrames, closed };
});

handle('saturate', async (msg) => {
  const window = Number(msg['window']) * fanout;
  sendTimes.forEach((m) => m.clear());
  const d0 = delivered;
  const p0 = published;
  let running = true;
  const pump = () => {
    while (running && (published - p0) * fanout - (delivered - d0) < window) change();
  };
  onDelivery = pump;
  pump();
  // A lost delivery would shrink the window for good: keep pumping on a timer too.
  const timer = setInterval(pump, 5);
  await sleep(Number(msg['warmupMs']));
  const dStart = delivered;
  const pStart = published;
  const t0 = performance.now();
  await sleep(Number(msg['durationMs']));
  const seconds = (performance.now() - t0) / 1000;
  const dEnd = delivered;
  const pEnd = published;
  running = false;
  clearInterval(timer);
  onDelivery = null;
  // Drain, then count what never arrived.
  const expected = (published - p0) * fanout;
  const until = Date.now() + 5_000;
  while (delivered - d0 < expected && Date.now() < until) await sleep(20);
  return {
    deliveries: dEnd - dStart,
    changes: pEnd - pStart,
    seconds,
    rate: (dEnd - dStart) / seconds,
    lost: expected - (delivered - d0),
    driverErrors,
    otherFrames,
    closed,
  };
});

handle('latency', async (msg) => {
  const rate = Number(msg['rate']);
  const warmupMs = Number(msg['warmupMs']);
  const durationMs = Number(msg['durationMs']);
  sendTimes.forEach((m) => m.clear());
  latencies = [];
  sentAts = [];
  unmatched = 0;
  const d0 = delivered;
  const start = performance.now();
  recordFrom = start + warmupMs;
  recordTo = recordFrom + durationMs;
  let issued = 0;
  let inWindow = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= recordTo) {
        clearInterval(timer);
        return resolve();
      }
      const due = Math.floor(((now - start) / 1000) * rate) - issued;
      for (let k = 0; k < due; k++) {
        change();
        issued++;
        if (now >= recordFrom) inWindow++;
      }
    }, 2);
  });
  // Drain: deliveries of the window's last changes.
  const until = Date.now() + 5_000;
  while (latencies.length < inWindow * fanout && Date.now() < until) await sleep(20);
  recordFrom = recordTo = Infinity;
  const sorted = Float64Array.from(latencies).sort();
  // Where the tail comes from: the worst 250 ms slots of send time, and how much of the traffic
  // waited over 100 ms (a single stall of a few hundred ms is enough to move a 10 s p99).
  const slotMs = 250;
  const worst = new Map<number, { max: number; n: number; over: number }>();
  latencies.forEach((l, i) => {
    const slot = Math.floor(sentAts[i]! / slotMs);
    const e = worst.get(slot) ?? { max: 0, n: 0, over: 0 };
    e.max = Math.max(e.max, l);
    e.n++;
    if (l > 100) e.over++;
    worst.set(slot, e);
  });
  const slow = [...worst.entries()].filter(([, e]) => e.max > 100).sort((a, b) => b[1].max - a[1].max);
  return {
    targetRate: rate,
    achievedRate: inWindow / (durationMs / 1000),
    deliveries: sorted.length,
    expected: inWindow * fanout,
    deliveriesPerSec: (delivered - d0) / ((performance.now() - start) / 1000),
    p50: pct(sorted, 50),
    p99: pct(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    over100: latencies.filter((l) => l > 100).length,
    slowSlots: slow.length,
    slots: worst.size,
    worstSlots: slow.slice(0, 6).map(([slot, e]) => ({ atMs: slot * slotMs, maxMs: e.max, over100: e.over })),
    unmatched,
    driverErrors,
    otherFrames,
    closed,
  };
});

handle('close', async () => {
  for (const ws of sockets) ws?.terminate();
  sockets = [];
  await sleep(200);
  return true;
});

handle('stats', () => ({ delivered, published, otherFrames, closed, driverErrors }));

// The probe leaves the IPC channel unref'd (right for servers); this process lives on it.
process.channel?.ref();
process.send?.({ type: 'ready' });
