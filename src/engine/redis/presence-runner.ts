import { HiddenLimitError, SessionLimitError } from '../../domain/errors.js';
import type { Extras, StatusCode, Sticky, StoredPresence } from '../../domain/presence.js';
import { changeOf, type Scope } from '../../domain/status-rule.js';
import type { RoutedFriendship } from '../bus.js';
import type { ChangeResult } from '../ports.js';
import type { ChangeRouter, Routable } from './change-router.js';
import { scriptsOf, type Arg } from './commands.js';
import type { Command, RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';
import { PRESENCE_OPS, Refused, type PresenceOp } from './scripts.js';

/** An operation's own arguments, by the names PRESENCE reads them with. */
export type OpArgs<Op extends PresenceOp> = Record<(typeof PRESENCE_OPS)[Op][number], Arg>;

/** PRESENCE's reply, decoded once (scripts.ts documents its slots). */
export interface PresenceReply {
  /** Who the change is news to: nobody, the user alone, everyone who may see them. */
  scope: Scope;
  /** The user's record after the call; null when nothing is stored (a user never seen). */
  record: StoredPresence | null;
  /** The status before the call. */
  prev: StatusCode;
  /** The user hides from someone (their hidden-from set is read when routing). */
  hides: boolean;
  /** Viewers whose hidden state changed (setPrivacy): `hidden` true when the user now hides from them. */
  hiddenChanged: { viewer: string; hidden: boolean }[];
}

/** PRESENCE's reply slots, in the order the script returns them; the changed ids follow. */
const Slot = {
  scope: 0,
  status: 1,
  t: 2,
  sticky: 3,
  h: 4,
  prev: 5,
  v: 6,
  flagged: 7,
  nobody: 8,
  text: 9,
  emoji: 10,
  expiresAt: 11,
  hides: 12,
};
const FIRST_CHANGED_ID = 13;

/**
 * Reads a PRESENCE reply; throws SessionLimitError or HiddenLimitError when the script refused the
 * operation (it then wrote nothing).
 */
export function decodeReply(reply: (number | string)[], maxSessions: number): PresenceReply {
  const num = (slot: number) => reply[slot] as number;
  const str = (slot: number) => reply[slot] as string;
  const scope = num(Slot.scope);
  if (scope === Refused.sessionLimit) throw new SessionLimitError(`at most ${maxSessions} device sessions per user`);
  if (scope === Refused.hiddenLimit) throw new HiddenLimitError('hidden from too many users');
  const [text, emoji, expiresAt] = [str(Slot.text), str(Slot.emoji), str(Slot.expiresAt)];
  const message = text === '' ? null : { text, emoji: emoji || null, expiresAt: expiresAt === '' ? null : Number(expiresAt) };
  const x: Extras | undefined = num(Slot.flagged) === 1 ? { v: num(Slot.v), nobody: num(Slot.nobody) === 1, message } : undefined;
  const [status, t, sticky, h] = [num(Slot.status) as StatusCode, str(Slot.t), num(Slot.sticky) as Sticky, num(Slot.h)];
  // Nothing stored: the script's reply for a user never seen whom the call left alone.
  const record: StoredPresence | null =
    t === '0' && status === 0 && sticky === 0 && h === 0 && !x ? null : { status, t: Number(t), sticky };
  if (record && h > 0) record.h = h;
  if (record && x) record.x = x;
  return {
    scope: scope as Scope,
    record,
    prev: num(Slot.prev) as StatusCode,
    hides: num(Slot.hides) === 1,
    hiddenChanged: (reply.slice(FIRST_CHANGED_ID) as string[]).map((id) => ({ viewer: id.slice(1), hidden: id[0] === '+' })),
  };
}

/** The change to route after a reply (null when it is news to nobody). */
export function routableOf(userId: string, reply: PresenceReply): Routable | null {
  const change = reply.record && changeOf(userId, reply.prev, reply.record, reply.scope);
  return change ? { change, hides: reply.hides } : null;
}

/** The one way every port runs PRESENCE: build the call, run it, decode the reply, route it. */
export interface PresenceRunner {
  /** One call for `userId`; resolves once its changes are routed. `lists`: privacy's id lists. */
  run<Op extends PresenceOp>(op: Op, userId: string, nowMs: number, args: OpArgs<Op>, lists?: Arg[]): Promise<ChangeResult>;
  /** The same call as a command, for a pipeline (decoded with `decode`). */
  command<Op extends PresenceOp>(op: Op, userId: string, nowMs: number, args: OpArgs<Op>): Command;
  decode(reply: (number | string)[]): PresenceReply;
}

export function createPresenceRunner(opts: {
  client: RedisClient;
  keys: RedisKeys;
  changes: ChangeRouter;
  /** Device sessions one user may hold. */
  maxSessions: number;
}): PresenceRunner {
  const { keys, changes, maxSessions } = opts;
  const scripted = scriptsOf(opts.client);
  const argv = <Op extends PresenceOp>(op: Op, userId: string, nowMs: number, args: OpArgs<Op>): Arg[] => [
    ...keys.userKeys(userId),
    op,
    keys.locate(userId).field,
    userId,
    Math.floor(nowMs),
    maxSessions,
    ...PRESENCE_OPS[op].map((name: keyof OpArgs<Op>) => args[name]),
  ];
  const decode = (reply: (number | string)[]) => decodeReply(reply, maxSessions);
  return {
    decode,
    command: (op, userId, nowMs, args) => ['presence', ...argv(op, userId, nowMs, args)],
    async run(op, userId, nowMs, args, lists = []) {
      const reply = decode(await scripted.presence(...argv(op, userId, nowMs, args), ...lists));
      const routable = routableOf(userId, reply);
      if (routable) await changes.presence([routable]);
      // What a friendship removal (hide) or addition (unhide) would tell each of them.
      const entries: RoutedFriendship[] = reply.hiddenChanged.map(({ viewer: to, hidden }) =>
        hidden ? { to, added: [], removed: [userId] } : { to, added: [userId], removed: [] },
      );
      if (entries.length) await changes.friendship(entries);
      return { record: reply.record, changed: reply.scope > 0 };
    },
  };
}
