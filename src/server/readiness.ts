/**
 * Whether this instance can serve a request end to end now, answered in bounded time: it is not
 * draining, every Redis connection is up, and Redis takes a write. The write matters: a Redis out
 * of memory (or a demoted replica) still answers reads and PING but refuses every status change.
 * A probe that has not answered within `timeoutMs` counts as not ready, so a stalled Redis
 * (SIGSTOP, a long fork) reads as down at once instead of after the command timeout. At most one
 * probe is in flight; concurrent checks share it.
 */
export interface ReadinessDeps {
  draining(): boolean;
  /** False while any Redis connection is down (always true on the memory engine). */
  connected(): boolean;
  /** A small write to the store; null on the memory engine. */
  probe: (() => Promise<unknown>) | null;
  /** @default 500 // ms, READY_TIMEOUT_MS */
  timeoutMs: number;
}

export interface Readiness {
  /** Probes now (or joins the probe in flight); false after `timeoutMs` without an answer. `/ready`. */
  check(): Promise<boolean>;
  /**
   * The last known answer, at once, refreshed in the background when over a second old: what a
   * new socket consults so that it need not wait out a command timeout to hear that Redis is down.
   */
  usable(): boolean;
}

const REFRESH_MS = 1_000;

export function createReadiness(deps: ReadinessDeps): Readiness {
  let inFlight: Promise<boolean> | null = null;
  let last = { ok: true, at: 0 };
  const probe = () =>
    (inFlight ??= deps.probe!()
      .then(
        () => true,
        () => false,
      )
      .then((ok) => {
        last = { ok, at: Date.now() };
        inFlight = null;
        return ok;
      }));
  const check = async () => {
    if (deps.draining()) return false;
    if (!deps.probe) return true;
    if (!deps.connected()) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, deps.timeoutMs, false)));
    try {
      const ok = await Promise.race([probe(), late]);
      if (!ok) last = { ok, at: Date.now() };
      return ok;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    check,
    usable() {
      if (deps.draining()) return false;
      if (!deps.probe) return true;
      if (!deps.connected()) return false;
      if (Date.now() - last.at > REFRESH_MS) void check();
      return last.ok;
    },
  };
}
