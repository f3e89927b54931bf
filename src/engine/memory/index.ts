import { Status, type StatusCode, type Sticky, type StoredPresence } from '../../domain/presence.js';
import {
  activitySlackMs,
  deviceStatus,
  effectiveStatus,
  nextState,
  settingsOf,
  type PresenceChange,
  type Session,
  type Settings,
} from '../../domain/status-rule.js';
import { FriendLimitError, HiddenLimitError, SessionLimitError } from '../../domain/errors.js';
import { createMemoryBus } from '../bus.js';
import { friendshipEntries, planFriendship, planPresence } from '../routing.js';
import type { ChangeResult, DeviceView, PresenceEngine } from '../ports.js';

type Activity = typeof Status.ONLINE | typeof Status.AWAY;
/** A session's idle moment, to carry over to its next form (PRESENCE keeps it the same way). */
const idleOf = (s: Session | undefined): { idleAt?: number } => (s?.idleAt === undefined ? {} : { idleAt: s.idleAt });
/** A device past its idle moment: ONLINE written back as AWAY (the Lua script does the same). */
const isIdle = (s: Session, now: number) => deviceStatus(s, now) !== s.status;

/**
 * The embedded engine: everything in this process, for running one instance with nothing else
 * installed. It follows the same rules as the Redis engine's Lua script (presence.ts
 * effectiveStatus and nextRecord) and passes the same contract suites; it is alone, so instance
 * leases and takeovers have nothing to do, and it forgets everything on restart.
 */
export function createMemoryEngine(opts: { friendship: boolean; maxSessionsPerUser?: number; maxFriendsPerUser?: number }): PresenceEngine {
  const maxSessions = opts.maxSessionsPerUser ?? 32;
  const maxFriends = opts.maxFriendsPerUser ?? 5_000;
  const records = new Map<string, StoredPresence>();
  const sessions = new Map<string, Map<string, Session>>();
  const friends = new Map<string, Set<string>>();
  const bus = createMemoryBus();
  /** The routing table, as the Redis engine keeps it: viewer -> instances, user -> watching instances. */
  const routes = new Map<string, Set<string>>();
  const watchers = new Map<string, Set<string>>();
  const toggle = (table: Map<string, Set<string>>, key: string, instanceId: string, held: boolean) => {
    let set = table.get(key);
    if (held) {
      if (!set) table.set(key, (set = new Set()));
      set.add(instanceId);
    } else if (set?.delete(instanceId) && set.size === 0) table.delete(key);
  };
  const routesOf = (viewerId: string) => [...(routes.get(viewerId) ?? [])];
  /** Users whose status message has an expiry: what the deadline sweep checks besides sessions. */
  const expiring = new Set<string>();
  /** Whom each user hides from (setPrivacy hide). */
  const hiddenFrom = new Map<string, Set<string>>();
  /** Like the Redis engine: a change only the user may see goes to them alone; hidden viewers are left out. */
  const route = async (c: PresenceChange) => {
    const hidden = hiddenFrom.get(c.userId);
    if (hidden && !opts.friendship && !c.self) c.hiddenFrom = [...hidden];
    const viewers = c.self ? [c.userId] : [...(friends.get(c.userId) ?? [])].filter((f) => !hidden?.has(f)).concat(c.userId);
    await bus.send(planPresence([c], [viewers], routesOf, opts.friendship || c.self ? [] : [[...(watchers.get(c.userId) ?? [])]]));
  };
  const routeFriendship = async (userId: string, changed: string[], kind: 'added' | 'removed') => {
    if (changed.length) await bus.send(planFriendship(friendshipEntries(userId, changed, kind), routesOf));
  };
  const windows = new Map<string, { n: number; endsAt: number }>();
  /** Users present now, kept exact on every change (O(1) to read, like the Redis counters). */
  let online = 0;

  const setOf = (id: string) => {
    let s = friends.get(id);
    if (!s) friends.set(id, (s = new Set()));
    return s;
  };
  const sessionsOf = (userId: string) => {
    let s = sessions.get(userId);
    if (!s) sessions.set(userId, (s = new Map()));
    return s;
  };

  /**
   * Applies `mutate` to the user's sessions (and `settings` to their message and privacy), then
   * re-derives and stores the user's status.
   */
  const change = async (
    userId: string,
    nowMs: number,
    mutate: (s: Map<string, Session>, sticky: Sticky) => Sticky = (_s, sticky) => sticky,
    settings?: (current: Settings) => Settings,
  ): Promise<ChangeResult> => {
    const prev = records.get(userId) ?? null;
    const own = sessionsOf(userId);
    const before = new Set(own.keys());
    const sticky = mutate(own, prev?.sticky ?? 0);
    if (own.size > maxSessions && [...own.keys()].some((id) => !before.has(id))) {
      for (const id of own.keys()) if (!before.has(id)) own.delete(id);
      if (own.size === 0) sessions.delete(userId);
      throw new SessionLimitError(`at most ${maxSessions} device sessions per user`);
    }
    for (const [id, s] of own) if (s.kind === 'deadline' && s.expiresAt <= Date.now()) own.delete(id);
    for (const s of own.values()) if (isIdle(s, Date.now())) s.status = Status.AWAY;
    if (own.size === 0) sessions.delete(userId);
    const current = settingsOf(prev, (hiddenFrom.get(userId)?.size ?? 0) > 0);
    const next = settings ? settings(current) : current;
    // An expired message goes (sweepDeadlines comes by at its moment).
    if (next.message?.expiresAt != null && next.message.expiresAt <= Date.now()) next.message = null;
    const { record, scope } = nextState(prev, effectiveStatus(own.values(), sticky), sticky, next, Math.floor(nowMs));
    if (!record) return { record: prev, changed: false };
    records.set(userId, record);
    if (record.x?.message?.expiresAt != null) expiring.add(userId);
    else expiring.delete(userId);
    const present = (r: StoredPresence | null) => r !== null && r.status !== Status.OFFLINE;
    if (present(prev) !== present(record)) online += present(record) ? 1 : -1;
    if (scope > 0) {
      const c: PresenceChange = { userId, prev: prev?.status ?? 0, status: record.status, t: record.t };
      if (record.h) c.h = record.h;
      if (record.x) c.x = record.x;
      if (scope === 1) c.self = 1;
      await route(c);
    }
    return { record, changed: scope > 0 };
  };
  const activityOf = (s: StatusCode | null | undefined): Activity | null => (s === Status.ONLINE || s === Status.AWAY ? s : null);

  return {
    kind: 'memory',
    inbox: bus,

    async load(viewerId, ids) {
      const mine = viewerId !== null && opts.friendship ? friends.get(viewerId) : undefined;
      return ids.map((id) => ({
        record: records.get(id) ?? null,
        friend: mine?.has(id) ?? false,
        hidden: viewerId !== null && viewerId !== id && (hiddenFrom.get(id)?.has(viewerId) ?? false),
      }));
    },

    setStatus: (userId, status, target, ttlMs, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        if (status === Status.OFFLINE) {
          if (target.sessionId === null) own.clear();
          else own.delete(target.sessionId);
          return sticky;
        }
        const id = target.sessionId ?? 'default';
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
      }),

    reopenSession: (userId, sessionId, previousOwner, owner, activity, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (!s || s.kind === 'deadline' || s.owner === previousOwner) {
          own.set(sessionId, { kind: 'socket', status: s?.status ?? activityOf(activity) ?? Status.ONLINE, owner, ...idleOf(s) });
        }
        return sticky;
      }),

    openSession: (userId, sessionId, owner, status, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        const chosen = activityOf(status);
        own.set(sessionId, { kind: 'socket', status: chosen ?? s?.status ?? Status.ONLINE, owner, ...(chosen ? {} : idleOf(s)) });
        return sticky;
      }),

    closeSession: (userId, sessionId, owner, graceMs, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (s?.kind === 'socket' && s.owner === owner) {
          if (graceMs > 0) own.set(sessionId, { kind: 'deadline', status: s.status, expiresAt: Date.now() + graceMs, ...idleOf(s) });
          else own.delete(sessionId);
        }
        return sticky;
      }),

    takeOverSession: (userId, sessionId, owner, deadlineMs, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (s?.kind === 'socket' && s.owner === owner)
          own.set(sessionId, { kind: 'deadline', status: s.status, expiresAt: deadlineMs, ...idleOf(s) });
        return sticky;
      }),

    heartbeat: (userId, sessionId, ttlMs, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const s = own.get(sessionId);
        if (s?.kind !== 'socket')
          own.set(sessionId, { kind: 'deadline', status: s?.status ?? Status.ONLINE, expiresAt: Date.now() + ttlMs, ...idleOf(s) });
        return sticky;
      }),

    setMessage: (userId, message, nowMs) => change(userId, nowMs, undefined, (s) => ({ ...s, message })),

    async setPrivacy(userId, { nobody, hide, unhide }, maxHidden, nowMs) {
      const set = hiddenFrom.get(userId) ?? new Set<string>();
      const after = new Set(set);
      for (const id of unhide) after.delete(id);
      for (const id of hide) after.add(id);
      if (after.size > maxHidden) throw new HiddenLimitError('hidden from too many users');
      const unhidden = unhide.filter((id) => set.has(id));
      const hidden = [...new Set(hide)].filter((id) => !set.has(id) || unhidden.includes(id));
      if (after.size) hiddenFrom.set(userId, after);
      else hiddenFrom.delete(userId);
      const result = await change(userId, nowMs, undefined, (s) => ({ ...s, nobody: nobody ?? s.nobody, hides: after.size > 0 }));
      // What a friendship removal (hide) or addition (unhide) would tell each of them.
      const entries = [
        ...unhidden.filter((id) => !after.has(id)).map((to) => ({ to, added: [userId], removed: [] })),
        ...hidden.map((to) => ({ to, added: [], removed: [userId] })),
      ];
      if (entries.length) await bus.send(planFriendship(entries, routesOf));
      return result;
    },

    async privacy(userId) {
      return { nobody: records.get(userId)?.x?.nobody ?? false, hiddenFrom: [...(hiddenFrom.get(userId) ?? [])].sort() };
    },

    async sweepDeadlines(nowMs) {
      const now = Date.now();
      const due = new Set<string>();
      for (const [userId, own] of sessions)
        if ([...own.values()].some((s) => (s.kind === 'deadline' && s.expiresAt <= now) || isIdle(s, now))) due.add(userId);
      // A status message past its expiry (it is among the user's deadlines, like on Redis).
      for (const userId of expiring) if ((records.get(userId)?.x?.message?.expiresAt ?? Infinity) <= now) due.add(userId);
      for (const userId of due) await change(userId, nowMs);
      return due.size;
    },

    async sweepRetention(cutoffMs) {
      let removed = 0;
      for (const [id, r] of records) {
        // A sticky BUSY/INVISIBLE is kept: forgetting it would bring an invisible user back visible.
        // So is one with settings (a hidden-from set must outlive any absence).
        if (r.status === Status.OFFLINE && !r.sticky && !r.x && !hiddenFrom.has(id) && r.t < cutoffMs) {
          records.delete(id);
          removed++;
        }
      }
      return removed;
    },

    onlineCount: async () => online,

    // Alone in its process: no lease to lose, nobody to take over.
    renewLease: async () => true,
    trackSession: async () => {},
    claimDeadInstances: async () => [],
    sessionsOf: async () => [],
    forgetInstance: async () => {},

    async hit(key, count, windowMs) {
      const now = Date.now();
      let w = windows.get(key);
      if (!w || w.endsAt <= now) {
        // Drop finished windows now and then so the map holds only active callers.
        if (windows.size > 10_000) for (const [k, v] of windows) if (v.endsAt <= now) windows.delete(k);
        windows.set(key, (w = { n: 0, endsAt: now + windowMs }));
      }
      w.n++;
      return { allowed: w.n <= count, retryAfterMs: w.endsAt - now };
    },

    async friendsOf(userId) {
      return [...(friends.get(userId) ?? [])].sort();
    },

    async addFriends(userId, friendIds) {
      const fresh = friendIds.filter((f) => !friends.get(userId)?.has(f));
      const over = fresh.filter((f) => (friends.get(f)?.size ?? 0) + 1 > maxFriends);
      if ((friends.get(userId)?.size ?? 0) + fresh.length > maxFriends) over.unshift(userId);
      if (over.length) throw new FriendLimitError(`at most ${maxFriends} friends per user (${over.slice(0, 3).join(', ')} would pass it)`);
      const created: string[] = [];
      for (const f of friendIds) {
        if (!setOf(userId).has(f)) created.push(f);
        setOf(userId).add(f);
        setOf(f).add(userId);
      }
      // Every pair asked for, like the Redis engine (a retry repairs open subscriptions).
      await routeFriendship(userId, [...friendIds], 'added');
      return created.length;
    },

    async removeFriends(userId, friendIds) {
      const removed: string[] = [];
      for (const f of friendIds) {
        if (friends.get(userId)?.delete(f)) removed.push(f);
        friends.get(f)?.delete(userId);
      }
      await routeFriendship(userId, [...friendIds], 'removed');
      return removed.length;
    },

    async route(instanceId, viewerIds, held) {
      for (const v of viewerIds) toggle(routes, v, instanceId, held);
    },
    async watch(instanceId, userIds, held) {
      for (const u of userIds) toggle(watchers, u, instanceId, held);
    },
    async dropRoutes(instanceId) {
      for (const table of [routes, watchers]) for (const key of [...table.keys()]) toggle(table, key, instanceId, false);
    },

    async close() {
      await bus.close();
    },

    reportActivity: (userId, target, idleMs, ttlMs, nowMs) =>
      change(userId, nowMs, (own, sticky) => {
        const now = Date.now();
        const s = own.get(target.sessionId);
        // As PRESENCE 'activity': nothing changes while the idle moment is at least idleMs away.
        const fresh = s?.status === Status.ONLINE && s.idleAt !== undefined && s.idleAt >= now + idleMs;
        const idleAt = fresh ? s.idleAt! : now + idleMs + activitySlackMs(idleMs);
        if (s?.kind === 'socket') {
          if (!fresh) own.set(target.sessionId, { kind: 'socket', status: Status.ONLINE, owner: s.owner, idleAt });
        } else if (s || target.owner === null) {
          const alive = s?.kind === 'deadline' && s.expiresAt >= now + ttlMs;
          if (!(fresh && alive))
            own.set(target.sessionId, { kind: 'deadline', status: Status.ONLINE, expiresAt: now + ttlMs + activitySlackMs(ttlMs), idleAt });
        } else own.set(target.sessionId, { kind: 'socket', status: Status.ONLINE, owner: target.owner, idleAt });
        return sticky;
      }),

    async devices(userId, idleMs, nowMs) {
      const now = Date.now();
      const out: DeviceView[] = [];
      for (const [deviceId, s] of sessions.get(userId) ?? []) {
        if (s.kind === 'deadline' && s.expiresAt <= now) continue; // the next sweep removes it
        out.push({
          deviceId,
          status: deviceStatus(s, now),
          lastActiveAt: s.idleAt === undefined ? nowMs : Math.min(nowMs, s.idleAt - idleMs - activitySlackMs(idleMs)),
          transport: s.kind === 'socket' ? 'websocket' : 'http',
        });
      }
      return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    },
  };
}
