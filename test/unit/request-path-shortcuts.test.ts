import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContext, type Services } from '../../src/schema/context.js';
import { packId, unpackId } from '../../src/domain/ids.js';
import { isoString } from '../../src/schema/builder.js';

// Issue 11: the request path's shortcuts must answer exactly what the plain code answered.
describe('hot path', () => {
  it('packs UUIDs exactly like the reference regex + hex decoding, and leaves every near-miss raw', () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const reference = (id: string) => (UUID.test(id) ? Buffer.from(id.replaceAll('-', ''), 'hex') : null);
    const chars = '0123456789abcdefABCDEF-g~é\u0100';
    for (let k = 0; k < 20_000; k++) {
      let id: string = randomUUID();
      const r = k % 5;
      const p = (k * 7) % 36;
      if (r === 1) id = id.slice(0, p) + chars[k % chars.length] + id.slice(p + 1);
      else if (r === 2) id = id.slice(0, 35);
      else if (r === 3) id = `${id}a`;
      else if (r === 4) id = id.replaceAll('-', chars[k % chars.length]!);
      const want = reference(id);
      const got = packId(id);
      if (want) expect(got.equals(want), id).toBe(true);
      else expect(got.length, id).not.toBe(16);
      expect(unpackId(got)).toBe(id);
    }
  });

  it('formats DateTime like toISOString, also for instants that share a cache slot', () => {
    const base = Date.UTC(2026, 0, 31, 12, 0, 0, 0);
    for (const ms of [base, base + 1_024, base + 2_048, base, 0, -1, 8.64e15, base + 1_024, 1_700_000_000_123]) {
      expect(isoString(ms)).toBe(new Date(ms).toISOString());
    }
    expect(() => isoString(NaN)).toThrow(RangeError);
    expect(() => isoString(8.64e15 + 1)).toThrow(RangeError);
  });
});

describe('the per-request presence loader', () => {
  const record = (id: string) => ({ record: null, friend: id.startsWith('f') });
  const fakeEngine = (fail?: (ids: readonly string[]) => boolean) => {
    const calls: string[][] = [];
    const engine = {
      load: async (_viewer: string | null, ids: readonly string[]) => {
        calls.push([...ids]);
        if (fail?.(ids)) throw new Error('redis down');
        return ids.map(record);
      },
    };
    const services = { config: loadConfig({}), engine, metrics: {}, watch: {} } as unknown as Services;
    return { calls, ctx: createContext(services, { userId: 'me', service: false, exp: null }) };
  };

  it('reads every id asked for in one tick with one engine.load, each id once, answers in order', async () => {
    const { calls, ctx } = fakeEngine();
    const [a, b, c] = await Promise.all([ctx.presence.loadMany(['f1', 'x', 'f1']), ctx.presence.load('x'), ctx.presence.loadMany(['y'])]);
    expect(calls).toEqual([['f1', 'x', 'y']]);
    expect(a).toEqual([record('f1'), record('x'), record('f1')]);
    expect(b).toEqual(record('x'));
    expect(c).toEqual([record('y')]);
    // Known ids are not read again; ids read while a batch is in flight wait for it.
    const pending = ctx.presence.loadMany(['z']);
    const again = ctx.presence.loadMany(['z', 'f1']);
    expect(await again).toEqual([record('z'), record('f1')]);
    expect(await pending).toEqual([record('z')]);
    expect(calls).toEqual([['f1', 'x', 'y'], ['z']]);
  });

  it('fails the loads that waited for a failed read, and reads those ids again when asked again', async () => {
    let down = true;
    const { calls, ctx } = fakeEngine(() => down);
    const answers = await ctx.presence.loadMany(['a', 'b']);
    expect(answers.map((a) => (a instanceof Error ? a.message : a))).toEqual(['redis down', 'redis down']);
    await expect(ctx.presence.load('a')).rejects.toThrow('redis down');
    down = false;
    expect(await ctx.presence.load('a')).toEqual(record('a'));
    expect(calls).toEqual([['a', 'b'], ['a'], ['a']]);
  });
});
