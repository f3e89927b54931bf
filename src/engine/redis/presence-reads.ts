import { decodeRecord, type Extras } from '../../domain/presence.js';
import type { LoadedPresence, PresenceStore } from '../ports.js';
import { scriptsOf, type Arg, type Scripted } from './commands.js';
import { batch, groupByNode, type Command, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';
import { NOBODY, SettingsField } from './scripts.js';

type SettingsReply = (string | number | null)[];

/** What the read needs: the connection, the key names, and whether the scripts may run there. */
interface Reader {
  client: RedisClient;
  keys: RedisKeys;
  scripted: Scripted;
  /** Visibility 'friends': the read also asks whether the viewer is each user's friend. */
  friendship: boolean;
  /** Off once Redis refused a read script for good (older than 7: no shebang flags). */
  scriptReads: boolean;
}

/**
 * presence(ids)'s read (PresenceStore.load): one READ_MANY per Redis node holding any of the
 * buckets (and the viewer's friend set), then, only when the answer meets a user with settings, one
 * SETTINGS_MANY per node. Plain commands when a script cannot run (a slot moving, Redis < 7).
 */
export function createPresenceReader(opts: { client: RedisClient; keys: RedisKeys; friendship: boolean }): PresenceStore['load'] {
  const reader: Reader = { ...opts, scripted: scriptsOf(opts.client), scriptReads: true };
  return (viewerId, ids) => load(reader, viewerId, ids);
}

async function load(reader: Reader, viewerId: string | null, ids: readonly string[]): Promise<LoadedPresence[]> {
  const { client, keys } = reader;
  // One READ_MANY per node holding any of the buckets (and the friend set): one round trip
  // per node, one command each. Plain HMGETs when the script cannot run (see readMany).
  const byBucket = new Map<string, { fields: Buffer[]; at: number[] }>();
  ids.forEach((id, i) => {
    const { key, field } = keys.locate(id);
    const group = byBucket.get(key);
    if (group) {
      group.fields.push(field);
      group.at.push(i);
    } else byBucket.set(key, { fields: [field], at: [i] });
  });
  const commands: Command[] = [...byBucket].map(([key, g]) => ['hmget', key, ...g.fields]);
  const askFriendship = reader.friendship && viewerId !== null && ids.length > 0;
  if (askFriendship) commands.push(['smismember', keys.friends(viewerId), ...ids]);

  const replies = (await readMany(reader, commands)) ?? (await batch(client, commands));
  const out: LoadedPresence[] = ids.map(() => ({ record: null, friend: false }));
  let r = 0;
  for (const g of byBucket.values()) {
    const values = replies[r++] as (string | null)[];
    g.at.forEach((i, j) => {
      const raw = values[j] ?? null;
      out[i]!.record = raw === null ? null : decodeRecord(raw);
    });
  }
  if (askFriendship) {
    const member = replies[r] as number[];
    member.forEach((m, i) => (out[i]!.friend = m === 1));
  }
  await readSettings(reader, viewerId, ids, out);
  return out;
}

/**
 * Runs `run` once per Redis node holding the commands' keys (one read script per node). False
 * when reads cannot go this way (a slot not yet known or moving, Redis < 7): the caller then
 * sends plain commands.
 */
async function perNode(reader: Reader, commands: Command[], run: (indexes: number[]) => Promise<void>): Promise<boolean> {
  if (!reader.scriptReads || commands.length === 0) return false;
  const { groups, unknown } = groupByNode(reader.client, commands);
  if (unknown.length) return false;
  try {
    await Promise.all(groups.map(run));
  } catch (err) {
    const message = (err as Error).message;
    if (/shebang|flags|unknown lua/i.test(message)) reader.scriptReads = false;
    else if (!/CROSSSLOT|MOVED|ASK|TRYAGAIN|CLUSTERDOWN|slot/i.test(message)) throw err;
    return false;
  }
  return true;
}

/**
 * The HMGETs and the SMISMEMBER of one read, as one READ_MANY per node: the same replies in the
 * same order as batch() would give. Null when they cannot go this way (perNode).
 */
async function readMany(reader: Reader, commands: Command[]): Promise<unknown[] | null> {
  const out: unknown[] = new Array(commands.length);
  const done = await perNode(reader, commands, async (indexes) => {
    const reads = indexes.filter((i) => commands[i]![0] === 'hmget');
    const member = indexes.find((i) => commands[i]![0] === 'smismember');
    const keys = [...reads, ...(member === undefined ? [] : [member])].map((i) => commands[i]![1]!);
    const args: Arg[] = [member === undefined ? '0' : '1', keys.length, ...keys];
    for (const i of reads) args.push(commands[i]!.length - 2, ...commands[i]!.slice(2));
    if (member !== undefined) args.push(...commands[member]!.slice(2));
    // One declared key, to route the call to the node (see READ_MANY).
    const replies = await reader.scripted.readMany(1, keys[0]!, ...args);
    reads.forEach((i, j) => (out[i] = replies[j]));
    if (member !== undefined) out[member] = replies[reads.length];
  });
  return done ? out : null;
}

/**
 * The settings of the flagged records among `out` (a message, privacy), and whether each hides
 * from the viewer: one more round trip per node, only when a read meets such a user.
 */
async function readSettings(reader: Reader, viewerId: string | null, ids: readonly string[], out: LoadedPresence[]) {
  if (!out.some((l) => l.record?.x)) return; // the common case: nobody in the answer has settings
  const flagged = [...new Set(ids.filter((_, i) => out[i]!.record?.x))];
  const viewer = viewerId ?? '';
  const replies = (await settingsMany(reader, viewer, flagged)) ?? (await settingsByCommands(reader, viewer, flagged));
  const read = new Map<string, { x: Extras; hidden: boolean }>();
  flagged.forEach((id, i) => {
    const [mt, me, mx, p, v, hidden] = replies[i]!;
    const message = mt ? { text: String(mt), emoji: me ? String(me) : null, expiresAt: mx ? Number(mx) : null } : null;
    read.set(id, { x: { v: Number(v ?? 0), message, nobody: p === NOBODY }, hidden: id !== viewerId && hidden === 1 });
  });
  ids.forEach((id, i) => {
    const got = read.get(id);
    if (!got) return;
    // Each slot gets its own record: a DataLoader may hand the same id's object to two callers.
    out[i]!.record = { ...out[i]!.record!, x: got.x };
    out[i]!.hidden = got.hidden;
  });
}

/** One SETTINGS_MANY per node; null when it cannot go this way (perNode). */
async function settingsMany(reader: Reader, viewer: string, flagged: string[]): Promise<SettingsReply[] | null> {
  const { keys } = reader;
  const out: SettingsReply[] = new Array(flagged.length);
  const done = await perNode(
    reader,
    flagged.map((id) => ['hmget', keys.settings(id)]),
    async (indexes) => {
      const args = indexes.flatMap((i) => [keys.settings(flagged[i]!), keys.hiddenFrom(flagged[i]!)]);
      const replies = await reader.scripted.settingsMany(1, args[0]!, viewer, ...args);
      indexes.forEach((i, j) => (out[i] = replies[j]!));
    },
  );
  return done ? out : null;
}

/** The same reads as plain commands (Redis older than 7, a slot moving). */
async function settingsByCommands({ client, keys }: Reader, viewer: string, flagged: string[]): Promise<SettingsReply[]> {
  const { text, emoji, expiresAt, lastActive, offset } = SettingsField;
  const commands: Command[] = [];
  for (const id of flagged) {
    commands.push(['hmget', keys.settings(id), text, emoji, expiresAt, lastActive, offset]);
    commands.push(['sismember', keys.hiddenFrom(id), viewer]);
  }
  const replies = await batch(client, commands);
  return flagged.map((_, i) => [...(replies[2 * i] as (string | null)[]), replies[2 * i + 1] as number]);
}
