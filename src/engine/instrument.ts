import type { Metrics } from '../infra/metrics.js';
import type { ChangeResult, PresenceEngine } from './ports.js';

/** Operations whose result says whether a change was published. */
const changing = new Set(['setStatus', 'openSession', 'closeSession', 'takeOverSession', 'heartbeat', 'reportActivity']);

/**
 * The engine with every operation timed and its failures counted, and each published change
 * counted, without either engine knowing about metrics.
 */
export function instrument<E extends PresenceEngine>(engine: E, metrics: Metrics): E {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      return async (...args: unknown[]) => {
        const end = metrics.engineDuration.startTimer({ operation: prop });
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (changing.has(prop) && (result as ChangeResult).changed) metrics.published.inc();
          return result;
        } catch (err) {
          metrics.engineErrors.inc({ operation: prop });
          throw err;
        } finally {
          end();
        }
      };
    },
  });
}
