import { SessionLimitError } from '../../domain/errors.js';
import { Status, type Sticky, type StoredPresence } from '../../domain/presence.js';
import { changeOf, deviceStatus, effectiveStatus, nextState, settingsOf, type Session, type Settings } from '../../domain/status-rule.js';
import type { ChangeResult } from '../ports.js';
import type { MemoryChangeRouter } from './change-router.js';
import type { MemoryState } from './state.js';

/** Changes a user's sessions (in place) and returns their sticky status after it. */
export type Mutate = (sessions: Map<string, Session>, sticky: Sticky) => Sticky;

/**
 * The memory engine's counterpart of the PRESENCE script: applies `mutate` to the user's sessions
 * (and `settings` to their message and privacy), re-derives their status (effectiveStatus), stores
 * the record nextState gives, and routes the change.
 */
export type ApplyChange = (
  userId: string,
  nowMs: number,
  mutate?: Mutate,
  settings?: (current: Settings) => Settings,
) => Promise<ChangeResult>;

/** A device past its idle moment: ONLINE written back as AWAY (the Lua script does the same). */
export const isIdle = (s: Session, now: number) => deviceStatus(s, now) !== s.status;

const keepSticky: Mutate = (_sessions, sticky) => sticky;
const present = (r: StoredPresence | null) => r !== null && r.status !== Status.OFFLINE;

export function createChangeApplier(opts: { state: MemoryState; changes: MemoryChangeRouter; maxSessions: number }): ApplyChange {
  const { state, changes, maxSessions } = opts;
  return async (userId, nowMs, mutate = keepSticky, settings) => {
    const prev = state.records.get(userId) ?? null;
    const own = state.sessions.get(userId) ?? new Map<string, Session>();
    state.sessions.set(userId, own);
    const sticky = applySessions(own, prev?.sticky ?? 0, mutate, maxSessions, () => state.sessions.delete(userId));
    const current = settingsOf(prev, (state.hiddenFrom.get(userId)?.size ?? 0) > 0);
    const next = settings ? settings(current) : current;
    // An expired message goes (sweepDeadlines comes by at its moment).
    if (next.message?.expiresAt != null && next.message.expiresAt <= Date.now()) next.message = null;
    const { record, scope } = nextState(prev, effectiveStatus(own.values(), sticky), sticky, next, Math.floor(nowMs));
    if (!record) return { record: prev, changed: false };
    state.records.set(userId, record);
    if (record.x?.message?.expiresAt != null) state.expiring.add(userId);
    else state.expiring.delete(userId);
    if (present(prev) !== present(record)) state.online += present(record) ? 1 : -1;
    const change = changeOf(userId, prev?.status ?? Status.OFFLINE, record, scope);
    if (change) await changes.presence(change);
    return { record, changed: scope > 0 };
  };
}

/**
 * Applies `mutate`, undoing any session it created beyond `maxSessions` (SessionLimitError), then
 * drops expired deadline sessions and writes idle devices back as AWAY. `empty` runs when the
 * user has no session left.
 */
function applySessions(own: Map<string, Session>, sticky: Sticky, mutate: Mutate, maxSessions: number, empty: () => void): Sticky {
  const before = new Set(own.keys());
  const after = mutate(own, sticky);
  if (own.size > maxSessions && [...own.keys()].some((id) => !before.has(id))) {
    for (const id of own.keys()) if (!before.has(id)) own.delete(id);
    if (own.size === 0) empty();
    throw new SessionLimitError(`at most ${maxSessions} device sessions per user`);
  }
  const now = Date.now();
  for (const [id, s] of own) if (s.kind === 'deadline' && s.expiresAt <= now) own.delete(id);
  for (const s of own.values()) if (isIdle(s, now)) s.status = Status.AWAY;
  if (own.size === 0) empty();
  return after;
}
