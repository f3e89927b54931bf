import { describe, expect, it } from 'vitest';
import { bucketOf, packId, unpackId } from '../../src/domain/ids.js';

describe('id packing', () => {
  it('packs canonical UUIDs to 16 bytes and round-trips every kind of id', () => {
    const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(packId(uuid)).toHaveLength(16);
    for (const id of [uuid, 'alice', 'ABCDEFGH-ÄÖÜ', '0F8FAD5B-D9CB-469F-A165-70867728950E', 'exactly16bytes!!', '~tilde', '~']) {
      expect(unpackId(packId(id))).toBe(id);
    }
  });

  it('never maps two ids to one field', () => {
    // A 16-byte raw id and the UUID with the same bytes must differ.
    const raw = 'abcdefghijklmnop';
    const twin = Buffer.from(raw)
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    expect(packId(raw).equals(packId(twin))).toBe(false);
    expect(packId('~x').equals(packId('x'))).toBe(false);
  });

  it('keeps a 15-byte id starting with ~ apart from the UUID of the same bytes, and round-trips it', () => {
    // Issue 12, defect 4: "~" + "~aaaaaaaaaaaaaa" was exactly the 16 bytes of this UUID.
    const tilde = '~aaaaaaaaaaaaaa';
    const uuid = '7e7e6161-6161-6161-6161-616161616161';
    expect(Buffer.byteLength(tilde)).toBe(15);
    expect(packId(tilde).equals(packId(uuid))).toBe(false);
    expect(packId(tilde)).not.toHaveLength(16);
    for (const id of [tilde, '~'.repeat(15), '~ééééééé', '~'.repeat(16), '~'.repeat(14), 'x'.repeat(15), '~aaaaaaaaaaaaa\u00ff']) {
      expect(unpackId(packId(id))).toBe(id);
      if (!/^[0-9a-f]{8}-/.test(id)) expect(packId(id)).not.toHaveLength(16);
    }
  });

  it('is injective around the 16-byte boundary where the escaping rules switch', () => {
    // Heads made of "~" and "a", then every 3-character tail over "~", "a", a 2-byte and a 4-byte
    // character: ids of 9 to 25 bytes, starting with "~" or not, and the UUIDs with the same bytes.
    const alphabet = ['~', 'a', 'é', '😀'];
    const tails = alphabet.flatMap((x) => alphabet.flatMap((y) => alphabet.map((z) => x + y + z)));
    const heads = [6, 9, 10, 11, 12, 13].flatMap((n) => ['a'.repeat(n), '~' + 'a'.repeat(n - 1), '~~' + 'a'.repeat(n - 2)]);
    const ids = new Set(heads.flatMap((h) => tails.map((t) => h + t)));
    for (const id of [...ids]) {
      const bytes = Buffer.from(id);
      if (bytes.length === 16) ids.add(bytes.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'));
    }
    const owners = new Map<string, string>();
    for (const id of ids) {
      const field = packId(id).toString('hex');
      expect(owners.get(field) ?? id).toBe(id);
      owners.set(field, id);
      expect(unpackId(packId(id))).toBe(id);
    }
    expect(owners.size).toBe(ids.size);
    expect(ids.size).toBeGreaterThan(1000);
  });

  it('spreads ids over buckets', () => {
    const used = new Set(Array.from({ length: 5000 }, (_, i) => bucketOf(packId(`user-${i}`), 1024)));
    expect(used.size).toBeGreaterThan(900);
  });
});
