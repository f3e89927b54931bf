import { Cluster, Redis, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { RedisTopology } from '../../config.js';
import { EngineError } from '../../errors.js';

export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  /** A command not answered in this time fails instead of hanging a request. @default 5_000 // 5 s */
  commandTimeoutMs?: number;
}

/**
 * A new client for the configured topology. Presence opens three (commands, publishing,
 * subscribing) because a subscribed connection can run nothing else and a publish must never
 * queue behind a slow read.
 */
export function connectRedis(topology: RedisTopology, opts: RedisConnectOptions = {}): RedisClient {
  const common: RedisOptions = {
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
    // Fail a request after one retry during an outage instead of queueing it for ~20; clients retry.
    maxRetriesPerRequest: 1,
    // Reconnect quickly at first, then at most every 2 s.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  };
  switch (topology.kind) {
    case 'standalone':
      return new Redis(topology.url, common);
    case 'sentinel':
      return new Redis({ ...common, sentinels: topology.sentinels, name: topology.name });
    case 'cluster':
      return new Cluster(topology.nodes, {
        redisOptions: common,
        clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      });
  }
}

/** One Redis command: name then arguments, e.g. ['hmget', key, ...fields]. */
export type Command = [name: string, ...args: (string | Buffer | number)[]];

/** The key ioredis routes a command by: its first argument for every command Presence batches. */
const routingKey = (cmd: Command) => String(cmd[1]);

/**
 * Sends `commands` as pipelines, one per Redis node involved (one in all on a single server), all
 * at once, and returns their results in order. The first failed command fails the batch.
 */
export async function batch(client: RedisClient, commands: Command[]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  const groups = client instanceof Cluster ? groupByNode(client, commands) : [commands.map((_, i) => i)];
  const results: unknown[] = new Array(commands.length);
  await Promise.all(
    groups.map(async (indexes) => {
      const replies = await client.pipeline(indexes.map((i) => commands[i]!)).exec();
      if (!replies) throw new EngineError('Redis pipeline was discarded');
      replies.forEach(([err, value], j) => {
        if (err) throw new EngineError(`Redis ${commands[indexes[j]!]![0]} failed: ${err.message}`);
        results[indexes[j]!] = value;
      });
    }),
  );
  return results;
}

function groupByNode(cluster: Cluster, commands: Command[]): number[][] {
  const byNode = new Map<string, number[]>();
  commands.forEach((cmd, i) => {
    const slot = calculateSlot(routingKey(cmd));
    // Before the slot map is known every command goes in one group and ioredis routes it.
    const node = cluster.slots[slot]?.[0] ?? '?';
    const group = byNode.get(node);
    if (group) group.push(i);
    else byNode.set(node, [i]);
  });
  return [...byNode.values()];
}

/** Resolves once the client is connected, or rejects after `timeoutMs`. */
export async function waitReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new EngineError(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
