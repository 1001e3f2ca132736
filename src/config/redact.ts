// Hides secrets (signing_key, bearer_token, password, and passwords inside URLs) so a config or
// a value can be logged or put in an error message.

import type { Config } from './schema.js';
import { SECRET_KEYS } from './schema.js';

export const REDACTED = '<redacted>';

// scheme://user:password@host -> scheme://user:<redacted>@host
const URL_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/;

/** Removes the password from a URL's user info, if it has one. */
export function redactUrl(value: string): string {
  return value.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/**
 * Deep copy of any JSON-like value with every secret key's value replaced. Empty secrets stay
 * empty so a log still shows whether one is set.
 */
export function redactValue(value: unknown, key?: string): unknown {
  if (key !== undefined && SECRET_KEYS.has(key)) {
    return value === '' || value === undefined || value === null ? value : REDACTED;
  }
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k);
    return out;
  }
  return value;
}

/** A copy of the config that is safe to log: secrets replaced by "<redacted>". */
export function redactConfig(config: Config): Config {
  // redactValue keeps the shape and only swaps strings for strings, so the type still holds.
  return redactValue(config) as Config;
}
