// Parsers for flag values, shared by every command: each returns a value of
// the right type or throws a UsageError naming the flag and what it expects.
import { parseDuration } from '../config/index.js';
import { UsageError } from './context.js';

/** A whole number in `min..max`; digits only, so "1e3", "0x10" and " 5" are refused. */
export function intFlag(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d{1,16}$/.test(v) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
      throw new UsageError(`${flag}: expected an integer ${range}, got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

/** A count (`2`) or a percentage (`10%`), as the rate-control body fields take them. */
export function countOrPercentFlag(flag: string, min: number) {
  return (v: string): number | string => {
    if (/^\d{1,3}%$/.test(v) && Number(v.slice(0, -1)) <= 100) return v;
    if (/^\d{1,9}$/.test(v) && Number(v) >= min) return Number(v);
    throw new UsageError(
      `${flag}: expected a whole number >= ${min} or a percentage such as "10%", got ${JSON.stringify(v)}`,
    );
  };
}

/** Seconds ("30") or a duration ("500ms", "2m"), more than zero; in milliseconds. */
export function durationFlag(flag: string) {
  return (v: string): number => {
    let ms: number;
    try {
      ms = /^\d{1,12}$/.test(v) ? Number(v) * 1000 : parseDuration(v);
    } catch {
      ms = Number.NaN;
    }
    if (!(ms > 0)) {
      throw new UsageError(
        `${flag}: expected seconds or a duration like 500ms or 2m, got ${JSON.stringify(v)}`,
      );
    }
    return ms;
  };
}
