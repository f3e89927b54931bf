import type { SettingsStore } from '../ports.js';
import { batch, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';
import type { PresenceRunner } from './presence-runner.js';
import { NOBODY, SettingsField } from './scripts.js';

/** Status messages and privacy: changed by PRESENCE with the record they affect, read from the settings hash. */
export function createRedisSettingsStore(opts: { client: RedisClient; keys: RedisKeys; runner: PresenceRunner }): SettingsStore {
  const { client, keys, runner } = opts;
  return {
    setMessage: (userId, message, nowMs) =>
      runner.run('message', userId, nowMs, {
        text: message?.text ?? '',
        emoji: message?.emoji ?? '',
        expiresAt: message?.expiresAt === null || !message ? '' : Math.floor(message.expiresAt),
      }),

    setPrivacy: (userId, change, maxHidden, nowMs) =>
      runner.run('privacy', userId, nowMs, { lastActive: change.nobody === undefined ? '' : change.nobody ? NOBODY : 'F', maxHidden }, [
        change.hide.length,
        ...change.hide,
        change.unhide.length,
        ...change.unhide,
      ]),

    async privacy(userId) {
      const [p, hidden] = (await batch(client, [
        ['hget', keys.settings(userId), SettingsField.lastActive],
        ['smembers', keys.hiddenFrom(userId)],
      ])) as [string | null, string[]];
      return { nobody: p === NOBODY, hiddenFrom: hidden.sort() };
    },
  };
}
