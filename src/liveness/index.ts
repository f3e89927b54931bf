import { randomUUID } from 'node:crypto';
import type { LivenessConfig } from '../config.js';
import type { ChangeResult, PresenceEngine } from '../engine/types.js';
import type { Logger } from '../logger.js';
import type { StatusCode } from '../presence.js';

/** A socket session this instance holds. */
export interface SocketSession {
  userId: string;
  sessionId: string;
}

export interface Liveness {
  /** This instance's id: the owner of its socket sessions and the member of the lease registry. */
  readonly instanceId: string;
  start(): Promise<void>;
  /** A socket connected: its user is present from now on. */
  open(userId: string, sessionId: string, status: StatusCode | null): Promise<SocketSession>;
  /** The socket closed: the session lingers for the grace, then ends. */
  close(session: SocketSession): Promise<void>;
  /** Sessions opened and not closed yet. */
  sessionCount(): number;
  /**
   * Stops timers and waits for pending session updates. The lease is simply not renewed: once it
   * lapses a survivor takes over whatever this instance failed to close (normally nothing).
   */
  stop(): Promise<void>;
  /** One sweep now (tests and the timer). */
  tick(): Promise<void>;
}

/**
 * Keeps presence true to reality without per-user timers in this process:
 * - Socket sessions are owned by this instance, which holds a short lease in Redis and renews it.
 *   If the lease lapses (kill -9, a lost node), a surviving instance claims it and ends the
 *   sessions the dead one held, counting the grace from the last moment it was known alive.
 * - HTTP sessions and grace periods are deadlines stored with the user's state; every instance
 *   sweeps the due ones, each user claimed atomically by one sweeper.
 * Every step is idempotent, so a repeated or concurrent sweep publishes each OFFLINE once.
 */
export function createLiveness(engine: PresenceEngine, cfg: LivenessConfig, logger: Logger): Liveness {
  const instanceId = randomUUID();
  const held = new Map<string, SocketSession>();
  const key = (s: SocketSession) => `${s.userId}\u0000${s.sessionId}`;
  const pending = new Set<Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];
  let lastRetention = 0;
  let stopping = false;

  const track = <T>(p: Promise<T>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => {});
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

  /** Re-opens every session this instance holds: after its lease was lost while it was frozen. */
  const reclaim = async () => {
    logger.warn({ instanceId, sessions: held.size }, 'lease lost (instance was unresponsive); re-registering sessions');
    await engine.renewLease(instanceId, cfg.leaseMs, true);
    for (const s of held.values()) {
      await engine.trackSession(instanceId, s.userId, s.sessionId, true);
      await engine.openSession(s.userId, s.sessionId, instanceId, null, Date.now());
    }
  };

  const takeOver = async () => {
    for (const dead of await engine.claimDeadInstances(cfg.leaseMs, Math.max(cfg.leaseMs, 10_000))) {
      const sessions = await engine.sessionsOf(dead.id);
      const deadline = dead.lastAliveMs + cfg.graceMs;
      let offline = 0;
      for (const s of sessions) {
        const r: ChangeResult = await engine.takeOverSession(s.userId, s.sessionId, dead.id, deadline, Date.now());
        if (r.changed) offline++;
      }
      await engine.forgetInstance(dead.id);
      logger.info({ instanceId, dead: dead.id, sessions: sessions.length, offline }, 'took over a dead instance');
    }
  };

  const tick = async () => {
    await takeOver();
    await engine.sweepDeadlines(Date.now());
    if (Date.now() - lastRetention >= cfg.retentionScanMs) {
      lastRetention = Date.now();
      await engine.sweepRetention(Date.now() - cfg.retentionMs, cfg.retentionScanMs);
    }
  };

  /** Idempotent: a socket closed during shutdown was already handed over by stop(). */
  async function closeSession(session: SocketSession) {
    if (!held.delete(key(session))) return;
    await track(engine.closeSession(session.userId, session.sessionId, instanceId, cfg.graceMs, Date.now()));
    await track(engine.trackSession(instanceId, session.userId, session.sessionId, false));
  }

  return {
    instanceId,
    async start() {
      await engine.renewLease(instanceId, cfg.leaseMs, true);
      every(Math.max(50, Math.floor(cfg.leaseMs / 3)), async () => {
        if (!(await engine.renewLease(instanceId, cfg.leaseMs, false))) await reclaim();
      });
      every(cfg.sweepIntervalMs, tick);
    },
    async open(userId, sessionId, status) {
      const session = { userId, sessionId };
      held.set(key(session), session);
      // Index first: if this instance dies between the two, takeover finds a session that does
      // not exist and does nothing; the other order could leave a session nobody would end.
      await track(engine.trackSession(instanceId, userId, sessionId, true));
      await track(engine.openSession(userId, sessionId, instanceId, status, Date.now()));
      return session;
    },
    close: closeSession,
    sessionCount: () => held.size,
    tick,
    async stop() {
      stopping = true;
      timers.forEach(clearInterval);
      // Sockets still open (a client slow to answer the close) are handed over now, with grace.
      await Promise.allSettled([...held.values()].map(closeSession));
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
