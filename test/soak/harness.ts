import { readFileSync } from 'node:fs';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken } from '../../src/infra/auth.js';
import { FriendPresenceChangedDocument, type PresenceStatus } from '../generated/graphql.js';
import { TEST_SECRET } from '../helpers/app.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * The soak suite: two API processes on one Redis, clients churning at a steady rate (sockets
 * opening and closing, HTTP devices with heartbeats, status changes, friendships added and
 * removed), faults injected on a schedule, and an oracle that holds a model of who is connected
 * and who may see whom. At each checkpoint the churn pauses for the documented settle time and
 * every viewer's reads, and every open subscription's accumulated view, are compared with the
 * model. `npm run soak` runs the long profile; test/integration/soak.test.ts a short one in CI.
 */

export type Fault = 'instance-kill' | 'instance-stop' | 'redis-stop' | 'redis-kill' | 'cluster-failover';

export interface SoakProfile {
  /** Users in the graph; the first `invisible` of them go INVISIBLE at the start. */
  users: number;
  invisible: number;
  /** Friendships each user starts with (random, mutual). */
  friends: number;
  /** Churn operations started per second, across all users. */
  opsPerSecond: number;
  /** Churn before each fault, and between the fault and its checkpoint. */
  phaseMs: number;
  /** Faults in order; each is followed by recovery and a checkpoint. Clean checkpoints: none. */
  faults: Fault[];
  /** How long a Redis SIGSTOP lasts. */
  redisStopMs: number;
  /** One Redis with AOF (redis-* faults), or a 3-primary Cluster with a replica each (cluster-failover). */
  topology?: 'standalone' | 'cluster';
}

export const SHORT: SoakProfile = {
  users: 16,
  invisible: 2,
  friends: 3,
  opsPerSecond: 25,
  phaseMs: 2_500,
  faults: ['instance-kill', 'redis-stop', 'redis-kill', 'instance-stop'],
  redisStopMs: 3_000,
};
export const CLUSTER: SoakProfile = {
  users: 60,
  invisible: 4,
  friends: 5,
  opsPerSecond: 40,
  phaseMs: 10_000,
  faults: ['cluster-failover', 'instance-kill', 'cluster-failover', 'instance-stop'],
  redisStopMs: 0,
  topology: 'cluster',
};
export const LONG: SoakProfile = {
  users: 120,
  invisible: 6,
  friends: 6,
  opsPerSecond: 60,
  phaseMs: 20_000,
  faults: ['instance-kill', 'redis-stop', 'instance-stop', 'redis-kill', 'instance-kill', 'redis-stop'],
  redisStopMs: 20_000,
};

// Short liveness timings, as the failover tests use, so a checkpoint settles in seconds.
const LEASE = 1_500;
const GRACE = 500;
const SWEEP = 100;
// Heartbeats every third of it: wide enough that a busy 2-core machine does not miss one.
const HTTP_TTL = 3_000;
/** PRESENCE.md's ghost bound for these settings, plus an HTTP device's TTL. */
const GHOST_BOUND = LEASE + SWEEP + Math.max(0, GRACE - LEASE) + SWEEP;
/** A checkpoint waits this long after the last operation: everything must have settled. */
const SETTLE_MS = HTTP_TTL + GRACE + GHOST_BOUND + 2_000;
/** A new subscription's first read of `friends`, once the stream is surely live. */
const VIEW_READ_DELAY_MS = 1_500;

type Status = Exclude<PresenceStatus, 'BUSY' | 'INVISIBLE'>;
interface Seen {
  status: PresenceStatus;
  version: number;
}

interface Device {
  id: string;
  user: string;
  kind: 'ws' | 'http';
  status: 'ONLINE' | 'AWAY';
  alive: boolean;
  /** ws: the socket's client, its subscription's view of each friend, when it opened. */
  client?: Client;
  view?: Map<string, Seen>;
  openedAt?: number;
  viewReady?: boolean;
  /** http: its status changes, sent in order (a later one never overtaken by an earlier retry). */
  chain?: Promise<unknown>;
  /** http: a heartbeat failed, so its session may have expired: send the status again. */
  reassert?: boolean;
  /** ws: which instance it is connected to (0 or 1), for the evidence of a violation. */
  at?: number;
}

export interface SoakReport {
  profile: SoakProfile;
  durationS: number;
  operations: Record<string, number>;
  operationErrors: number;
  faults: Fault[];
  checkpoints: number;
  checks: number;
  /** Violations by kind: each is a broken promise of the README or PRESENCE.md. */
  violations: Record<string, number>;
  /** Mismatches inside documented windows (pub/sub is at-most-once across a Redis outage). */
  documented: Record<string, number>;
  examples: string[];
  rssMb: { afterWarmup: number[]; atEnd: number[] };
  redisChannelsAtEnd: number;
  onlineAtEnd: number;
  /** The API instances' warnings and errors, by message: the evidence behind a violation. */
  warnings: Record<string, number>;
}

export async function runSoak(profile: SoakProfile, log: (line: string) => void = () => {}): Promise<SoakReport> {
  const started = Date.now();
  const cluster: RedisCluster | null = profile.topology === 'cluster' ? await startCluster(3, 1) : null;
  // fsync on every write: a kill -9 then loses nothing, so the model stays exact across it.
  const redis: RedisProcess | null = cluster ? null : await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const env = {
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.seeds } : { REDIS_URL: redis!.url }),
    JWT_SECRET: TEST_SECRET,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info', // startServerProcess reads the "presence listening" line
    PRESENCE_BUCKETS: '64',
    PRESENCE_LEASE_MS: String(LEASE),
    PRESENCE_GRACE_MS: String(GRACE),
    PRESENCE_SWEEP_INTERVAL_MS: String(SWEEP),
    PRESENCE_HTTP_TTL_MS: String(HTTP_TTL),
    WS_KEEPALIVE_MS: '1000',
    RATE_LIMIT_COUNT: '1000000',
    WS_MAX_CONNECTIONS_PER_USER: '50',
    PRESENCE_MAX_SESSIONS: '100',
  };
  const instances: ServerProcess[] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  const allInstances = [...instances];
  const report: SoakReport = {
    profile,
    durationS: 0,
    operations: {},
    operationErrors: 0,
    faults: [],
    checkpoints: 0,
    checks: 0,
    violations: {},
    documented: {},
    examples: [],
    rssMb: { afterWarmup: [], atEnd: [] },
    redisChannelsAtEnd: -1,
    onlineAtEnd: -1,
    warnings: {},
  };

  const count = (into: Record<string, number>, kind: string, example?: string) => {
    into[kind] = (into[kind] ?? 0) + 1;
    // A few examples of each kind, so one noisy kind cannot hide another.
    if (example && into === report.violations && into[kind]! <= 4) report.examples.push(`${kind}: ${example}`);
  };
  const op = (kind: string) => (report.operations[kind] = (report.operations[kind] ?? 0) + 1);

  const users = Array.from({ length: profile.users }, (_, i) => `soak-${started.toString(36)}-u${i}`);
  const invisible = new Set(users.slice(0, profile.invisible));
  const friends = new Map(users.map((u) => [u, new Set<string>()]));
  const devices = new Map<string, Device>();
  const tokens = new Map<string, string>();
  const token = async (u: string) => tokens.get(u) ?? (tokens.set(u, await signToken(TEST_SECRET, u, { expiresIn: '2h' })), tokens.get(u)!);
  const svc = await signToken(TEST_SECRET, 'soak-ops', { service: true, expiresIn: '2h' });
  let redisFaultAt = 0;
  let n = 0;
  const rnd = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
  const liveInstance = () => rnd(instances.filter((i) => i.proc.exitCode === null && i.proc.signalCode === null));

  /** One GraphQL call over HTTP to a live instance; throws on transport errors and GraphQL errors. */
  const gql = async <T>(query: string, variables: Record<string, unknown>, auth: string): Promise<T> => {
    const res = await fetch(`${liveInstance().url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  /** Writes are idempotent (README): one that failed, possibly applied, is retried until it succeeds. */
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const retry = async (kind: string, fn: () => Promise<unknown>) => {
    op(kind);
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch {
        report.operationErrors++;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  };
  const retrying = (kind: string, fn: () => Promise<unknown>) => track(retry(kind, fn));
  /**
   * An HTTP device sends its status as a careful client does: one change at a time, each retried
   * until it succeeds, always the latest status.
   */
  const sendStatus = (d: Device) => {
    d.chain = (d.chain ?? Promise.resolve()).then(async () => {
      const auth = await token(d.user);
      await retry('setPresence', () =>
        gql(
          'mutation($s: PresenceStatus!, $d: String) { setPresence(status: $s, deviceId: $d) { status } }',
          { s: d.status, d: d.id },
          auth,
        ),
      );
    });
    track(d.chain);
  };

  // ---- the model's view of what each viewer should see -------------------------------------------
  const expected = (viewer: string, u: string): Status => {
    if (!friends.get(viewer)!.has(u) || invisible.has(u)) return 'OFFLINE';
    const live = [...devices.values()].filter((d) => d.user === u && d.alive);
    if (live.some((d) => d.status === 'ONLINE')) return 'ONLINE';
    return live.length ? 'AWAY' : 'OFFLINE';
  };

  // ---- churn operations ----------------------------------------------------------------------------
  const befriend = (a: string, b: string) => {
    friends.get(a)!.add(b);
    friends.get(b)!.add(a);
    retrying('addFriends', () => gql('mutation($u: ID!, $f: [ID!]!) { addFriends(userId: $u, friendIds: $f) }', { u: a, f: [b] }, svc));
  };
  const unfriend = (a: string, b: string) => {
    friends.get(a)!.delete(b);
    friends.get(b)!.delete(a);
    // A client learns of a removed friend from its own backend (the stream drops them silently).
    for (const d of devices.values()) if (d.view && (d.user === a || d.user === b)) d.view.delete(d.user === a ? b : a);
    retrying('removeFriends', () =>
      gql('mutation($u: ID!, $f: [ID!]!) { removeFriends(userId: $u, friendIds: $f) }', { u: a, f: [b] }, svc),
    );
  };

  const openSocket = async (user: string) => {
    const d: Device = { id: `d${++n}`, user, kind: 'ws', status: Math.random() < 0.7 ? 'ONLINE' : 'AWAY', alive: false, view: new Map() };
    op('connect');
    const at = liveInstance();
    d.at = instances.indexOf(at);
    const auth = await token(user);
    await new Promise<void>((resolve) => {
      const client = createClient({
        url: `${at.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${auth}`, deviceId: d.id, status: d.status },
        onNonLazyError: () => {},
        on: {
          connected: () => {
            d.alive = true;
            d.openedAt = Date.now();
            devices.set(d.id, d);
            resolve();
          },
          closed: () => {
            // From here the model says this device is gone, as its user would see it.
            d.alive = false;
            devices.delete(d.id);
            resolve();
          },
        },
      });
      d.client = client;
      client.subscribe(
        { query: print(FriendPresenceChangedDocument) },
        {
          next: (r) => {
            const p = (r.data as { friendPresenceChanged?: { userId: string; status: PresenceStatus; version: number } } | null)
              ?.friendPresenceChanged;
            // In flight when the harness ended the friendship: the model no longer follows them.
            if (!p || !friends.get(d.user)!.has(p.userId)) return;
            if (invisible.has(p.userId))
              count(report.violations, 'privacy', `${d.user} got an event of invisible ${p.userId}: ${p.status}`);
            const seen = d.view!.get(p.userId);
            if (!seen || p.version > seen.version) d.view!.set(p.userId, { status: p.status, version: p.version });
          },
          error: () => {},
          complete: () => {},
        },
      );
    });
    if (!d.alive) return;
    // The stream's starting state: one read once the subscription is surely live.
    setTimeout(() => {
      if (!d.alive) return;
      track(
        gql<{ friends: { userId: string; status: PresenceStatus; version: number }[] }>(
          '{ friends { userId status version } }',
          {},
          auth,
        ).then(
          ({ friends: read }) => {
            for (const f of read) {
              const seen = d.view!.get(f.userId);
              if (!seen || f.version > seen.version) d.view!.set(f.userId, { status: f.status, version: f.version });
            }
            d.viewReady = true;
          },
          () => {},
        ),
      );
    }, VIEW_READ_DELAY_MS);
  };
  const closeSocket = (d: Device) => {
    op('disconnect');
    d.alive = false;
    devices.delete(d.id);
    void d.client!.dispose();
  };
  const startHttp = (user: string) => {
    const d: Device = { id: `h${++n}`, user, kind: 'http', status: Math.random() < 0.5 ? 'ONLINE' : 'AWAY', alive: true };
    devices.set(d.id, d);
    sendStatus(d);
  };
  const heartbeats = setInterval(() => {
    for (const d of devices.values()) {
      if (d.kind !== 'http' || !d.alive) continue;
      op('heartbeat');
      // A missed heartbeat is what a flaky network does; the next one repairs the session. If the
      // session expired meanwhile, the heartbeat starts a new one (ONLINE): the client then sends
      // its status again, as the README tells HTTP clients to.
      void token(d.user)
        .then((auth) =>
          gql<{ heartbeat: { status: PresenceStatus } }>('mutation($d: String!) { heartbeat(deviceId: $d) { status } }', { d: d.id }, auth),
        )
        .then(({ heartbeat }) => {
          // The user reads ONLINE though this device is AWAY and no other device is ONLINE: the
          // session was started anew (it had expired). A careful client re-sends its status.
          const othersOnline = [...devices.values()].some((o) => o.user === d.user && o !== d && o.alive && o.status === 'ONLINE');
          const restarted = d.status === 'AWAY' && heartbeat.status === 'ONLINE' && !othersOnline;
          if ((d.reassert || restarted) && d.alive && devices.has(d.id)) sendStatus(d);
          d.reassert = false;
        })
        .catch(() => {
          report.operationErrors++;
          d.reassert = true;
        });
    }
  }, HTTP_TTL / 3);

  let churning = false;
  const tick = () => {
    if (!churning) return;
    const u = rnd(users);
    const mine = [...devices.values()].filter((d) => d.user === u);
    const r = Math.random();
    if (r < 0.3) {
      if (mine.filter((d) => d.kind === 'ws').length < 2) track(openSocket(u));
    } else if (r < 0.5) {
      const ws = mine.filter((d) => d.kind === 'ws');
      if (ws.length) closeSocket(rnd(ws));
    } else if (r < 0.7 && invisible.has(u)) {
      // Invisible users only come and go on sockets: an HTTP setPresence(ONLINE) would end it.
    } else if (r < 0.6) {
      const http = mine.filter((d) => d.kind === 'http');
      if (http.length) {
        op('httpStop');
        devices.delete(http[0]!.id); // stops heartbeating: OFFLINE after TTL + grace
      } else startHttp(u);
    } else if (r < 0.7) {
      const http = mine.find((d) => d.kind === 'http');
      if (http) {
        http.status = http.status === 'ONLINE' ? 'AWAY' : 'ONLINE';
        sendStatus(http);
      }
    } else {
      const other = rnd(users.filter((x) => x !== u));
      if (friends.get(u)!.has(other)) unfriend(u, other);
      else if (friends.get(u)!.size < profile.friends * 2) befriend(u, other);
    }
  };
  const churn = setInterval(tick, 1_000 / profile.opsPerSecond);
  const run = async (ms: number) => {
    churning = true;
    await new Promise((r) => setTimeout(r, ms));
    churning = false;
  };

  // ---- checkpoints ---------------------------------------------------------------------------------
  const inspect = redis?.client();
  /** A user's session hash as Redis holds it (evidence for a violation; standalone only). */
  const storedSessions = async (user: string): Promise<Record<string, string>> => {
    if (!inspect) return {};
    try {
      const [, keys] = (await inspect.scan('0', 'MATCH', `*:s:${user}`, 'COUNT', 100_000)) as [string, string[]];
      return keys[0] ? await inspect.hgetall(keys[0]) : {};
    } catch {
      return {};
    }
  };
  const checkpoint = async (label: string) => {
    churning = false;
    await Promise.allSettled([...pending]);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await Promise.allSettled([...pending]);
    report.checkpoints++;
    for (const viewer of users) {
      let read: { userId: string; status: PresenceStatus; version: number }[];
      try {
        read = (await gql<{ friends: typeof read }>('{ friends { userId status version } }', {}, await token(viewer))).friends;
      } catch (err) {
        count(report.violations, 'readFailed', `${label}: ${viewer}: ${(err as Error).message}`);
        continue;
      }
      const readIds = read.map((f) => f.userId).sort();
      const modelIds = [...friends.get(viewer)!].sort();
      report.checks++;
      if (JSON.stringify(readIds) !== JSON.stringify(modelIds))
        count(report.violations, 'friendSet', `${label}: ${viewer} reads ${readIds} not ${modelIds}`);
      for (const f of read) {
        if (!friends.get(viewer)!.has(f.userId)) continue;
        const want = expected(viewer, f.userId);
        report.checks++;
        if (f.status === want) continue;
        const kind = want === 'OFFLINE' ? 'ghost' : f.status === 'OFFLINE' ? 'falseOffline' : 'wrongStatus';
        const model = [...devices.values()].filter((d) => d.user === f.userId && d.alive).map((d) => `${d.id}:${d.kind}:${d.status}`);
        const stored = await storedSessions(f.userId);
        count(
          report.violations,
          invisible.has(f.userId) ? 'privacy' : kind,
          `${label}: ${viewer} reads ${f.userId} ${f.status}, model ${want} (devices ${model.join(' ') || 'none'}${Object.keys(stored).length ? `; ${JSON.stringify(stored)}` : ''})`,
        );
      }
    }
    // Every open subscription converged on the same state, or lost an event inside a documented window.
    for (const d of devices.values()) {
      if (d.kind !== 'ws' || !d.alive || !d.viewReady) continue;
      for (const f of friends.get(d.user)!) {
        const want = expected(d.user, f);
        const got = d.view!.get(f)?.status ?? 'OFFLINE';
        report.checks++;
        if (got === want) continue;
        if (redisFaultAt > d.openedAt!) count(report.documented, 'staleStreamAfterRedisOutage');
        else {
          const theirs = [...devices.values()]
            .filter((o) => o.user === f && o.alive)
            .map((o) => `${o.id}:${o.kind}:${o.status}@${o.at ?? '-'}`);
          const seen = d.view!.get(f);
          count(
            report.violations,
            'staleStream',
            `${label}: ${d.user}'s stream (${d.id}@${d.at}, opened ${Date.now() - d.openedAt!} ms ago) shows ${f} ${got} v${seen?.version ?? 0}, model ${want} (their devices ${theirs.join(' ')})`,
          );
        }
      }
    }
    log(`checkpoint ${label}: ${report.checks} checks so far, violations ${JSON.stringify(report.violations)}`);
  };

  const rss = () =>
    instances.map((i) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${i.proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024));

  const inject = async (fault: Fault) => {
    report.faults.push(fault);
    log(`fault: ${fault}`);
    if (fault === 'instance-kill') {
      const victim = instances[1]!;
      await victim.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, LEASE));
      instances[1] = await startServerProcess(env);
      allInstances.push(instances[1]);
    } else if (fault === 'instance-stop') {
      instances[1]!.proc.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, LEASE * 2));
      instances[1]!.proc.kill('SIGCONT');
    } else if (fault === 'redis-stop') {
      redisFaultAt = Date.now();
      redis!.proc.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, profile.redisStopMs));
      redis!.proc.kill('SIGCONT');
      redisFaultAt = Date.now();
    } else if (fault === 'redis-kill') {
      redisFaultAt = Date.now();
      await redis!.kill();
      await new Promise((r) => setTimeout(r, 500));
      await redis!.restart();
      redisFaultAt = Date.now();
    } else {
      // A planned failover of the primary that holds a random user's records (acknowledged
      // writes survive it); events in flight around it may be lost, as across any Redis outage.
      redisFaultAt = Date.now();
      const key = `presence:{${Math.floor(Math.random() * 64)}}:x`;
      const { primary, replica } = await cluster!.ownerOf(key);
      await cluster!.client(replica!).cluster('FAILOVER');
      const deadline = Date.now() + 20_000;
      while ((await cluster!.ownerOf(key)).primary === primary && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      redisFaultAt = Date.now();
    }
  };

  try {
    // The graph, the invisible users, then a clean checkpoint.
    for (const u of users)
      for (let i = 0; friends.get(u)!.size < profile.friends && i < 10; i++) {
        const other = rnd(users);
        if (other !== u && !friends.get(u)!.has(other)) befriend(u, other);
      }
    for (const u of invisible) {
      const auth = await token(u);
      retrying('setPresence', () => gql('mutation { setPresence(status: INVISIBLE) { status } }', {}, auth));
    }
    await Promise.allSettled([...pending]);
    await run(profile.phaseMs);
    await checkpoint('warm-up');
    report.rssMb.afterWarmup = rss();
    for (const fault of profile.faults) {
      await run(profile.phaseMs / 2);
      await inject(fault);
      await run(profile.phaseMs / 2);
      await checkpoint(`after ${fault}`);
    }
    // Everyone leaves: nothing may stay behind.
    churning = false;
    for (const d of [...devices.values()]) if (d.kind === 'ws') closeSocket(d);
    for (const d of [...devices.values()]) devices.delete(d.id);
    await checkpoint('everyone gone');
    report.onlineAtEnd = (await gql<{ onlineCount: number }>('{ onlineCount }', {}, svc)).onlineCount;
    // Invisible users hold an HTTP session from going INVISIBLE; it has expired by now too.
    const c = redis?.client();
    if (report.onlineAtEnd !== 0 && c) {
      // Which sessions stayed, and who holds them: the evidence for the report.
      const keys: string[] = [];
      for (let cursor = '0'; ;) {
        const [next, found] = (await c.scan(cursor, 'MATCH', '*:s:*', 'COUNT', 1000)) as [string, string[]];
        keys.push(...found);
        if ((cursor = next) === '0') break;
      }
      const held = await Promise.all(keys.slice(0, 5).map(async (k) => `${k} ${JSON.stringify(await c.hgetall(k))}`));
      count(
        report.violations,
        'leakedSessions',
        `onlineCount ${report.onlineAtEnd} after everyone left; ${keys.length} session hashes: ${held.join('; ')}`,
      );
    }
    // Classic and shard channels on every node: both count.
    const nodes = cluster ? cluster.nodes.map((n) => cluster.client(n.port)) : [c!];
    report.redisChannelsAtEnd = 0;
    for (const node of nodes) {
      report.redisChannelsAtEnd += ((await node.pubsub('CHANNELS', '*')) as string[]).length;
      report.redisChannelsAtEnd += ((await node.call('PUBSUB', 'SHARDCHANNELS', '*')) as string[]).length;
    }
    // A handful: per-instance channels may stay; per-user ones may not.
    if (report.redisChannelsAtEnd > 2 * instances.length)
      count(report.violations, 'leakedChannels', `${report.redisChannelsAtEnd} channels with no subscriber left`);
    report.rssMb.atEnd = rss();
  } finally {
    clearInterval(churn);
    clearInterval(heartbeats);
    for (const d of devices.values()) void d.client?.dispose();
    for (const line of allInstances.flatMap((i) => i.output().split('\n'))) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level >= 40) report.warnings[entry.msg] = (report.warnings[entry.msg] ?? 0) + 1;
      } catch {
        /* a partial line */
      }
    }
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
    await redis?.stop();
    await cluster?.stop();
    report.durationS = Math.round((Date.now() - started) / 1000);
  }
  return report;
}

/** The report as the lines `npm run soak` prints and bench/SOAK.md keeps. */
export function formatReport(r: SoakReport): string[] {
  const total = Object.values(r.violations).reduce((a, b) => a + b, 0);
  const ops = Object.entries(r.operations)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `profile: ${JSON.stringify(r.profile)}`,
    `duration: ${r.durationS} s; operations: ${ops}; operation errors (retried): ${r.operationErrors}`,
    `faults: ${r.faults.join(', ') || 'none'}; checkpoints: ${r.checkpoints}; checks: ${r.checks}`,
    `violations: ${total} ${JSON.stringify(r.violations)}`,
    `inside documented windows: ${JSON.stringify(r.documented)}`,
    `API RSS (MB) after warm-up ${r.rssMb.afterWarmup.join(' / ')}, at end ${r.rssMb.atEnd.join(' / ')}`,
    `at end: onlineCount ${r.onlineAtEnd}, Redis pub/sub channels ${r.redisChannelsAtEnd}`,
    `instance warnings: ${JSON.stringify(r.warnings)}`,
    ...r.examples.map((e) => `  - ${e}`),
  ];
}
