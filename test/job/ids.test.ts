// Job and audit ids: UUIDv7, ordered by their time, with random bytes that
// never repeat, across the refills of the pool they are drawn from.
import { describe, expect, it } from 'vitest';
import { newTimeOrderedId, UUID_PATTERN } from '../../src/job/ids.js';

describe('newTimeOrderedId', () => {
  it('is a UUIDv7 carrying its millisecond, unique across many refills of its pool', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0, 123);
    const ids = Array.from({ length: 1000 }, () => newTimeOrderedId(now));
    expect(new Set(ids).size).toBe(1000);
    // Nor does the random part repeat with the time set aside.
    expect(new Set(ids.map((id) => id.slice(14))).size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(UUID_PATTERN);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
      expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
    }
  });

  it('sorts by time as text', () => {
    const a = newTimeOrderedId(1_000_000);
    const b = newTimeOrderedId(1_000_001);
    const c = newTimeOrderedId(2 ** 40);
    expect([c, b, a].sort()).toEqual([a, b, c]);
  });
});
