// Go-style durations: what parses, what is refused, and how milliseconds print back.
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['720h', 2_592_000_000],
    ['0', 0],
    ['0s', 0],
  ])('%s is %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['10', '5x', '-1s', '', ' 1s', '1s ', '1.5h', 'h', '1 h', '1H', 'ms'])(
    'refuses %j',
    (input) => {
      expect(() => parseDuration(input)).toThrow(
        `invalid duration ${JSON.stringify(input)}: expected a duration like`,
      );
    },
  );

  it('refuses a duration too large to count in milliseconds exactly', () => {
    expect(() => parseDuration('99999999999999999d')).toThrow('too large');
  });
});

describe('formatDuration', () => {
  it.each([
    [90_061_000, '1d1h1m1s'],
    [0, '0s'],
    [500, '500ms'],
    [1_500, '1s500ms'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [604_800_000, '7d'],
    [1_234.6, '1s235ms'],
  ])('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 61_000, 86_399_999, 90_061_001]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %d', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });
});
