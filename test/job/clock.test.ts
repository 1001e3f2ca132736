// The clock's time in milliseconds: the system's read without a Date, any
// other (a test's, held still or moved) read as it says.
import { describe, expect, it } from 'vitest';
import { type Clock, nowMs, systemClock } from '../../src/job/clock.js';

describe('nowMs', () => {
  it("reads a clock that is not the system's through its own now()", () => {
    let at = 5;
    const held: Clock = { now: () => new Date(at), nanos: () => 0n };
    expect(nowMs(held)).toBe(5);
    at = 86_400_000;
    expect(nowMs(held)).toBe(86_400_000);
  });

  it("reads the system's clock as Date.now()", () => {
    const before = Date.now();
    const read = nowMs(systemClock);
    expect(read).toBeGreaterThanOrEqual(before);
    expect(read).toBeLessThanOrEqual(Date.now());
  });
});
