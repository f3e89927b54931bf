import { badInput } from './errors.js';

// C0 and C1 control characters plus DEL: they break logs and terminals and are never part of a real id.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws BAD_USER_INPUT unless `id` is a usable user or device id. */
export function assertId(id: string, maxLength: number, what = 'id'): void {
  if (id.length === 0) throw badInput(`${what} must not be empty`);
  if (id.length > maxLength) throw badInput(`${what} is longer than ${maxLength} characters`);
  if (CONTROL.test(id)) throw badInput(`${what} contains control characters`);
}

/** Validates a list of ids against the per-request maximum and the per-id rules. */
export function assertIds(ids: readonly string[], maxIds: number, maxLength: number): void {
  if (ids.length > maxIds) throw badInput(`at most ${maxIds} ids per request, got ${ids.length}`);
  for (const id of ids) assertId(id, maxLength);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The hash field a user is stored under. Canonical lowercase UUIDs pack to their 16 raw bytes
 * (36 -> 16 bytes per user, the largest single saving in the layout); any other id is stored as its
 * UTF-8 bytes. So that the two can never collide, a raw id that is exactly 16 bytes long or starts
 * with "~" gets a "~" in front. Ids are case-sensitive: an uppercase UUID is a different, raw id.
 */
export function packId(id: string): Buffer {
  if (UUID.test(id)) return Buffer.from(id.replaceAll('-', ''), 'hex');
  const raw = Buffer.from(id, 'utf8');
  return raw.length === 16 || raw[0] === 0x7e ? Buffer.concat([TILDE, raw]) : raw;
}
const TILDE = Buffer.from('~');

/** Inverse of packId (used by the retention sweep and tools that list stored users). */
export function unpackId(field: Buffer): string {
  if (field.length === 16) {
    const h = field.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return (field[0] === 0x7e ? field.subarray(1) : field).toString('utf8');
}

/** FNV-1a over the packed id: cheap, stable across processes and languages, well spread. */
export function bucketOf(field: Buffer, buckets: number): number {
  let h = 0x811c9dc5;
  for (const byte of field) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}
