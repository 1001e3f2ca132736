// Walks the config schema: the list of leaf keys with their env names, and lookups from a key
// path to its schema node. Env names are generated from paths because key names contain "_".
import { IsArray, IsObject, IsRecord, type TSchema } from 'typebox';
import { annotations, ConfigSchema } from './schema.js';

/** What a leaf holds, which decides how a string from env or a flag is converted. */
export type LeafKind = 'string' | 'integer' | 'boolean' | 'array' | 'record';

export interface LeafKey {
  /** Dotted path, e.g. `api.server.port`. */
  path: string;
  /** Environment variable that sets it, e.g. `OSAPI_API_SERVER_PORT`. */
  env: string;
  description: string;
  /** Default as written in the file (durations as strings such as "24h"). */
  default: unknown;
  /** What a valid value looks like, as used in error messages. */
  expected: string;
  kind: LeafKind;
  /** True for a duration or a list of durations: milliseconds once loaded. */
  duration: boolean;
  /** True when the value must never be printed. */
  secret: boolean;
  schema: TSchema;
}

/** `api.server.port` -> `OSAPI_API_SERVER_PORT`. */
export function envName(path: string): string {
  return `OSAPI_${path.toUpperCase().replace(/\./g, '_')}`;
}

/** The variable naming the config file; not a config key, so never reported as unknown. */
export const CONFIG_FILE_ENV = 'OSAPI_FILE';

function leafKind(schema: TSchema): LeafKind {
  if (IsRecord(schema)) return 'record';
  if (IsArray(schema)) return 'array';
  const type = (schema as { type?: unknown }).type;
  if (type === 'integer') return 'integer';
  if (type === 'boolean') return 'boolean';
  return 'string';
}

/** A section is a fixed set of named keys; records (labels, roles) are leaves, set as a whole. */
export function isSection(
  schema: TSchema,
): schema is TSchema & { properties: Record<string, TSchema> } {
  return IsObject(schema) && !IsRecord(schema);
}

function collectLeaves(schema: TSchema, prefix: string, out: LeafKey[]): void {
  if (isSection(schema)) {
    for (const [key, child] of Object.entries(schema.properties)) {
      collectLeaves(child, prefix === '' ? key : `${prefix}.${key}`, out);
    }
    return;
  }
  const a = annotations(schema);
  const items = IsArray(schema) ? (schema as { items: TSchema }).items : undefined;
  out.push({
    path: prefix,
    env: envName(prefix),
    description: a.description ?? '',
    default: a.default,
    expected: a.expected ?? 'a valid value',
    kind: leafKind(schema),
    duration: a.duration === true || (items !== undefined && annotations(items).duration === true),
    secret: a.secret === true,
    schema,
  });
}

const LEAVES: readonly LeafKey[] = (() => {
  const out: LeafKey[] = [];
  collectLeaves(ConfigSchema, '', out);
  return Object.freeze(out);
})();

const BY_PATH = new Map(LEAVES.map((leaf) => [leaf.path, leaf]));
const BY_ENV = new Map(LEAVES.map((leaf) => [leaf.env, leaf]));

/** Every leaf key, in schema order, with its env name, description and default. */
export function configKeys(): readonly LeafKey[] {
  return LEAVES;
}

export function leafByPath(path: string): LeafKey | undefined {
  return BY_PATH.get(path);
}

export function leafByEnv(name: string): LeafKey | undefined {
  return BY_ENV.get(name);
}

/** Where a path segment leads inside the schema. */
export type Step =
  | { kind: 'node'; schema: TSchema }
  | { kind: 'unknown-key'; known: string[] }
  | { kind: 'bad-record-key'; record: TSchema }
  | { kind: 'none' };

/** Follows one key (or array index) from a schema node. */
export function step(schema: TSchema, key: string): Step {
  if (isSection(schema)) {
    const child = schema.properties[key];
    return child === undefined
      ? { kind: 'unknown-key', known: Object.keys(schema.properties) }
      : { kind: 'node', schema: child };
  }
  if (IsRecord(schema)) {
    const names = (schema as { propertyNames?: { pattern?: string } }).propertyNames;
    if (names?.pattern !== undefined && !new RegExp(names.pattern).test(key)) {
      return { kind: 'bad-record-key', record: schema };
    }
    const patterns = (schema as { patternProperties: Record<string, TSchema> }).patternProperties;
    for (const [pattern, child] of Object.entries(patterns)) {
      if (new RegExp(pattern).test(key)) return { kind: 'node', schema: child };
    }
    return { kind: 'bad-record-key', record: schema };
  }
  if (IsArray(schema)) {
    return { kind: 'node', schema: (schema as { items: TSchema }).items };
  }
  return { kind: 'none' };
}

/** Small edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      const left = prev[j - 1] ?? 0;
      prev[j] = Math.min(up + 1, left + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** The candidate closest to `name`, if it is close enough to be a likely typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  const lower = name.toLowerCase();
  for (const candidate of candidates) {
    const score = distance(lower, candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
