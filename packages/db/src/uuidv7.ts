import { randomUUID } from 'node:crypto';

let lastMs = 0;
let seq = 0;

/**
 * RFC 9562 UUIDv7 (48-bit ms timestamp, version 7, variant 10), the same kind of id Prisma's
 * `uuid(7)` default makes, for rows inserted with raw SQL. A 12-bit counter in rand_a keeps ids
 * made within one millisecond in creation order (cursor paging sorts by id).
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    seq += 1;
    if (seq > 0xfff) {
      lastMs += 1;
      seq = 0;
    }
  } else {
    lastMs = now;
    seq = 0;
  }
  // The random 62 bits (variant 10 included) from randomUUID, which draws on a cached entropy
  // pool instead of a randomBytes call per id (a few % of the API's CPU per submit).
  const hex = lastMs.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${seq.toString(16).padStart(3, '0')}-${randomUUID().slice(19)}`;
}
