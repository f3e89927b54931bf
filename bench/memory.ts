/**
 * Benchmark 1: Redis memory per user.
 *
 * "INFO used_memory before and after writing 1 million users with UUID ids through the engine's
 * own write path, each coming online and then going offline, divided by the count: everything
 * Redis keeps for an offline user", against plain per-user string keys with an expiry
 * (`SET presence:user:<uuid> <value> EX 604800`). Target: at most 32 bytes per user.
 *
 * A dedicated redis-server with `--hash-max-listpack-entries 512` (the README's advice for large
 * deployments) and PRESENCE_BUCKETS sized for ~half of it per bucket. Also reported, without a
 * target: bytes per ONLINE user holding one socket session (the app's trackSession + openSession).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisEngine } from '../src/engine/redis/index.js';
import { createMemoryBus } from '../src/engine/bus.js';
import { Status } from '../src/domain/presence.js';
import { startRedis } from './lib/redis.js';
import { envInt, fmtInt, fmtNum, log, sleep, track, usedMemory, type Section } from './lib/index.js';

const PREFIX = 'presence:';
const WRITERS = 4;
const CHUNK = 250;

export async function benchMemory(): Promise<Section> {
  const users = envInt('BENCH_USERS', 1_000_000);
  const buckets = envInt('BENCH_BUCKETS', 4096);
  const onlineUsers = envInt('BENCH_ONLINE_USERS', 100_000);
  const redis = await startRedis(['--hash-max-listpack-entries', '512']);
  track(redis.proc);
  // Several plain connections with a few hundred calls in flight each: on this machine that writes
  // faster than one auto-pipelined connection (measured: ~30K vs ~17K scripts/s).
  const clients = Array.from({ length: WRITERS }, () => new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
  clients.forEach((c) => c.on('error', () => {}));
  const client = clients[0]!;
  try {
    const engines = clients.map((c) => createRedisEngine({ client: c, prefix: PREFIX, buckets, friendship: true, bus: createMemoryBus() }));
    const engine = engines[0]!;
    /** Runs `op` for `count` fresh UUIDs: WRITERS connections, CHUNK users in flight on each. */
    const forUsers = async (count: number, op: (e: (typeof engines)[number], id: string, c: Redis) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(
        engines.map(async (e, i) => {
          while (next < count) {
            const n = Math.min(CHUNK, count - next);
            next += n;
            const ids = Array.from({ length: n }, () => randomUUID());
            await Promise.all(ids.map((id) => op(e, id, clients[i]!)));
          }
        }),
      );
    };
    const instance = randomUUID();
    // Load the scripts (their cache is not per-user memory), then start from an empty keyspace.
    await engine.openSession('warm-up', 'phone', `${instance}:0`, null, Date.now());
    await engine.closeSession('warm-up', 'phone', `${instance}:0`, 0, Date.now());
    await client.flushall();

    // Quiet moment before each reading: Redis shrinks idle client query buffers in its cron.
    const settled = async () => {
      await sleep(2_500);
      return usedMemory(client);
    };

    // ---- offline users through the engine's own write path ----
    log(`memory: ${fmtInt(users)} users online then offline through the engine (${fmtInt(buckets)} buckets)`);
    const before = await settled();
    const t0 = performance.now();
    let connection = 0;
    await forUsers(users, async (e, id) => {
      const owner = `${instance}:${++connection}`; // the connection holding the session, as the app names it
      await e.openSession(id, 'phone', owner, null, Date.now());
      await e.closeSession(id, 'phone', owner, 0, Date.now());
    });
    const writeSecs = (performance.now() - t0) / 1000;
    const after = await settled();
    const perUser = (after - before) / users;
    const dbsize = await client.dbsize();
    const online = await engine.onlineCount();

    // Every bucket's encoding and size.
    const bucketKeys = Array.from({ length: engine.keys.shards }, (_, s) => engine.keys.bucketsOfShard(s)).flat();
    const pipe = client.pipeline();
    for (const k of bucketKeys) pipe.object('ENCODING', k).hlen(k);
    const replies = (await pipe.exec())!.map(([, v]) => v);
    const encodings = new Map<string, number>();
    const sizes: number[] = [];
    for (let i = 0; i < replies.length; i += 2) {
      const enc = String(replies[i] ?? 'none');
      encodings.set(enc, (encodings.get(enc) ?? 0) + 1);
      sizes.push(Number(replies[i + 1]));
    }
    sizes.sort((a, b) => a - b);
    const avg = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    const sample = bucketKeys[0]!;
    const sampleEnc = await client.object('ENCODING', sample);
    const sampleLen = await client.hlen(sample);

    // ---- online users: one socket session each, as the app opens it ----
    await client.flushall();
    log(`memory: ${fmtInt(onlineUsers)} users online with one socket session`);
    const onlineBefore = await settled();
    await forUsers(onlineUsers, async (e, id) => {
      // As the app's liveness.open does: index the session, then open it.
      const owner = `${instance}:${++connection}`;
      await e.trackSession(instance, { userId: id, sessionId: 'phone', owner }, true);
      await e.openSession(id, 'phone', owner, null, Date.now());
    });
    const onlineAfter = await settled();
    const perOnline = (onlineAfter - onlineBefore) / onlineUsers;

    // ---- baseline: one string key per user with an expiry ----
    await client.flushall();
    log(`memory: baseline, ${fmtInt(users)} x SET presence:user:<uuid> <value> EX 604800`);
    const baseBefore = await settled();
    const value = String(Date.now() * 32 + Status.OFFLINE);
    await forUsers(users, (_e, id, c) => c.set(`${PREFIX}user:${id}`, value, 'EX', 604_800));
    const baseAfter = await settled();
    const [sampleKey] = (await client.scan('0', 'COUNT', 10))[1];
    const keyUsage = sampleKey ? await client.memory('USAGE', sampleKey) : null;
    const perBase = (baseAfter - baseBefore) / users;

    const target = 32;
    return {
      title: '1. Memory per user (Redis INFO used_memory)',
      rows: [
        {
          bench: `1. Redis memory per offline user (${fmtInt(users)} users)`,
          presence: `${fmtNum(perUser, 1)} B/user`,
          baseline: `${fmtNum(perBase, 1)} B/user (SET EX)`,
          ratio: fmtNum(perUser / perBase, 2),
          target: `<= ${target} B/user`,
          result: perUser <= target ? 'PASS' : 'MISS',
        },
        {
          bench: `1b. Redis memory per online user, one socket session (${fmtInt(onlineUsers)} users)`,
          presence: `${fmtNum(perOnline, 1)} B/user`,
          baseline: '-',
          ratio: '-',
          target: '(none)',
          result: 'info',
        },
      ],
      details: [
        `Offline users: used_memory ${fmtInt(before)} -> ${fmtInt(after)} B for ${fmtInt(users)} users = ${fmtNum(perUser, 2)} B/user` +
          ` (target <= ${target}: ${perUser <= target ? 'PASS' : `MISS by ${fmtNum(perUser - target, 2)} B/user`}).` +
          ` Written through engine.openSession + engine.closeSession (grace 0) in ${fmtNum(writeSecs, 1)} s` +
          ` (${fmtInt((2 * users) / writeSecs)} PRESENCE scripts/s over ${WRITERS} connections). Keys left: ${fmtInt(dbsize)}; onlineCount ${online}.`,
        `Buckets: ${fmtInt(buckets)} (redis-server --hash-max-listpack-entries 512), users per bucket min ${sizes[0]} / avg ${fmtNum(avg, 1)} / max ${sizes[sizes.length - 1]};` +
          ` encodings ${[...encodings].map(([e, n]) => `${e} x${n}`).join(', ')}; e.g. OBJECT ENCODING ${sample} = ${sampleEnc} (${sampleLen} users).`,
        `Baseline: ${fmtInt(users)} x SET ${PREFIX}user:<uuid> "${value}" EX 604800: used_memory ${fmtInt(baseBefore)} -> ${fmtInt(baseAfter)} B = ${fmtNum(perBase, 2)} B/user` +
          ` (MEMORY USAGE of one such key: ${keyUsage ?? 'n/a'} B; the rest is the main and expires hash tables' slots).`,
        `Online users: ${fmtInt(onlineUsers)} x (trackSession + openSession), not closed: ${fmtInt(onlineBefore)} -> ${fmtInt(onlineAfter)} B = ${fmtNum(perOnline, 1)} B/user` +
          " (the bucket field, the session hash <p>{shard}:s:<id>, the instance's session set member, the shard counter).",
      ],
    };
  } finally {
    clients.forEach((c) => c.disconnect());
    await redis.stop();
  }
}
