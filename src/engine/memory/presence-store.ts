import { Status, type StatusCode, type Sticky } from '../../domain/presence.js';
import { activitySlackMs, DEFAULT_DEVICE, deviceStatus, type Session } from '../../domain/status-rule.js';
import type { DeviceView, PresenceStore, SessionTarget } from '../ports.js';
import { isIdle, type ApplyChange, type Mutate } from './apply-change.js';
import type { MemoryState } from './state.js';

type Activity = typeof Status.ONLINE | typeof Status.AWAY;
/** A session's idle moment, to carry over to its next form (PRESENCE keeps it the same way). */
const idleOf = (s: Session | undefined): { idleAt?: number } => (s?.idleAt === undefined ? {} : { idleAt: s.idleAt });
const activityOf = (s: StatusCode | null | undefined): Activity | null => (s === Status.ONLINE || s === Status.AWAY ? s : null);

/** Records and device sessions in this process: every write one ApplyChange, as PRESENCE on Redis. */
export function createMemoryPresenceStore(opts: { state: MemoryState; apply: ApplyChange; friendship: boolean }): PresenceStore {
  const { state, apply } = opts;
  return {
    async load(viewerId, ids) {
      const mine = viewerId !== null && opts.friendship ? state.friends.get(viewerId) : undefined;
      return ids.map((id) => ({
        record: state.records.get(id) ?? null,
        friend: mine?.has(id) ?? false,
        hidden: viewerId !== null && viewerId !== id && (state.hiddenFrom.get(id)?.has(viewerId) ?? false),
      }));
    },
    setStatus: (userId, status, target, ttlMs, nowMs) => apply(userId, nowMs, setStatus(status, target, ttlMs)),
    reopenSession: (userId, sessionId, previousOwner, owner, activity, nowMs) =>
      apply(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (!s || s.kind === 'deadline' || s.owner === previousOwner) {
          own.set(sessionId, { kind: 'socket', status: s?.status ?? activityOf(activity) ?? Status.ONLINE, owner, ...idleOf(s) });
        }
        return sticky;
      }),
    openSession: (userId, sessionId, owner, status, nowMs) =>
      apply(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        const chosen = activityOf(status);
        own.set(sessionId, { kind: 'socket', status: chosen ?? s?.status ?? Status.ONLINE, owner, ...(chosen ? {} : idleOf(s)) });
        return sticky;
      }),
    closeSession: (userId, sessionId, owner, graceMs, nowMs) =>
      apply(userId, nowMs, endSocket(sessionId, owner, graceMs > 0 ? Date.now() + graceMs : null)),
    takeOverSession: (userId, sessionId, owner, deadlineMs, nowMs) => apply(userId, nowMs, endSocket(sessionId, owner, deadlineMs)),
    heartbeat: (userId, sessionId, ttlMs, nowMs) =>
      apply(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (s?.kind !== 'socket')
          own.set(sessionId, { kind: 'deadline', status: s?.status ?? Status.ONLINE, expiresAt: Date.now() + ttlMs, ...idleOf(s) });
        return sticky;
      }),
    reportActivity: (userId, target, idleMs, ttlMs, nowMs) => apply(userId, nowMs, reportActivity(target, idleMs, ttlMs)),
    devices: async (userId, idleMs, nowMs) => devices(state.sessions.get(userId), idleMs, nowMs),
    sweepDeadlines: async (nowMs) => {
      const due = dueUsers(state, Date.now());
      for (const userId of due) await apply(userId, nowMs);
      return due.size;
    },
    sweepRetention: async (cutoffMs) => sweepRetention(state, cutoffMs),
    onlineCount: async () => state.online,
  };
}

/** setPresence: OFFLINE ends the device (every device for HTTP without one); others set it. */
function setStatus(status: StatusCode, target: SessionTarget, ttlMs: number): Mutate {
  return (own, sticky) => {
    if (status === Status.OFFLINE) {
      if (target.sessionId === null) own.clear();
      else own.delete(target.sessionId);
      return sticky;
    }
    const id = target.sessionId ?? DEFAULT_DEVICE;
    const activity = activityOf(status);
    const existing = own.get(id);
    const deviceActivity = activity ?? existing?.status ?? Status.ONLINE;
    // A chosen ONLINE/AWAY ends automatic away until the device's next activity.
    const idle = activity ? {} : idleOf(existing);
    if (existing?.kind === 'socket') own.set(id, { kind: 'socket', status: deviceActivity, owner: existing.owner, ...idle });
    else if (existing || target.owner === null)
      own.set(id, { kind: 'deadline', status: deviceActivity, expiresAt: Date.now() + ttlMs, ...idle });
    else own.set(id, { kind: 'socket', status: deviceActivity, owner: target.owner });
    return activity ? 0 : (status as Sticky);
  };
}

/**
 * The socket of `owner` closed (linger until `deadline`, null: end at once), or its instance died
 * (end at `deadline`; one already past ends at once).
 */
function endSocket(sessionId: string, owner: string, deadline: number | null): Mutate {
  return (own, sticky) => {
    const s = own.get(sessionId);
    if (s?.kind !== 'socket' || s.owner !== owner) return sticky;
    if (deadline === null) own.delete(sessionId);
    else own.set(sessionId, { kind: 'deadline', status: s.status, expiresAt: deadline, ...idleOf(s) });
    return sticky;
  };
}

/** As PRESENCE 'activity': nothing changes while the idle moment is at least idleMs away. */
function reportActivity(target: SessionTarget, idleMs: number, ttlMs: number): Mutate {
  const id = target.sessionId ?? DEFAULT_DEVICE;
  return (own, sticky) => {
    const now = Date.now();
    const s = own.get(id);
    const fresh = s?.status === Status.ONLINE && s.idleAt !== undefined && s.idleAt >= now + idleMs;
    const idleAt = fresh ? s.idleAt! : now + idleMs + activitySlackMs(idleMs);
    if (s?.kind === 'socket') {
      if (!fresh) own.set(id, { kind: 'socket', status: Status.ONLINE, owner: s.owner, idleAt });
    } else if (s || target.owner === null) {
      const alive = s?.kind === 'deadline' && s.expiresAt >= now + ttlMs;
      if (!(fresh && alive))
        own.set(id, { kind: 'deadline', status: Status.ONLINE, expiresAt: now + ttlMs + activitySlackMs(ttlMs), idleAt });
    } else own.set(id, { kind: 'socket', status: Status.ONLINE, owner: target.owner, idleAt });
    return sticky;
  };
}

function devices(own: Map<string, Session> | undefined, idleMs: number, nowMs: number): DeviceView[] {
  const now = Date.now();
  const out: DeviceView[] = [];
  for (const [deviceId, s] of own ?? []) {
    if (s.kind === 'deadline' && s.expiresAt <= now) continue; // the next sweep removes it
    out.push({
      deviceId,
      status: deviceStatus(s, now),
      lastActiveAt: s.idleAt === undefined ? nowMs : Math.min(nowMs, s.idleAt - idleMs - activitySlackMs(idleMs)),
      transport: s.kind === 'socket' ? 'websocket' : 'http',
    });
  }
  return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

/** Users with a deadline session past, an idle device, or a status message past its expiry. */
function dueUsers(state: MemoryState, now: number): Set<string> {
  const due = new Set<string>();
  for (const [userId, own] of state.sessions)
    if ([...own.values()].some((s) => (s.kind === 'deadline' && s.expiresAt <= now) || isIdle(s, now))) due.add(userId);
  // A status message past its expiry (it is among the user's deadlines, like on Redis).
  for (const userId of state.expiring) if ((state.records.get(userId)?.x?.message?.expiresAt ?? Infinity) <= now) due.add(userId);
  return due;
}

function sweepRetention(state: MemoryState, cutoffMs: number): number {
  let removed = 0;
  for (const [id, r] of state.records) {
    // A sticky BUSY/INVISIBLE is kept: forgetting it would bring an invisible user back visible.
    // So is one with settings (a hidden-from set must outlive any absence).
    if (r.status === Status.OFFLINE && !r.sticky && !r.x && !state.hiddenFrom.has(id) && r.t < cutoffMs) {
      state.records.delete(id);
      removed++;
    }
  }
  return removed;
}
