/**
 * Activity for automatic away: input events say a person is at the device, and the client tells
 * the server (`reportActivity`), at most once per throttle window, so the server can turn the
 * device AWAY on its own once they stop. Pure pieces, so tests can drive them without a browser.
 */

/** Input events that mean a person is using the page. */
export const ACTIVITY_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart', 'visibilitychange'] as const;

export type EventSource = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

export interface ActivityThrottleOptions {
  /** At most one report per this long. @default 5_000 // 5 s */
  throttleMs: number;
  /** Each window is lengthened by up to this fraction at random, so tabs opened together drift apart. @default 0.25 */
  jitter: number;
  random: () => number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * A leading-edge throttle: the first activity after a quiet window is sent at once, the rest of the
 * window is dropped (the server needs to know the person is there, not how often they type), and
 * the next window starts then, throttleMs * (1 + random * jitter) long.
 */
export function createActivityThrottle(send: () => void, opts: ActivityThrottleOptions): () => void {
  const now = opts.now ?? Date.now;
  let nextAt = -Infinity;
  return () => {
    const t = now();
    if (t < nextAt) return;
    nextAt = t + opts.throttleMs * (1 + opts.random() * opts.jitter);
    send();
  };
}

/** Calls `onActivity` on each input event of `target` (a page's document); returns the function that stops it. */
export function listenForActivity(target: EventSource, onActivity: () => void): () => void {
  const listener = (event: Event) => {
    // A tab coming back into view counts; one going out of view does not.
    if (event.type === 'visibilitychange' && (target as { visibilityState?: string }).visibilityState !== 'visible') return;
    onActivity();
  };
  const options = { capture: true, passive: true };
  for (const type of ACTIVITY_EVENTS) target.addEventListener(type, listener, options);
  return () => {
    for (const type of ACTIVITY_EVENTS) target.removeEventListener(type, listener, options);
  };
}
