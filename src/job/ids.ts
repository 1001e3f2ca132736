// Ids of jobs and audit entries are UUIDv7: random enough to be unguessable, and ordered by
// creation time, so listing jobs newest first needs no read of each job.
import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids, drawn from the same generator 2 KiB at a time: a
 * call of randomBytes(16) per id cost more than the rest of the id (each
 * request makes two: its audit entry's and its job's). As crypto.randomUUID
 * does with its own cache.
 */
const POOL = Buffer.alloc(2048);
let poolAt = POOL.length;

export function newTimeOrderedId(nowMs: number = Date.now()): string {
  if (poolAt + 16 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  // A copy: the pool itself is never handed out, and its position moves past
  // what was taken, so no byte is used twice.
  const b = Buffer.from(POOL.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  // 48-bit big-endian Unix milliseconds, then version 7 and the RFC 4122 variant.
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
