import { HiddenLimitError } from '../../domain/errors.js';
import type { SettingsStore } from '../ports.js';
import type { ApplyChange } from './apply-change.js';
import type { MemoryChangeRouter } from './change-router.js';
import type { MemoryState } from './state.js';

/** Status messages and privacy, changed with the record they affect (ApplyChange). */
export function createMemorySettingsStore(opts: { state: MemoryState; apply: ApplyChange; changes: MemoryChangeRouter }): SettingsStore {
  const { state, apply, changes } = opts;
  return {
    setMessage: (userId, message, nowMs) => apply(userId, nowMs, undefined, (s) => ({ ...s, message })),

    async setPrivacy(userId, { nobody, hide, unhide }, maxHidden, nowMs) {
      const set = state.hiddenFrom.get(userId) ?? new Set<string>();
      const after = new Set(set);
      for (const id of unhide) after.delete(id);
      for (const id of hide) after.add(id);
      if (after.size > maxHidden) throw new HiddenLimitError('hidden from too many users');
      const unhidden = unhide.filter((id) => set.has(id));
      const hidden = [...new Set(hide)].filter((id) => !set.has(id) || unhidden.includes(id));
      if (after.size) state.hiddenFrom.set(userId, after);
      else state.hiddenFrom.delete(userId);
      const result = await apply(userId, nowMs, undefined, (s) => ({ ...s, nobody: nobody ?? s.nobody, hides: after.size > 0 }));
      // What a friendship removal (hide) or addition (unhide) would tell each of them.
      await changes.friendship([
        ...unhidden.filter((id) => !after.has(id)).map((to) => ({ to, added: [userId], removed: [] })),
        ...hidden.map((to) => ({ to, added: [], removed: [userId] })),
      ]);
      return result;
    },

    async privacy(userId) {
      return { nobody: state.records.get(userId)?.x?.nobody ?? false, hiddenFrom: [...(state.hiddenFrom.get(userId) ?? [])].sort() };
    },
  };
}
