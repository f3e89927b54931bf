import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  applyEvents,
  backoffCeiling,
  createActivityThrottle,
  listenForActivity,
  clientDocuments,
  decodeJwtPayload,
  fullJitterDelay,
  isNewer,
  jitteredInterval,
  mergeSnapshot,
  refreshAt,
  tokenExpiresAt,
  type Presence,
} from '../../client/index.js';
import { createTokenSource } from '../../client/tokens.js';

const p = (userId: string, version: number, status: Presence['status'] = 'ONLINE'): Presence => ({
  userId,
  status,
  lastActiveAt: null,
  statusMessage: null,
  version,
});

describe('client backoff and jitter', () => {
  const opts = { baseMs: 50, capMs: 2_000 };

  it('the ceiling doubles from base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100, 5_000].map((n) => backoffCeiling(n, opts))).toEqual([
      50, 100, 200, 400, 800, 1_600, 2_000, 2_000, 2_000,
    ]);
    expect(backoffCeiling(0)).toBe(500); // the defaults: 500 ms, 30 s
    expect(backoffCeiling(20)).toBe(30_000);
  });

  it('every full-jitter delay is a whole number within [0, min(cap, base * 2^n)], over many samples', () => {
    for (let n = 0; n < 12; n++) {
      const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** n);
      const samples = Array.from({ length: 2_000 }, () => fullJitterDelay(n, opts));
      expect(samples.filter((d) => !Number.isInteger(d) || d < 0 || d > ceiling)).toEqual([]);
      // Full jitter spreads over the whole range: both ends are reached, the mean is near the middle.
      expect(Math.min(...samples)).toBeLessThan(ceiling * 0.05);
      expect(Math.max(...samples)).toBeGreaterThan(ceiling * 0.95);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(mean).toBeGreaterThan(ceiling * 0.4);
      expect(mean).toBeLessThan(ceiling * 0.6);
    }
  });

  it('the extremes of the random source map to the ends of the range', () => {
    expect(fullJitterDelay(3, opts, () => 0)).toBe(0);
    expect(fullJitterDelay(3, opts, () => 0.999999999)).toBe(400);
    expect(fullJitterDelay(30, opts, () => 0.999999999)).toBe(2_000);
  });

  it('rejects a negative or fractional attempt and negative bounds', () => {
    expect(() => backoffCeiling(-1, opts)).toThrow(TypeError);
    expect(() => backoffCeiling(1.5, opts)).toThrow(TypeError);
    expect(() => backoffCeiling(1, { baseMs: -1, capMs: 10 })).toThrow(TypeError);
  });

  it('heartbeat intervals spread over interval * [1 - spread, 1 + spread], never in step', () => {
    const samples = Array.from({ length: 5_000 }, () => jitteredInterval(20_000, 0.25));
    expect(samples.filter((d) => !Number.isInteger(d) || d < 15_000 || d > 25_000)).toEqual([]);
    expect(new Set(samples).size).toBeGreaterThan(1_000);
    expect(jitteredInterval(1_000, 0)).toBe(1_000);
    expect(() => jitteredInterval(1_000, 1.5)).toThrow(TypeError);
  });
});

describe('client version dedupe', () => {
  it('applies an event only when its version is above the last one seen for that user', () => {
    expect(isNewer(undefined, p('a', 0))).toBe(true);
    expect(isNewer(p('a', 5), p('a', 6))).toBe(true);
    expect(isNewer(p('a', 5), p('a', 5))).toBe(false);
    expect(isNewer(p('a', 5), p('a', 4))).toBe(false);

    const start = new Map([['a', p('a', 5)]]);
    const r = applyEvents(start, [p('a', 6, 'AWAY'), p('a', 6, 'AWAY'), p('b', 1), p('a', 4, 'BUSY'), p('b', 1), p('a', 7, 'BUSY')]);
    expect(r.updated.map((e) => [e.userId, e.version])).toEqual([
      ['a', 6],
      ['b', 1],
      ['a', 7],
    ]);
    expect(r.map.get('a')).toEqual(p('a', 7, 'BUSY'));
    expect(start.get('a')!.version).toBe(5); // copy on write: the old map is untouched
  });

  it('version 0 (unfriended, or hidden from the viewer) replaces what was known, once; later versions apply again', () => {
    const start = new Map([['a', p('a', 5, 'BUSY')]]);
    const r = applyEvents(start, [p('a', 0, 'OFFLINE'), p('a', 0, 'OFFLINE'), p('a', 3, 'ONLINE')]);
    expect(r.updated.map((e) => [e.version, e.status])).toEqual([
      [0, 'OFFLINE'],
      [3, 'ONLINE'],
    ]);
    expect(r.map.get('a')).toEqual(p('a', 3, 'ONLINE'));
  });

  it('a read taken before a live event cannot reset it with version 0; one with no live event since can', () => {
    const start = new Map([
      ['a', p('a', 5, 'BUSY')],
      ['b', p('b', 5, 'BUSY')],
    ]);
    const r = mergeSnapshot(start, [p('a', 0, 'OFFLINE'), p('b', 0, 'OFFLINE')], new Set(['a']));
    expect(r.map.get('a')).toEqual(p('a', 5, 'BUSY'));
    expect(r.map.get('b')).toEqual(p('b', 0, 'OFFLINE'));
  });

  it('returns the same map when nothing is newer', () => {
    const start = new Map([['a', p('a', 5)]]);
    const r = applyEvents(start, [p('a', 5), p('a', 2)]);
    expect(r.map).toBe(start);
    expect(r.updated).toEqual([]);
  });

  it('a snapshot merges by version and removes ended friendships, except those seen live since the read began', () => {
    const start = new Map([
      ['a', p('a', 9, 'BUSY')], // newer than the read: kept
      ['b', p('b', 1)], // older: replaced
      ['gone', p('gone', 3)], // no longer a friend: removed
      ['new', p('new', 2)], // arrived live after the server read the list: kept
    ]);
    const r = mergeSnapshot(start, [p('a', 8, 'AWAY'), p('b', 4, 'AWAY'), p('c', 0, 'OFFLINE')], new Set(['new']));
    expect([...r.map.values()].map((e) => [e.userId, e.version, e.status]).sort()).toEqual([
      ['a', 9, 'BUSY'],
      ['b', 4, 'AWAY'],
      ['c', 0, 'OFFLINE'],
      ['new', 2, 'ONLINE'],
    ]);
    expect(r.updated.map((e) => e.userId)).toEqual(['b', 'c']);
    expect(r.removed).toEqual(['gone']);
    // The same snapshot again changes nothing: a resync applies nothing twice.
    const again = mergeSnapshot(r.map, [p('a', 8, 'AWAY'), p('b', 4, 'AWAY'), p('c', 0, 'OFFLINE')], new Set(['new']));
    expect(again.map).toBe(r.map);
  });
});

describe('client tokens', () => {
  const jwt = (payload: object) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

  it('reads exp and sub from the payload without verifying, and null from anything else', () => {
    expect(decodeJwtPayload(jwt({ sub: 'ålice', exp: 1_700_000_000 }))).toEqual({ sub: 'ålice', exp: 1_700_000_000 });
    expect(tokenExpiresAt(jwt({ exp: 1_700_000_000 }))).toBe(1_700_000_000_000);
    expect(tokenExpiresAt(jwt({ sub: 'x' }))).toBeNull();
    for (const bad of ['', 'abc', 'a.!!!.c', `e30.${Buffer.from('[1]').toString('base64url')}.s`]) expect(decodeJwtPayload(bad)).toBeNull();
  });

  it('refreshes leadMs before exp, but not before half the time left, and never without exp', () => {
    expect(refreshAt(100_000, 0, 10_000)).toBe(90_000);
    expect(refreshAt(4_000, 0, 10_000)).toBe(2_000); // short-lived: halfway
    expect(refreshAt(1_000, 5_000, 10_000)).toBe(1_000); // already expired: due at once
    expect(refreshAt(null, 0, 10_000)).toBeNull();
  });
});

describe('client token source', () => {
  const jwt = (payload: object) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
  afterEach(() => void vi.useRealTimers());

  it('fetches the next token before exp, keeps it when the old one is refused, and asks again for a refused current one', async () => {
    vi.useFakeTimers({ now: 1_800_000_000_000 });
    let asked = 0;
    const errors: unknown[] = [];
    const source = createTokenSource({
      getToken: () => jwt({ exp: Math.floor(Date.now() / 1000) + 100, n: ++asked }),
      refreshLeadMs: 10_000,
      onError: (e) => errors.push(e),
    });
    const first = await source.current();
    expect(await source.current()).toBe(first);
    await vi.advanceTimersByTimeAsync(89_000);
    expect(asked).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000); // 10 s before exp: fetched in the background
    expect(asked).toBe(2);
    const second = await source.current();
    expect(second).not.toBe(first);
    source.invalidate(first); // the old socket's 4403: the fresh token stays
    expect(await source.current()).toBe(second);
    expect(asked).toBe(2);
    source.invalidate(second); // the fresh one refused too: ask again
    await source.current();
    expect(asked).toBe(3);
    source.close();
    await vi.advanceTimersByTimeAsync(200_000);
    expect(asked).toBe(3); // closed: no more background refreshes
    expect(errors).toEqual([]);
  });

  it('reports a failing getToken and rejects, and a fixed token is required without one', async () => {
    const errors: { code: string }[] = [];
    const source = createTokenSource({
      getToken: () => Promise.reject(new Error('offline')),
      refreshLeadMs: 1_000,
      onError: (e) => errors.push(e),
    });
    await expect(source.current()).rejects.toMatchObject({ code: 'TOKEN_REFRESH_FAILED' });
    expect(errors.map((e) => e.code)).toEqual(['TOKEN_REFRESH_FAILED']);
    expect(() => createTokenSource({ refreshLeadMs: 1_000, onError: () => {} })).toThrow(TypeError);
  });
});

describe('client documents', () => {
  it('every operation of the client validates against the printed schema', () => {
    const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));
    for (const doc of clientDocuments) {
      const ast = parse(doc.query);
      expect(validate(schema, ast), doc.operationName).toEqual([]);
      expect(ast.definitions.map((d) => ('name' in d ? d.name?.value : undefined))).toEqual([doc.operationName]);
    }
  });
});

describe('client activity reports', () => {
  it('sends the first activity after a quiet window at once and drops the rest of the window (5 s, up to 25 % longer)', () => {
    let now = 0;
    let sent = 0;
    let random = 0;
    const activity = createActivityThrottle(() => sent++, { throttleMs: 5_000, jitter: 0.25, random: () => random, now: () => now });
    for (const t of [0, 10, 1_000, 4_999]) {
      now = t;
      activity();
    }
    expect(sent).toBe(1);
    now = 5_000;
    random = 0.999;
    activity();
    expect(sent).toBe(2); // the window was exactly 5 s (random 0)
    now = 11_000;
    activity();
    expect(sent).toBe(2); // this window is ~6.25 s (random ~1)
    now = 11_250;
    activity();
    expect(sent).toBe(3);
  });

  it("listens to a page's input events, not to a tab hidden, until stopped", () => {
    const page = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    let calls = 0;
    const stop = listenForActivity(page, () => calls++);
    page.dispatchEvent(new Event('keydown'));
    page.dispatchEvent(new Event('pointermove'));
    expect(calls).toBe(2);
    page.visibilityState = 'hidden';
    page.dispatchEvent(new Event('visibilitychange'));
    expect(calls).toBe(2);
    page.visibilityState = 'visible';
    page.dispatchEvent(new Event('visibilitychange'));
    expect(calls).toBe(3);
    stop();
    page.dispatchEvent(new Event('keydown'));
    expect(calls).toBe(3);
  });
});
