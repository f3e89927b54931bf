import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { killAll, waitForPing } from './redis.js';
import { reap } from './reaper.js';

const exec = promisify(execFile);

/** A port that is free together with its cluster bus port (port + 10000). */
async function freeClusterPort(): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await tryListen(port)) && (await tryListen(port + 10_000))) return port;
  }
}

export interface ClusterNode {
  port: number;
  proc: ChildProcess;
}

export interface RedisCluster {
  nodes: ClusterNode[];
  /** REDIS_CLUSTER_NODES for the app. */
  seeds: string;
  client(port: number): Redis;
  /** The port of the primary serving `key`, and of one of its replicas. */
  ownerOf(key: string): Promise<{ primary: number; replica: number | null }>;
  stop(): Promise<void>;
}

/**
 * A real local Redis Cluster: `primaries` masters with `replicas` replicas each, created with
 * `redis-cli --cluster create`, on free loopback ports; never touches the shared Redis.
 */
export async function startCluster(primaries = 3, replicas = 1): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-cluster-'));
  const clients: Redis[] = [];
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < primaries * (1 + replicas); i++) {
    const port = await freeClusterPort();
    const proc = reap(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
        ],
        { stdio: 'ignore' },
      ),
    );
    nodes.push({ port, proc });
  }
  await Promise.all(nodes.map((n) => waitForPing(n.port)));
  await exec('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  const client = (port: number) => {
    // Never fall back to ioredis' default port: that is the shared Redis.
    if (!nodes.some((n) => n.port === port)) throw new Error(`port ${port} is not a node of this cluster`);
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  // Ready when every node agrees the cluster is ok and knows every node, and every slot range
  // lists its replicas.
  const deadline = Date.now() + 30_000;
  for (const n of nodes) {
    for (;;) {
      const info = (await client(n.port).cluster('INFO')) as string;
      const ranges = await client(n.port).cluster('SLOTS');
      if (
        info.includes('cluster_state:ok') &&
        info.includes(`cluster_known_nodes:${nodes.length}`) &&
        ranges.every((r) => r.length - 2 === 1 + replicas)
      )
        break;
      if (Date.now() > deadline) throw new Error(`cluster did not become ok:\n${info}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    client,
    async ownerOf(key) {
      const slot = (await client(nodes[0]!.port).cluster('KEYSLOT', key)) as number;
      const ranges = await client(nodes[0]!.port).cluster('SLOTS');
      const [, , primary, replica] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      return { primary: primary![1], replica: replica?.[1] ?? null };
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      await killAll(nodes.map((n) => n.proc));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
