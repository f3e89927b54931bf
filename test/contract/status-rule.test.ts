import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status, type StatusName, type StoredPresence } from '../../src/domain/presence.js';
import { effectiveStatus, nextState, settingsOf, type Scope, type Session, type Settings } from '../../src/domain/status-rule.js';
import { createMemoryBus } from '../../src/engine/bus.js';
import { createMemoryEngine } from '../../src/engine/memory/index.js';
import { createChangeRouter } from '../../src/engine/redis/change-router.js';
import { scriptsOf } from '../../src/engine/redis/commands.js';
import { createKeys } from '../../src/engine/redis/keys.js';
import { createPresenceRunner, type PresenceRunner } from '../../src/engine/redis/presence-runner.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

// The status rule exists three times: nextState (status-rule.ts), the memory engine that calls it,
// and the PRESENCE script on Redis. One table of cases runs through all three; each step must leave
// the same record and be news to the same audience (scope) everywhere.

/** One device ('d', an HTTP client), so the effective status is the one chosen. */
type Step =
  | { set: StatusName; at: number }
  | { message: string | null; at: number }
  | { privacy: { nobody?: boolean; hide?: string[]; unhide?: string[] }; at: number };

const T = 1_800_000_000_000; // ms, a fixed "now" for each step: t follows from these alone
const TTL = 3_600_000; // the device outlives the test
const cases: { name: string; steps: Step[] }[] = [
  { name: 'a first status sets t to now', steps: [{ set: 'ONLINE', at: T }] },
  {
    name: 'the same status again changes nothing',
    steps: [
      { set: 'ONLINE', at: T },
      { set: 'ONLINE', at: T + 10 },
    ],
  },
  {
    name: 'each visible change moves t to now',
    steps: [
      { set: 'ONLINE', at: T },
      { set: 'AWAY', at: T + 10 },
      { set: 'BUSY', at: T + 20 },
      { set: 'OFFLINE', at: T + 30 },
    ],
  },
  {
    name: 't never goes back when the clock does',
    steps: [
      { set: 'ONLINE', at: T },
      { set: 'AWAY', at: T - 1_000 },
      { set: 'ONLINE', at: T - 2_000 },
    ],
  },
  {
    name: 'INVISIBLE before ever seen: t stays 0, only the user counts (h)',
    steps: [
      { set: 'INVISIBLE', at: T },
      { set: 'OFFLINE', at: T + 10 },
      { set: 'ONLINE', at: T + 20 },
    ],
  },
  {
    name: 'between OFFLINE and INVISIBLE friends read nothing new; the next visible change passes every version',
    steps: [
      { set: 'ONLINE', at: T },
      { set: 'INVISIBLE', at: T + 10 },
      { set: 'OFFLINE', at: T + 20 },
      { set: 'INVISIBLE', at: T + 30 },
      { set: 'AWAY', at: T + 11 },
    ],
  },
  {
    name: 'a sticky BUSY is kept while offline and dropped by ONLINE',
    steps: [
      { set: 'BUSY', at: T },
      { set: 'OFFLINE', at: T + 10 },
      { set: 'ONLINE', at: T + 20 },
    ],
  },
  {
    name: 'a message while present is news to friends (v), the same one again is not',
    steps: [
      { set: 'ONLINE', at: T },
      { message: 'lunch', at: T + 10 },
      { message: 'lunch', at: T + 20 },
      { message: null, at: T + 30 },
      { set: 'OFFLINE', at: T + 1 },
    ],
  },
  {
    name: 'a message while OFFLINE is the user’s own (h)',
    steps: [
      { set: 'ONLINE', at: T },
      { set: 'OFFLINE', at: T + 10 },
      { message: 'away', at: T + 20 },
      { message: null, at: T + 30 },
    ],
  },
  {
    name: 'a message set and cleared before ever being seen leaves a record of hidden changes',
    steps: [
      { message: 'hello', at: T },
      { message: null, at: T + 10 },
    ],
  },
  {
    name: 'lastActive NOBODY is news to friends once a user was seen, only the user’s before',
    steps: [
      { privacy: { nobody: true }, at: T },
      { set: 'ONLINE', at: T + 10 },
      { set: 'OFFLINE', at: T + 20 },
      { privacy: { nobody: false }, at: T + 30 },
      { privacy: { nobody: true }, at: T + 40 },
    ],
  },
  {
    name: 'hiding from someone flags the record and tells nobody; unhiding the last one drops the flag',
    steps: [
      { set: 'ONLINE', at: T },
      { privacy: { hide: ['rule-someone'] }, at: T + 10 },
      { privacy: { unhide: ['rule-someone'] }, at: T + 20 },
    ],
  },
];

interface Outcome {
  record: StoredPresence | null;
  /** nextState's and PRESENCE's scope; the engines' ports say only whether it was news (changed). */
  scope?: Scope;
  changed: boolean;
}

/** nextState driven by hand: one device, so the status is the one chosen (sticky or not). */
function referenceRun(steps: Step[]): Outcome[] {
  let prev: StoredPresence | null = null;
  let hides = false;
  const device = new Map<string, Session>();
  return steps.map((step) => {
    let settings: Settings = settingsOf(prev, hides);
    let sticky = prev?.sticky ?? 0;
    if ('set' in step) {
      const status = Status[step.set];
      if (status === Status.OFFLINE) device.delete('d');
      else {
        const sticks = status === Status.BUSY || status === Status.INVISIBLE;
        const own = sticks ? (device.get('d')?.status ?? Status.ONLINE) : status;
        device.set('d', { kind: 'deadline', status: own, expiresAt: Infinity });
        sticky = sticks ? status : 0;
      }
    } else if ('message' in step) {
      settings = { ...settings, message: step.message === null ? null : { text: step.message, emoji: null, expiresAt: null } };
    } else {
      hides = (step.privacy.hide?.length ?? 0) > 0 ? true : step.privacy.unhide?.length ? false : hides;
      settings = { ...settings, nobody: step.privacy.nobody ?? settings.nobody, hides };
    }
    const { record, scope } = nextState(prev, effectiveStatus(device.values(), sticky), sticky, settings, step.at);
    if (record) prev = record;
    return { record: record ?? prev, scope, changed: scope > 0 };
  });
}

describe('the status rule: nextState, the memory engine and the PRESENCE script agree', () => {
  let redis: RedisProcess;
  let client: Redis;
  let runner: PresenceRunner;
  const keys = createKeys('rule:', 64);
  let n = 0;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const changes = createChangeRouter({ client, keys, bus: createMemoryBus(), friendship: true });
    runner = createPresenceRunner({ client, keys, changes, maxSessions: 32 });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  /** The memory engine through its ports, as the API drives it. */
  async function memoryRun(steps: Step[]): Promise<Outcome[]> {
    const engine = createMemoryEngine({ friendship: true });
    const out: Outcome[] = [];
    for (const step of steps) {
      if ('set' in step) out.push(await engine.setStatus('u', Status[step.set], { sessionId: 'd', owner: null }, TTL, step.at));
      else if ('message' in step) {
        const message = step.message === null ? null : { text: step.message, emoji: null, expiresAt: null };
        out.push(await engine.setMessage('u', message, step.at));
      } else out.push(await engine.setPrivacy('u', { hide: [], unhide: [], ...step.privacy }, 1_000, step.at));
    }
    await engine.close();
    return out;
  }

  /** The PRESENCE script itself: one call per step, its reply decoded (nothing routed). */
  async function scriptRun(steps: Step[]): Promise<Outcome[]> {
    const user = `rule-${++n}`;
    const presence = scriptsOf(client).presence.bind(client);
    const out: Outcome[] = [];
    for (const step of steps) {
      const [, ...args] =
        'set' in step
          ? runner.command('set', user, step.at, { session: 'd', status: Status[step.set], ttlMs: TTL, owner: '' })
          : 'message' in step
            ? runner.command('message', user, step.at, { text: step.message ?? '', emoji: '', expiresAt: '' })
            : runner.command('privacy', user, step.at, { lastActive: lastActive(step.privacy.nobody), maxHidden: 1_000 });
      const lists = 'privacy' in step ? [...list(step.privacy.hide), ...list(step.privacy.unhide)] : [];
      const reply = runner.decode(await presence(...args, ...lists));
      out.push({ record: reply.record, scope: reply.scope, changed: reply.scope > 0 });
    }
    return out;
  }
  const lastActive = (nobody: boolean | undefined) => (nobody === undefined ? '' : nobody ? 'N' : 'F');
  const list = (ids: string[] = []) => [ids.length, ...ids];

  it.each(cases)('$name', async ({ steps }) => {
    const reference = referenceRun(steps);
    expect(reference.some((r) => r.changed)).toBe(true); // every case changes something
    expect(await scriptRun(steps)).toEqual(reference);
    const memory = await memoryRun(steps);
    expect(memory).toEqual(reference.map(({ record, changed }) => ({ record, changed })));
  });
});
