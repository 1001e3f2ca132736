// `@fact.<key>` in the string fields of an operation's data: the API checks
// only that each reference is well formed (factRefProblems); each agent
// replaces them with its own host's values before it runs anything
// (resolveFactRefs), so one broadcast carries per-host values. `@@fact.`
// stands for the text `@fact.` itself.
import { FACT_KEY_PATTERN, type HostFacts } from '../contract/facts.js';

/** A well-formed reference, or the escape `@@fact.`. */
const REF = new RegExp(`@@fact\\.|@fact\\.(${FACT_KEY_PATTERN})`, 'g');
/** Where a reference starts; one not matched by REF is malformed. */
const START = /@@fact\.|@fact\./g;

export interface FactRefProblem {
  /** Where in the data, as data-checks fieldPath writes it (`args[2]`, `servers[0]`). */
  path: Array<string | number>;
  message: string;
}

/** Calls `at` with every string in `value` and its path. */
export function eachString(
  value: unknown,
  path: Array<string | number>,
  at: (s: string, path: Array<string | number>) => void,
): void {
  if (typeof value === 'string') at(value, path);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) eachString(v, [...path, i], at);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) eachString(v, [...path, k], at);
  }
}

/** References that are not well formed (`@fact.` with no key, or a key cut short). */
export function factRefProblems(data: unknown): FactRefProblem[] {
  const problems: FactRefProblem[] = [];
  eachString(data, [], (s, path) => {
    if (!s.includes('@fact.')) return;
    const good = new Set<number>();
    for (const m of s.matchAll(REF)) good.add(m.index);
    for (const m of s.matchAll(START)) {
      if (!good.has(m.index)) {
        problems.push({
          path,
          message: `"${s.slice(m.index, m.index + 40)}" is not a fact reference: write @fact.<key>, a key of letters, digits, _ and -, in parts joined by dots (GET /facts/keys lists them), or @@fact. for the text itself`,
        });
        return;
      }
    }
  });
  return problems;
}

/** True when the data holds a reference anywhere. */
export function hasFactRefs(data: unknown): boolean {
  let found = false;
  eachString(data, [], (s) => {
    if (!found && s.includes('@fact.')) found = true;
  });
  return found;
}

/** Every fact of a host by key, as `@fact.<key>` names it; values as text. */
export function factValues(facts: HostFacts): Map<string, string> {
  const out = new Map<string, string>();
  const put = (key: string, v: unknown) => {
    if (v === undefined || v === null) return;
    if (typeof v === 'object') {
      // Custom facts may nest: each leaf gets its dotted key.
      for (const [k, inner] of Object.entries(v as Record<string, unknown>))
        put(`${key}.${k}`, inner);
      return;
    }
    out.set(key, String(v));
  };
  for (const key of [
    'hostname',
    'machine_id',
    'architecture',
    'kernel_version',
    'fqdn',
    'cpu_count',
    'memory_total',
    'primary_interface',
    'service_mgr',
    'package_mgr',
    'container',
  ] as const) {
    put(key, facts[key]);
  }
  put('os', facts.os);
  for (const i of facts.interfaces) {
    put(`interfaces.${i.name}.ipv4`, i.ipv4);
    put(`interfaces.${i.name}.ipv6`, i.ipv6);
    put(`interfaces.${i.name}.mac`, i.mac);
  }
  const primary = facts.interfaces.find((i) => i.name === facts.primary_interface);
  put('primary_ipv4', primary?.ipv4);
  put('primary_ipv6', primary?.ipv6);
  put(
    'default_gateway',
    facts.routes.find((r) => r.destination === '0.0.0.0' || r.destination === 'default')?.gateway,
  );
  put('custom', facts.custom);
  return out;
}

export class UnknownFactError extends Error {
  override name = 'UnknownFactError';
  constructor(
    readonly key: string,
    readonly path: Array<string | number>,
  ) {
    super(
      `this host has no fact "${key}" (asked by @fact.${key}); GET /facts/keys lists the keys in use, GET /agent/<hostname> this host's facts`,
    );
  }
}

/**
 * The data with every reference replaced by this host's value (a copy; the
 * data is not changed). Throws UnknownFactError for a key this host lacks.
 */
export function resolveFactRefs<T>(data: T, values: ReadonlyMap<string, string>): T {
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('@fact.')) return value;
      return value.replace(REF, (whole, key: string | undefined) => {
        if (key === undefined) return whole.slice(1);
        const v = values.get(key);
        if (v === undefined) throw new UnknownFactError(key, path);
        return v;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return walk(data, []) as T;
}
