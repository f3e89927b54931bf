/** setTimeout's longest delay (~24.8 days); a longer one overflows and fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `fn` once the clock reaches `deadlineMs`, however far ahead: a deadline beyond one timer's
 * reach is approached in steps, each re-armed with what is left. Never keeps the process alive.
 */
export function at(deadlineMs: number, fn: () => void): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = deadlineMs - Date.now();
    timer = setTimeout(left > MAX_TIMER_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
