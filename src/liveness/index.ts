import { randomUUID } from 'node:crypto';
import type { LivenessConfig } from '../config.js';
import type { HeldSession, InstanceRegistry, PresenceStore } from '../engine/ports.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { StatusCode } from '../domain/presence.js';

/** A socket session this instance holds: one connection of one device. */
export type SocketSession = HeldSession;

export interface Liveness {
  /** This instance's current id: the prefix of its connections' owners, its lease's member. */
  readonly instanceId: string;
  start(): Promise<void>;
  /** A socket connected: its user is present from now on. Throws SessionLimitError past the cap. */
  open(userId: string, sessionId: string, status: StatusCode | null): Promise<SocketSession>;
  /** The socket closed: the session lingers for the grace, then ends. Never throws. */
  close(session: SocketSession): Promise<void>;
  /** Sessions opened and not closed yet. */
  sessionCount(): number;
  /**
   * Hands every held session over with grace, stops timers and waits for pending updates. The
   * lease is simply not renewed: once it lapses a survivor takes over whatever was left.
   */
  stop(): Promise<void>;
  /** One sweep now (the timer's job; tests call it to avoid waiting). */
  tick(): Promise<void>;
}

/**
 * Keeps presence true to reality without per-user timers in this process (PRESENCE.md):
 * - Socket sessions are owned by this instance, which holds a short lease in Redis and renews it.
 *   If the lease lapses (kill -9, a lost node), a surviving instance claims it and ends the
 *   sessions the dead one held, counting the grace from the last moment it was known alive.
 * - HTTP sessions and grace periods are deadlines stored with the user's state; every instance
 *   sweeps the due ones, each user claimed atomically by one sweeper.
 * Every step is idempotent, so a repeated or concurrent sweep publishes each OFFLINE once.
 */
export interface LivenessHooks {
  /** The instance registered again under `next` after its lease was lost (realtime moves its inbox). */
  reclaimed?(previous: string, next: string): Promise<void>;
}

export function createLiveness(
  engine: PresenceStore & InstanceRegistry,
  cfg: LivenessConfig,
  logger: Logger,
  metrics: Metrics,
  hooks: LivenessHooks = {},
): Liveness {
  /** Changes when a lost lease forces a re-registration: old owners then belong to a dead id. */
  let instanceId = randomUUID();
  let connections = 0;
  const held = new Map<string, SocketSession>(); // by owner
  /** Sessions whose close failed (Redis down): retried every tick until they succeed. */
  const unclosed = new Map<string, SocketSession>();
  const pending = new Set<Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];
  let lastRetention = 0;
  /** Since when our own lease renewals succeed: we judge others only after a full lease of that. */
  let healthySince: number | null = null;
  let stopping = false;

  const track = <T>(p: Promise<T>) => {
    pending.add(p);
    void p.then(
      () => pending.delete(p),
      () => pending.delete(p),
    );
    return p;
  };
  const every = (ms: number, fn: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running || stopping) return;
      running = true;
      fn()
        .catch((err: Error) => logger.warn({ err: err.message }, 'liveness task failed'))
        .finally(() => (running = false));
    }, ms);
    t.unref();
    timers.push(t);
  };

  const renew = async () => {
    let ok: boolean;
    try {
      ok = await engine.renewLease(instanceId, cfg.leaseMs, false);
    } catch (err) {
      healthySince = null;
      throw err;
    }
    if (!ok) await reclaim();
    healthySince ??= Date.now();
  };

  /**
   * Our lease was taken over while we were frozen: a survivor ended (or is ending) the sessions
   * we held. Register under a new id and re-open each session we still hold under a new owner,
   * unless the device has meanwhile connected elsewhere.
   */
  const reclaim = async () => {
    const old = instanceId;
    instanceId = randomUUID();
    logger.warn({ previous: old, instanceId, sessions: held.size }, 'lease lost (instance was unresponsive); re-registering sessions');
    await engine.renewLease(instanceId, cfg.leaseMs, true);
    await hooks.reclaimed?.(old, instanceId).catch((err: Error) => logger.warn({ err: err.message }, 'could not move the routes'));
    // In the background: renewals go on meanwhile. Re-opening thousands of sessions can outlast a
    // lease; awaited here, it held up the renewals, the new lease lapsed too, a survivor took it
    // over and dropped its routes, and changes routed before the next move were lost (the soak
    // suite saw subscriptions on a thawed instance miss them).
    void track(reopenAll()).catch((err: Error) =>
      logger.warn({ err: err.message }, 'could not re-open every session; they end as the dead instance is taken over'),
    );
  };

  /** Re-opens, under the current id, every session this instance still holds. */
  const reopenAll = async () => {
    for (const s of [...held.values()]) {
      if (!held.has(s.owner)) continue; // closed meanwhile
      // The session object itself moves to the new owner: the socket holding it closes it later
      // by that reference, and a copy would leave the re-opened session with nobody to end it.
      const previous = s.owner;
      held.delete(previous);
      s.owner = `${instanceId}:${++connections}`;
      held.set(s.owner, s);
      await engine.trackSession(instanceId, s, true);
      await engine.reopenSession(s.userId, s.sessionId, previous, s.owner, s.activity ?? null, Date.now());
      // The socket closed while we were re-opening it: close the new owner's session too.
      if (!held.has(s.owner)) await closeNow(s);
    }
  };

  const takeOver = async () => {
    // After our own outage every lease looks expired: wait until we have been healthy for a
    // full lease, so live instances had the time to renew before we judge them dead.
    if (healthySince === null || Date.now() - healthySince < cfg.leaseMs) return;
    for (const dead of await engine.claimDeadInstances(instanceId, cfg.leaseMs, Math.max(cfg.leaseMs, 10_000))) {
      const sessions = await engine.sessionsOf(dead.id);
      const deadline = dead.lastAliveMs + cfg.graceMs;
      let offline = 0;
      for (const s of sessions) {
        const r = await engine.takeOverSession(s.userId, s.sessionId, s.owner, deadline, Date.now());
        if (r.changed) offline++;
      }
      await engine.forgetInstance(dead.id);
      metrics.takeovers.inc();
      metrics.takenOverSessions.inc(sessions.length);
      logger.info({ instanceId, dead: dead.id, sessions: sessions.length, offline }, 'took over a dead instance');
    }
  };

  const tick = async () => {
    const end = metrics.sweepDuration.startTimer();
    try {
      for (const s of [...unclosed.values()]) await closeNow(s);
      await takeOver();
      metrics.sweptUsers.inc(await engine.sweepDeadlines(Date.now()));
      if (Date.now() - lastRetention >= cfg.retentionScanMs) {
        lastRetention = Date.now();
        metrics.retained.inc(await engine.sweepRetention(Date.now() - cfg.retentionMs, cfg.retentionScanMs));
      }
      metrics.sweeps.inc();
    } catch (err) {
      metrics.sweepFailures.inc();
      throw err;
    } finally {
      end();
    }
  };

  /** Ends a held session with grace; on failure keeps it for the next tick. */
  async function closeNow(session: SocketSession) {
    try {
      await track(engine.closeSession(session.userId, session.sessionId, session.owner, cfg.graceMs, Date.now()));
      await track(engine.trackSession(instanceId, session, false));
      unclosed.delete(session.owner);
    } catch (err) {
      unclosed.set(session.owner, session);
      logger.warn({ err: (err as Error).message }, 'could not close a session; will retry');
    }
  }

  return {
    get instanceId() {
      return instanceId;
    },
    async start() {
      await engine.renewLease(instanceId, cfg.leaseMs, true);
      healthySince = Date.now();
      every(Math.max(50, Math.floor(cfg.leaseMs / 3)), renew);
      every(cfg.sweepIntervalMs, tick);
    },
    async open(userId, sessionId, status) {
      const session: SocketSession = { userId, sessionId, owner: `${instanceId}:${++connections}`, activity: status };
      held.set(session.owner, session);
      try {
        // Index first: if this instance dies between the two, takeover finds a session that does
        // not exist and does nothing; the other order could leave a session nobody would end.
        await track(engine.trackSession(instanceId, session, true));
        await track(engine.openSession(userId, sessionId, session.owner, status, Date.now()));
        return session;
      } catch (err) {
        // The open may have reached Redis before failing: end it rather than leave a ghost. In the
        // background: with Redis stalled that takes a command timeout, and the caller (a socket
        // waiting for its ack) should hear about the failure now.
        held.delete(session.owner);
        void track(closeNow(session));
        throw err;
      }
    },
    /** Idempotent: a socket closed during shutdown was already handed over by stop(). */
    async close(session) {
      if (!held.delete(session.owner)) return;
      await closeNow(session);
    },
    sessionCount: () => held.size,
    tick,
    async stop() {
      stopping = true;
      timers.forEach(clearInterval);
      // Sockets still open (a client slow to answer the close) are handed over now, with grace.
      const rest = [...held.values()];
      held.clear();
      await Promise.all(rest.map(closeNow));
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
