import { describe, expect, it } from 'vitest';
import { decodeInbox, encodeInbox, type InboxMessage, type Malformed } from '../../src/engine/bus.js';

// The inbox wire format (src/engine/bus.ts): what one instance publishes and another decodes.
describe('the inbox wire format', () => {
  it('round-trips presence and friendship messages, byte for byte as specified', () => {
    const msg: InboxMessage = { kind: 'presence', changes: [{ userId: 'u', prev: 0, status: 4, t: 9, to: ['v'], watched: true }] };
    expect(encodeInbox(msg)).toBe('{"k":"p","c":[{"u":"u","p":0,"s":4,"t":9,"to":["v"],"w":1}]}');
    expect(decodeInbox(encodeInbox(msg))).toEqual({ message: msg });
    const friends: InboxMessage = { kind: 'friends', changes: [{ to: 'v', added: ['a'], removed: ['r'] }] };
    expect(decodeInbox(encodeInbox(friends))).toEqual({ message: friends });
  });

  it('carries hidden counts, self-only changes, settings and hidden-from lists', () => {
    const change = {
      userId: 'u',
      prev: 1 as const,
      status: 2 as const,
      t: 5,
      h: 3,
      self: 1 as const,
      x: { v: 2, nobody: true, message: { text: 'hi', emoji: null, expiresAt: 7 } },
      hiddenFrom: ['z'],
      to: ['v', 'u'],
      watched: true,
    };
    const msg: InboxMessage = { kind: 'presence', changes: [change] };
    expect(encodeInbox(msg)).toBe(
      '{"k":"p","c":[{"u":"u","p":1,"s":2,"t":5,"to":["v","u"],"w":1,"h":3,"o":1,"x":{"v":2,"n":1,"m":["hi",null,7]},"hf":["z"]}]}',
    );
    expect(decodeInbox(encodeInbox(msg))).toEqual({ message: msg });
  });

  it('refuses a malformed message and says why, never delivering part of it', () => {
    const refused: [string, Malformed][] = [
      ['', 'not-json'],
      ['{"k":"p"', 'not-json'],
      ['null', 'no-changes'],
      ['{"k":"p"}', 'no-changes'],
      ['{"k":"p","c":{}}', 'no-changes'],
      ['{"k":"p","c":[{"u":"u","p":9,"s":1,"t":1,"to":[]}]}', 'bad-presence-change'],
      ['{"k":"p","c":[{"u":"u","p":0,"s":1,"t":1,"to":[]},{"u":1}]}', 'bad-presence-change'],
      ['{"k":"p","c":[{"u":"u","p":0,"s":1,"t":1,"to":[],"x":{"m":["hi"]}}]}', 'bad-presence-change'],
      ['{"k":"p","c":[{"u":"u","p":0,"s":1,"t":1,"to":[],"hf":[1]}]}', 'bad-presence-change'],
      ['{"k":"f","c":[{"to":1,"a":[],"r":[]}]}', 'bad-friendship-change'],
      ['{"k":"x","c":[]}', 'unknown-kind'],
    ];
    for (const [raw, reason] of refused) expect(decodeInbox(raw), raw).toEqual({ malformed: reason });
  });
});
