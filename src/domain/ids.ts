import { badInput } from './errors.js';

// C0 and C1 control characters plus DEL: they break logs and terminals and are never part of a real id.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A lone surrogate (not half of a pair): with the `u` flag a proper pair is one code point and does
// not match. UTF-8 has no encoding for it (Buffer and ioredis write U+FFFD instead), so two such ids
// would share one record, one session hash and one friend set.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Whether `s` holds a lone surrogate: text Redis would store as U+FFFD (ids, status messages). */
export const hasLoneSurrogate = (s: string) => LONE_SURROGATE.test(s);

/** Throws BAD_USER_INPUT unless `id` is a usable user or device id. */
export function assertId(id: string, maxLength: number, what = 'id'): void {
  if (id.length === 0) throw badInput(`${what} must not be empty`);
  if (id.length > maxLength) throw badInput(`${what} is longer than ${maxLength} characters`);
  if (CONTROL.test(id)) throw badInput(`${what} contains control characters`);
  if (LONE_SURROGATE.test(id)) throw badInput(`${what} is not well-formed Unicode (a lone surrogate)`);
}

/** Validates a list of ids against the per-request maximum and the per-id rules. */
export function assertIds(ids: readonly string[], maxIds: number, maxLength: number): void {
  if (ids.length > maxIds) throw badInput(`at most ${maxIds} ids per request, got ${ids.length}`);
  for (const id of ids) assertId(id, maxLength);
}

/** The value of a lowercase hex digit by char code, -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 16; c++) HEX['0123456789abcdef'.charCodeAt(c)] = c;
const hex = (code: number) => (code < 128 ? HEX[code]! : -1);

/**
 * The 16 bytes of a canonical lowercase UUID (8-4-4-4-12 hex digits), null for any other id. One
 * pass over the characters: packId runs for every id of every read (100 per presence(ids)).
 */
function packUuid(id: string): Buffer | null {
  if (id.length !== 36) return null;
  const out = Buffer.allocUnsafe(16);
  let i = 0;
  for (let byte = 0; byte < 16; byte++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== DASH) return null;
      i++;
    }
    const hi = hex(id.charCodeAt(i));
    const lo = hex(id.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return null;
    out[byte] = (hi << 4) | lo;
    i += 2;
  }
  return out;
}
const DASH = 0x2d;

/**
 * The hash field a user is stored under. Canonical lowercase UUIDs pack to their 16 raw bytes
 * (36 -> 16 bytes per user, the largest single saving in the layout); any other id is stored as its
 * UTF-8 bytes. So that the two can never collide, no other id may pack to exactly 16 bytes:
 * - a raw id that is exactly 16 bytes long or starts with "~" gets a "~" in front;
 * - when that makes it 16 bytes (a 15-byte id starting with "~"), a 0xFF byte is added at the end
 *   (0xFF never occurs in UTF-8, so it cannot be part of an id).
 * unpackId inverts this, so the packing is injective on every id assertId accepts (well-formed
 * Unicode: a lone surrogate has no UTF-8 form). Ids are case-sensitive: an uppercase UUID is a
 * different, raw id.
 */
export function packId(id: string): Buffer {
  const uuid = packUuid(id);
  if (uuid) return uuid;
  const raw = Buffer.from(id, 'utf8');
  if (raw.length !== 16 && raw[0] !== TILDE_BYTE) return raw;
  return raw.length === 15 ? Buffer.concat([TILDE, raw, PAD]) : Buffer.concat([TILDE, raw]);
}
const TILDE_BYTE = 0x7e;
const TILDE = Buffer.from([TILDE_BYTE]);
/** Never part of UTF-8: marks the one form that would otherwise be 16 bytes long. */
const PAD = Buffer.from([0xff]);

/** Inverse of packId (used by the retention sweep and tools that list stored users). */
export function unpackId(field: Buffer): string {
  if (field.length === 16) {
    const h = field.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (field[0] !== TILDE_BYTE) return field.toString('utf8');
  return field.subarray(1, field.at(-1) === PAD[0] ? -1 : undefined).toString('utf8');
}

/** FNV-1a over the packed id: cheap, stable across processes and languages, well spread. */
export function bucketOf(field: Buffer, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < field.length; i++) {
    h ^= field[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}
