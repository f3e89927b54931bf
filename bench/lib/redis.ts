/**
 * The suite's own redis-server: a throwaway process on a free loopback port, never the shared one
 * on 6379, killed with every other child when the suite exits (track). Benchmarks do not borrow
 * the test helpers: a change made for the tests must not change what a figure measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stopProcess, track } from './index.js';

export interface BenchRedis {
  port: number;
  url: string;
  proc: ChildProcess;
  /** A new client to this server (disconnected by stop()). */
  client(): Redis;
  stop(): Promise<void>;
}

/** Starts redis-server without persistence (`--save "" --appendonly no`), plus `extraArgs`. */
export async function startRedis(extraArgs: string[] = []): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'presence-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
  const proc = track(spawn('redis-server', args, { stdio: 'ignore' }));
  const clients: Redis[] = [];
  await answersPing(port, 10_000);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    client() {
      const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port the kernel hands out for loopback, released at once for redis-server to take. */
function freePort(): Promise<number> {
  const srv = createServer();
  return new Promise((resolve, reject) => {
    srv.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once redis-server answers PING: ioredis retries the connection every 50 ms meanwhile. */
async function answersPing(port: number, timeoutMs: number): Promise<void> {
  const attempts = timeoutMs / 50;
  const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null, retryStrategy: (n) => (n < attempts ? 50 : null) });
  c.on('error', () => {});
  try {
    await c.ping();
  } catch {
    throw new Error(`redis-server on port ${port} did not answer PING in ${timeoutMs} ms`);
  } finally {
    c.disconnect();
  }
}
