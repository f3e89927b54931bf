import type { Redis } from 'ioredis';
import type { RedisClient } from './connect.js';
import { CLAIM_DEAD, CLAIM_DUE, HIT, PRESENCE, READ_MANY, RENEW_LEASE, RETENTION, SETTINGS_MANY } from './scripts.js';

export type Arg = string | Buffer | number;

/** The Lua scripts (scripts.ts) as commands of the command connection. */
export interface Scripted {
  /** PRESENCE's reply, decoded by presence-runner.ts. */
  presence(...args: Arg[]): Promise<(number | string)[]>;
  claimDue(key: string, ...args: Arg[]): Promise<string[]>;
  renewLease(key: string, ...args: Arg[]): Promise<number>;
  claimDead(...args: Arg[]): Promise<string[]>;
  retention(key: string, cutoff: Arg): Promise<number>;
  hit(key: string, windowMs: number): Promise<[number, number]>;
  /** READ_MANY: the number of keys, the keys, then the arguments. */
  readMany(...args: Arg[]): Promise<unknown[]>;
  /** SETTINGS_MANY: likewise. */
  settingsMany(...args: Arg[]): Promise<(string | number | null)[][]>;
}

/** The keys each script declares (undefined: the caller says how many, READ_MANY and SETTINGS_MANY). */
const scripts: [name: keyof Scripted, numberOfKeys: number | undefined, lua: string][] = [
  ['presence', 6, PRESENCE],
  ['claimDue', 1, CLAIM_DUE],
  ['renewLease', 1, RENEW_LEASE],
  ['claimDead', 3, CLAIM_DEAD],
  ['retention', 1, RETENTION],
  ['hit', 1, HIT],
  ['readMany', undefined, READ_MANY],
  ['settingsMany', undefined, SETTINGS_MANY],
];

const defined = new WeakSet<RedisClient>();

/**
 * The client with every script defined on it (ioredis defineCommand: EVALSHA, EVAL when Redis lost
 * its script cache), once per client: each port built on the same connection shares them, and a
 * port built alone defines them itself.
 */
export function scriptsOf(client: RedisClient): Scripted {
  if (!defined.has(client)) {
    for (const [name, numberOfKeys, lua] of scripts) {
      (client as Redis).defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
    }
    defined.add(client);
  }
  return client as unknown as Scripted;
}
