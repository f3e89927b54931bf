import { Cluster, Redis, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { RedisTopology } from '../../config.js';
import { EngineError } from '../../domain/errors.js';

export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  /** A command not answered in this time fails instead of hanging a request. @default 5_000 // 5 s */
  commandTimeoutMs?: number;
  /**
   * Cluster only: SSUBSCRIBE through one subscriber connection per primary, which ioredis moves
   * and resubscribes after failovers and slot moves (the inbox subscriber). @default false
   */
  shardedSubscribers?: boolean;
  /**
   * Commands issued in the same tick go out in one socket write (ioredis enableAutoPipelining).
   * For the command connection: a request's rate-limit script, read and routing lookups then share
   * writes with other requests', and socket writes are what a request costs most (bench/RESULTS.md,
   * issue 11: -10% server CPU per `{ me }`). Not for the subscriber, and not on Cluster (see
   * below). @default false
   */
  autoPipelining?: boolean;
}

/**
 * A new client for the configured topology. Presence opens three (commands, publishing,
 * subscribing to its inbox) because a subscribed connection can run nothing else and a publish must never
 * queue behind a slow read.
 */
export function connectRedis(topology: RedisTopology, opts: RedisConnectOptions = {}): RedisClient {
  const common: RedisOptions = {
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
    // Fail a request after one retry during an outage instead of queueing it for ~20; clients retry.
    maxRetriesPerRequest: 1,
    // Reconnect quickly at first, then at most every 2 s.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    enableAutoPipelining: opts.autoPipelining ?? false,
    // Except presence(ids)' read scripts (presence-reads.ts readMany, settingsMany): one large command per
    // request, which gains no write from sharing and paid +26% server CPU per presence through the
    // auto-pipeline (bench/RESULTS.md, issue 11).
    autoPipeliningIgnoredCommands: ['readMany', 'settingsMany'],
  };
  switch (topology.kind) {
    case 'standalone':
      return new Redis(topology.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: topology.sentinels,
        name: topology.name,
        // Follow a failover as soon as Sentinel announces it, and treat a write refused by a
        // demoted primary as a cue to reconnect to the new one (then resend the command).
        failoverDetector: true,
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      });
    case 'cluster':
      return new Cluster(topology.nodes, {
        // Not auto-pipelined: ioredis then packs commands of different slots of one node into one
        // pipeline, which the per-node read script (READ_MANY) cannot share; it falls back to HMGETs.
        redisOptions: { ...common, enableAutoPipelining: false },
        clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
        shardedSubscribers: opts.shardedSubscribers ?? false,
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
  const results: unknown[] = new Array(commands.length);
  const send = async (indexes: number[], retry: boolean): Promise<void> => {
    let replies;
    try {
      replies = await client.pipeline(indexes.map((i) => commands[i]!)).exec();
    } catch (err) {
      // The slot map moved between grouping and sending (a failover): regroup once.
      if (retry && client instanceof Cluster && /slots? allocation group|same slot/.test((err as Error).message)) {
        await Promise.all(sendable(groupByNode(client, commands, indexes)).map((g) => send(g, false)));
        return;
      }
      throw err;
    }
    if (!replies) throw new EngineError('Redis pipeline was discarded');
    replies.forEach(([err, value], j) => {
      if (err) throw new EngineError(`Redis ${commands[indexes[j]!]![0]} failed: ${err.message}`);
      results[indexes[j]!] = value;
    });
  };
  const all = commands.map((_, i) => i);
  await Promise.all((client instanceof Cluster ? sendable(groupByNode(client, commands, all)) : [all]).map((g) => send(g, true)));
  return results;
}

/** Per node, the indexes of the commands it serves; `unknown`: commands whose slot has no node yet. */
export interface NodeGroups {
  groups: number[][];
  unknown: number[];
}

/**
 * Groups commands the way ioredis accepts a cluster pipeline: all keys served by the same
 * primary and replicas. On a single server, one group.
 */
export function groupByNode(client: RedisClient, commands: Command[], indexes: number[] = commands.map((_, i) => i)): NodeGroups {
  if (!(client instanceof Cluster)) return { groups: [indexes], unknown: [] };
  const byNode = new Map<string, number[]>();
  const unknown: number[] = [];
  for (const i of indexes) {
    const nodes = client.slots[calculateSlot(routingKey(commands[i]!))];
    if (!nodes?.length) {
      unknown.push(i);
      continue;
    }
    const node = nodes.join(',');
    const group = byNode.get(node);
    if (group) group.push(i);
    else byNode.set(node, [i]);
  }
  return { groups: [...byNode.values()], unknown };
}

/** Before the slot map is known, each such command goes alone (ioredis routes it). */
const sendable = ({ groups, unknown }: NodeGroups) => [...groups, ...unknown.map((i) => [i])];

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
