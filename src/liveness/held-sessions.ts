import type { LivenessConfig } from '../config.js';
import type { StatusCode } from '../domain/presence.js';
import type { HeldSession, InstanceRegistry, PresenceStore } from '../engine/ports.js';
import type { Logger } from '../infra/logger.js';

/** A socket session this instance holds: one connection of one device. */
export type SocketSession = HeldSession;

/**
 * The socket sessions this instance holds, by owner (one connection: `<instanceId>:<n>`): opened,
 * closed with grace, retried when a close failed, re-opened under a new id after a lost lease, and
 * handed over at shutdown. Each is indexed in the instance registry for takeover.
 */
export function createHeldSessions(deps: {
  engine: PresenceStore & InstanceRegistry;
  cfg: LivenessConfig;
  logger: Logger;
  /** The instance's current id (it changes after a lost lease). */
  instanceId(): string;
}) {
  const { engine, cfg, logger } = deps;
  let connections = 0;
  const held = new Map<string, SocketSession>(); // by owner
  /** Sessions whose close failed (Redis down): retried every tick until they succeed. */
  const unclosed = new Map<string, SocketSession>();
  const pending = new Set<Promise<unknown>>();
  const nextOwner = () => `${deps.instanceId()}:${++connections}`;

  const track = <T>(p: Promise<T>) => {
    pending.add(p);
    void p.then(
      () => pending.delete(p),
      () => pending.delete(p),
    );
    return p;
  };

  /** Ends a held session with grace; on failure keeps it for the next tick. */
  const closeNow = async (session: SocketSession) => {
    try {
      await track(engine.closeSession(session.userId, session.sessionId, session.owner, cfg.graceMs, Date.now()));
      await track(engine.trackSession(deps.instanceId(), session, false));
      unclosed.delete(session.owner);
    } catch (err) {
      unclosed.set(session.owner, session);
      logger.warn({ err: (err as Error).message }, 'could not close a session; will retry');
    }
  };

  return {
    /** Work to wait for before the process may exit. */
    track,
    count: () => held.size,

    async open(userId: string, sessionId: string, status: StatusCode | null): Promise<SocketSession> {
      const session: SocketSession = { userId, sessionId, owner: nextOwner(), activity: status };
      held.set(session.owner, session);
      try {
        // Index first: if this instance dies between the two, takeover finds a session that does
        // not exist and does nothing; the other order could leave a session nobody would end.
        await track(engine.trackSession(deps.instanceId(), session, true));
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

    /** Idempotent: a socket closed during shutdown was already handed over by handOverAll(). */
    async close(session: SocketSession) {
      if (!held.delete(session.owner)) return;
      await closeNow(session);
    },

    async retryClosing() {
      for (const s of [...unclosed.values()]) await closeNow(s);
    },

    /** Re-opens, under the current id, every session this instance still holds. */
    async reopenAll() {
      for (const s of [...held.values()]) {
        if (!held.has(s.owner)) continue; // closed meanwhile
        // The session object itself moves to the new owner: the socket holding it closes it later
        // by that reference, and a copy would leave the re-opened session with nobody to end it.
        const previous = s.owner;
        held.delete(previous);
        s.owner = nextOwner();
        held.set(s.owner, s);
        await engine.trackSession(deps.instanceId(), s, true);
        await engine.reopenSession(s.userId, s.sessionId, previous, s.owner, s.activity ?? null, Date.now());
        // The socket closed while we were re-opening it: close the new owner's session too.
        if (!held.has(s.owner)) await closeNow(s);
      }
    },

    /** Sockets still open (a client slow to answer the close) are handed over now, with grace. */
    async handOverAll() {
      const rest = [...held.values()];
      held.clear();
      await Promise.all(rest.map(closeNow));
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
