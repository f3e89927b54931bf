/**
 * What `/ready` answers, in bounded time. Ready means this instance can serve a request end to end
 * now: it is not draining, every Redis connection is up, and Redis takes a write. The write
 * matters: a Redis out of memory (or a demoted replica) still answers reads and PING but refuses
 * every status change. A probe that has not answered within `timeoutMs` counts as not ready, so a
 * stalled Redis (SIGSTOP, a long fork) gets a 503 at once instead of a health check that hangs for
 * the command timeout. At most one probe is in flight; concurrent checks share it.
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

export function createReadiness(deps: ReadinessDeps): () => Promise<boolean> {
  let inFlight: Promise<boolean> | null = null;
  const probe = () =>
    (inFlight ??= deps.probe!().then(
      () => true,
      () => false,
    ).finally(() => (inFlight = null)));
  return async () => {
    if (deps.draining()) return false;
    if (!deps.probe) return true;
    if (!deps.connected()) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, deps.timeoutMs, false)));
    try {
      return await Promise.race([probe(), late]);
    } finally {
      clearTimeout(timer);
    }
  };
}
