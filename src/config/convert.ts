// Turns the strings of environment variables (and string-valued flags) into values of a leaf's
// type. A string that does not convert is passed through unchanged so validation reports it.
import type { LeafKey } from './keys.js';

function toInteger(raw: string): unknown {
  const s = raw.trim();
  return /^[+-]?[0-9]+$/.test(s) ? Number(s) : raw;
}

function toBoolean(raw: string): unknown {
  const s = raw.trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return raw;
}

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

/** `a, b,c` -> ['a', 'b', 'c']; `[...]` is read as JSON; an empty string is an empty list. */
function toArray(raw: string, itemKind: string): unknown {
  const s = raw.trim();
  if (s.startsWith('[')) {
    const parsed = parseJson(s);
    return parsed.ok ? parsed.value : raw;
  }
  if (s === '') return [];
  const items = s
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return itemKind === 'integer' ? items.map(toInteger) : items;
}

/** `{...}` is read as JSON; for labels also `k=v,k2=v2`; an empty string is an empty mapping. */
function toRecord(raw: string, allowPairs: boolean): unknown {
  const s = raw.trim();
  if (s.startsWith('{')) {
    const parsed = parseJson(s);
    return parsed.ok ? parsed.value : raw;
  }
  if (s === '') return {};
  if (!allowPairs) return raw;
  const out: Record<string, string> = {};
  for (const pair of s.split(',')) {
    const item = pair.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return raw;
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/**
 * Converts a string to the type of `leaf`: integers, booleans (true/false/1/0), lists (JSON array or
 * comma-separated), mappings (JSON object; labels also k=v,k2=v2). Durations stay strings.
 */
export function convertString(leaf: LeafKey, raw: string): unknown {
  switch (leaf.kind) {
    case 'integer':
      return toInteger(raw);
    case 'boolean':
      return toBoolean(raw);
    case 'array': {
      const items = (leaf.schema as { items?: { type?: unknown } }).items;
      return toArray(raw, items?.type === 'integer' ? 'integer' : 'string');
    }
    case 'record': {
      // k=v pairs only make sense when the values are plain strings (labels, not roles).
      const patterns = (leaf.schema as { patternProperties?: Record<string, { type?: unknown }> })
        .patternProperties;
      const stringValues = Object.values(patterns ?? {}).every((v) => v.type === 'string');
      return toRecord(raw, stringValues);
    }
    default:
      return raw;
  }
}
