import { randomUUID } from 'node:crypto';
import type { LivenessConfig } from '../config.js';
import type { InstanceRegistry, PresenceStore } from '../engine/ports.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { StatusCode } from '../domain/presence.js';
import { createHeldSessions, type SocketSession } from './held-sessions.js';
import { sweep } from './sweep.js';

export type { SocketSession } from './held-sessions.js';

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
  const sessions = createHeldSessions({ engine, cfg, logger, instanceId: () => instanceId });
  const timers: NodeJS.Timeout[] = [];
  /** Since when our own lease renewals succeed: we judge others only after a full lease of that. */
  let healthySince: number | null = null;
  let stopping = false;
  const every = (ms: number, fn: () => Promise<unknown>) =>
    timers.push(
      repeat(
        ms,
        () => (stopping ? Promise.resolve() : fn()),
        (err) => logger.warn({ err: err.message }, 'liveness task failed'),
      ),
    );

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
    logger.warn(
      { previous: old, instanceId, sessions: sessions.count() },
      'lease lost (instance was unresponsive); re-registering sessions',
    );
    await engine.renewLease(instanceId, cfg.leaseMs, true);
    await hooks.reclaimed?.(old, instanceId).catch((err: Error) => logger.warn({ err: err.message }, 'could not move the routes'));
    // In the background: renewals go on meanwhile. Re-opening thousands of sessions can outlast a
    // lease; awaited here, it held up the renewals, the new lease lapsed too, a survivor took it
    // over and dropped its routes, and changes routed before the next move were lost (the soak
    // suite saw subscriptions on a thawed instance miss them).
    void sessions
      .track(sessions.reopenAll())
      .catch((err: Error) =>
        logger.warn({ err: err.message }, 'could not re-open every session; they end as the dead instance is taken over'),
      );
  };

  const sweepState = { lastRetentionMs: 0 };
  // After our own outage every lease looks expired: we judge others only once we have been healthy
  // for a full lease, so live instances had the time to renew.
  const tick = () =>
    sweep(
      { engine, cfg, logger, metrics, sessions },
      sweepState,
      instanceId,
      healthySince !== null && Date.now() - healthySince >= cfg.leaseMs,
    );

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
    open: (userId, sessionId, status) => sessions.open(userId, sessionId, status),
    close: (session) => sessions.close(session),
    sessionCount: () => sessions.count(),
    tick,
    async stop() {
      stopping = true;
      timers.forEach(clearInterval);
      await sessions.handOverAll();
    },
  };
}

/** Runs `fn` every `ms`, one run at a time (a run still going skips the tick); never keeps the process alive. */
function repeat(ms: number, fn: () => Promise<unknown>, onError: (err: Error) => void): NodeJS.Timeout {
  let running = false;
  const t = setInterval(() => {
    if (running) return;
    running = true;
    fn()
      .catch(onError)
      .finally(() => (running = false));
  }, ms);
  t.unref();
  return t;
}
