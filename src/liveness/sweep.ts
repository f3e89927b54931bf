import type { LivenessConfig } from '../config.js';
import type { InstanceRegistry, PresenceStore } from '../engine/ports.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { createHeldSessions } from './held-sessions.js';

/** A dead instance's claim shields it from other survivors at least this long. @default 10_000 // 10 s */
const MIN_CLAIM_MS = 10_000;

interface SweepDeps {
  engine: PresenceStore & InstanceRegistry;
  cfg: LivenessConfig;
  logger: Logger;
  metrics: Metrics;
}

/**
 * One sweep of an instance (every PRESENCE_SWEEP_INTERVAL_MS): closes that failed are retried, dead
 * instances taken over (once `judge`: this instance has been healthy for a full lease), due
 * deadline sessions ended, and every PRESENCE_RETENTION_SCAN_MS long-offline records removed.
 */
export async function sweep(
  deps: SweepDeps & { sessions: Pick<ReturnType<typeof createHeldSessions>, 'retryClosing'> },
  state: { lastRetentionMs: number },
  self: string,
  judge: boolean,
): Promise<void> {
  const { engine, cfg, metrics } = deps;
  const end = metrics.sweepDuration.startTimer();
  try {
    await deps.sessions.retryClosing();
    if (judge) await takeOverDeadInstances(deps, self);
    metrics.sweptUsers.inc(await engine.sweepDeadlines(Date.now()));
    if (Date.now() - state.lastRetentionMs >= cfg.retentionScanMs) {
      state.lastRetentionMs = Date.now();
      metrics.retained.inc(await engine.sweepRetention(Date.now() - cfg.retentionMs, cfg.retentionScanMs));
    }
    metrics.sweeps.inc();
  } catch (err) {
    metrics.sweepFailures.inc();
    throw err;
  } finally {
    end();
  }
}

/**
 * Claims the instances whose lease lapsed and ends the socket sessions each held, counting the
 * grace from the last moment it was known alive, then forgets its bookkeeping (routes included).
 * Idempotent: a survivor that dies halfway leaves the claim to lapse and another to finish.
 */
async function takeOverDeadInstances(deps: SweepDeps, self: string): Promise<void> {
  const { engine, cfg, logger, metrics } = deps;
  for (const dead of await engine.claimDeadInstances(self, cfg.leaseMs, Math.max(cfg.leaseMs, MIN_CLAIM_MS))) {
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
    logger.info({ instanceId: self, dead: dead.id, sessions: sessions.length, offline }, 'took over a dead instance');
  }
}
