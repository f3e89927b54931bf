import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, killAll, waitForPing } from './redis.js';
import { reap } from './reaper.js';

export interface SentinelSetup {
  primary: number;
  replica: number;
  sentinel: number;
  /** REDIS_SENTINELS for the app. */
  sentinels: string;
  name: string;
  /** Asks Sentinel to fail over and resolves once it reports the replica as the new primary. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/** A primary, its replica and one Sentinel (quorum 1) on free loopback ports. */
export async function startSentinel(name = 'presence'): Promise<SentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-sentinel-'));
  const [primary, replica, sentinel] = [await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  const clients: Redis[] = [];
  const server = (args: string[]) => {
    const p = reap(spawn('redis-server', args, { stdio: 'ignore' }));
    procs.push(p);
  };
  const base = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  server(base(primary));
  server([...base(replica), '--replicaof', '127.0.0.1', String(primary)]);
  await Promise.all([waitForPing(primary), waitForPing(replica)]);
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinel}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primary} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  );
  server([conf, '--sentinel']);
  await waitForPing(sentinel);
  const client = (port: number) => {
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  // The replica must be in sync before a failover can pick it.
  const synced = async () => ((await client(replica).info('replication')) as string).includes('master_link_status:up');
  for (let i = 0; !(await synced()); i++) {
    if (i > 200) throw new Error('replica never synced');
    await new Promise((r) => setTimeout(r, 50));
  }
  const masterPort = async () => Number(((await client(sentinel).call('SENTINEL', 'get-master-addr-by-name', name)) as string[])[1]);
  return {
    primary,
    replica,
    sentinel,
    sentinels: `127.0.0.1:${sentinel}`,
    name,
    async failover() {
      // A planned failover: let the replica acknowledge every write so far (SENTINEL FAILOVER
      // itself does not wait for it, and the old primary's extra writes would be discarded).
      await client(primary).call('WAIT', '1', '5000');
      // Sentinel refuses until it has discovered the replica; retry until it accepts.
      for (let i = 0; ; i++) {
        try {
          await client(sentinel).call('SENTINEL', 'FAILOVER', name);
          break;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      for (let i = 0; (await masterPort()) !== replica; i++) {
        if (i > 300) throw new Error('sentinel did not promote the replica');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      clients.forEach((c) => c.disconnect());
      await killAll(procs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
