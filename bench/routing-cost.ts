/**
 * Routing cost per open friendPresenceChanged socket (issue 10), run alone:
 *
 *   npx tsx bench/routing-cost.ts            # BENCH_SOCKETS (default 1000), BENCH_FRIENDS (default 100)
 *
 * One Redis, one API instance in this process. Every viewer gets BENCH_FRIENDS friends drawn from
 * 1M ids (little overlap between viewers). Then, with INFO used_memory and INFO commandstats read
 * around each step:
 * 1. sockets connect with no subscription: the session records themselves;
 * 2. each socket opens friendPresenceChanged: what realtime adds (routes), per socket;
 * 3. the subscriptions end and the sockets close: commands per disconnect.
 * Prints the figures; nothing is written to RESULTS.md.
 */
import { Redis } from 'ioredis';
import type { Client } from 'graphql-ws';
import { createApp } from '../src/server/app.js';
import { signToken } from '../src/infra/auth.js';
import { loadConfig } from '../src/config.js';
import { FriendPresenceChangedDocument } from '../test/generated/graphql.js';
import { startRedis } from './lib/redis.js';
import { collect, waitFor, wsClient } from '../test/helpers/ws.js';

const SOCKETS = Number(process.env['BENCH_SOCKETS'] ?? 1_000);
const FRIENDS = Number(process.env['BENCH_FRIENDS'] ?? 100);
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';

async function main() {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    JWT_SECRET: SECRET,
    REDIS_URL: redis.url,
    WS_MAX_CONNECTIONS_PER_USER: '10',
    RATE_LIMIT_COUNT: '1000000',
    PRESENCE_LEASE_MS: '600000',
    PRESENCE_SWEEP_INTERVAL_MS: '60000',
  });
  const app = createApp(config);
  const { url } = await app.start();
  const viewers = Array.from({ length: SOCKETS }, (_, i) => `rc-viewer-${i}`);
  // Friends from a 1M-id space: about 100 distinct friends per viewer, little overlap.
  for (const v of viewers) {
    const friends = new Set<string>();
    while (friends.size < FRIENDS) friends.add(`rc-user-${Math.floor(Math.random() * 1_000_000)}`);
    await app.engine.addFriends(v, [...friends]);
  }
  const used = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  const stats = async () => {
    const out = new Map<string, number>();
    for (const m of (await admin.info('commandstats')).matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) out.set(m[1]!, Number(m[2]));
    return out;
  };
  const delta = (a: Map<string, number>, b: Map<string, number>) =>
    Object.fromEntries(
      [...b]
        .map(([k, v]) => [k, (v - (a.get(k) ?? 0)) / SOCKETS] as const)
        .filter(([k, v]) => v > 0 && k !== 'info')
        .map(([k, v]) => [k, Number(v.toFixed(2))]),
    );
  const settle = () => new Promise((r) => setTimeout(r, 300));

  await settle();
  const m0 = await used();
  const s0 = await stats();
  const clients: Client[] = await Promise.all(
    viewers.map(async (v) => wsClient(url, await signToken(SECRET, v, {}), { eager: true, deviceId: 'phone' })),
  );
  await waitFor(() => app.liveness.sessionCount() === SOCKETS, 60_000);
  await settle();
  const m1 = await used();
  const s1 = await stats();
  const subs = clients.map((c) => collect(c, FriendPresenceChangedDocument, {}));
  await waitFor(() => app.router.size() === SOCKETS, 60_000);
  await settle();
  const m2 = await used();
  const s2 = await stats();
  const channels = ((await admin.pubsub('CHANNELS', '*')) as string[]).length;
  subs.forEach((s) => s.dispose());
  await Promise.all(clients.map((c) => c.dispose()));
  await waitFor(() => app.router.size() === 0 && app.liveness.sessionCount() === 0, 60_000);
  await settle();
  const s3 = await stats();
  const m3 = await used();

  console.log(
    JSON.stringify({ sockets: SOCKETS, friendsPerViewer: FRIENDS, redis: (await admin.info('server')).match(/redis_version:(\S+)/)![1] }),
  );
  console.log(`session record per socket: ${((m1 - m0) / SOCKETS).toFixed(0)} B (used_memory delta)`);
  console.log(`realtime (routes) per friendPresenceChanged socket: ${((m2 - m1) / SOCKETS).toFixed(0)} B`);
  console.log(`pub/sub channels on Redis with ${SOCKETS} subscriptions open: ${channels}`);
  console.log(`after close (grace lingering sessions remain): ${((m3 - m0) / SOCKETS).toFixed(0)} B per socket above start`);
  console.log('commands per socket connect:', JSON.stringify(delta(s0, s1)));
  console.log('commands per subscription start:', JSON.stringify(delta(s1, s2)));
  console.log('commands per unsubscribe + disconnect:', JSON.stringify(delta(s2, s3)));

  await app.stop();
  admin.disconnect();
  await redis.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
