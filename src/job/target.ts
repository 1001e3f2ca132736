// Targets: `_any`, `_all`, a hostname, a label `key:value` whose value is
// dot-hierarchical, or a fact comparison `fact:<key><op><value>` (the agents
// whose fact compares so: `fact:os.family=debian`, `fact:cpu_count>=8`).
// Parsed once at the edge; the rest of the system works with the typed form.
// A label value never holds `=`, `<`, `>` or `!`, so `fact:` followed by a
// comparison is never a label; `fact:web` still is one.
import { FACT_KEY_PATTERN } from '../contract/facts.js';
import { isValidHostname, type RouteTarget, NAME_SEGMENT as SEGMENT } from '../names/names.js';

export const FACT_OPS = ['=', '!=', '>=', '<=', '>', '<'] as const;
export type FactOp = (typeof FACT_OPS)[number];

/** The agents whose fact `key` compares to `value` with `op` (numbers for <, <=, >, >=). */
export interface FactTarget {
  kind: 'fact';
  key: string;
  op: FactOp;
  value: string;
}

export type Target = RouteTarget | FactTarget;

const FACT_TARGET = new RegExp(`^fact:(${FACT_KEY_PATTERN})(!=|>=|<=|=|>|<)(.*)$`);
const FACT_VALUE = /^[A-Za-z0-9_.:@/+-]{1,253}$/;
const NUMBER = /^-?\d+(?:\.\d+)?$/;

// Hostname syntax lives with the names a hostname becomes a token of.
export { isValidHostname };

export class TargetError extends Error {
  override name = 'TargetError';
}

export function isValidLabelKey(key: string): boolean {
  return SEGMENT.test(key);
}

export function isValidLabelValue(value: string): boolean {
  return value.length > 0 && value.split('.').every((s) => SEGMENT.test(s));
}

/** Parses a target string; throws TargetError with a message a user can act on. */
export function parseTarget(raw: string): Target {
  if (raw === '_any') return { kind: 'any' };
  if (raw === '_all') return { kind: 'all' };
  const fact = FACT_TARGET.exec(raw);
  if (fact) return factTarget(raw, fact[1] as string, fact[2] as FactOp, fact[3] as string);
  const colon = raw.indexOf(':');
  if (colon >= 0) {
    const key = raw.slice(0, colon);
    const value = raw.slice(colon + 1);
    if (!isValidLabelKey(key) || !isValidLabelValue(value)) {
      throw new TargetError(
        `invalid label target "${raw}": expected key:value where the key and each dot-separated value segment match [A-Za-z0-9_-]+ (e.g. group:web.dev)`,
      );
    }
    return { kind: 'label', key, value };
  }
  if (!isValidHostname(raw)) {
    throw new TargetError(
      `invalid target "${raw}": expected _any, _all, a hostname (letters, digits, '-', '_' and dots) or a label key:value`,
    );
  }
  return { kind: 'host', hostname: raw };
}

function factTarget(raw: string, key: string, op: FactOp, value: string): FactTarget {
  if (!FACT_VALUE.test(value)) {
    throw new TargetError(
      `invalid fact target "${raw.slice(0, 300)}": the value after ${op} must be 1 to 253 letters, digits or . _ : @ / + - (e.g. fact:os.family=debian)`,
    );
  }
  if (op !== '=' && op !== '!=' && !NUMBER.test(value)) {
    throw new TargetError(
      `invalid fact target "${raw.slice(0, 300)}": ${op} compares numbers, and "${value}" is not one (e.g. fact:cpu_count>=8)`,
    );
  }
  return { kind: 'fact', key, op, value };
}

/**
 * Whether a fact value (as `@fact.` gives it, text) compares to the target's:
 * `=` and `!=` as text, the others as numbers (a value that is not one never
 * matches). A host without the fact matches no comparison, `!=` included.
 */
export function factCompares(t: FactTarget, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  if (t.op === '=') return actual === t.value;
  if (t.op === '!=') return actual !== t.value;
  if (!NUMBER.test(actual)) return false;
  const a = Number(actual);
  const b = Number(t.value);
  return t.op === '>=' ? a >= b : t.op === '<=' ? a <= b : t.op === '>' ? a > b : a < b;
}

/** How a target is routed on NATS: a fact comparison goes where `_all` does. */
export function routeOf(t: Target): RouteTarget {
  return t.kind === 'fact' ? { kind: 'all' } : t;
}

export function formatTarget(t: Target): string {
  switch (t.kind) {
    case 'fact':
      return `fact:${t.key}${t.op}${t.value}`;
    case 'any':
      return '_any';
    case 'all':
      return '_all';
    case 'host':
      return t.hostname;
    case 'label':
      return `${t.key}:${t.value}`;
  }
}

/** A target that may reach several agents, each running the job: `_all`, a label or a fact comparison. */
export function isBroadcast(t: Target): t is Extract<Target, { kind: 'all' | 'label' | 'fact' }> {
  return t.kind === 'all' || t.kind === 'label' || t.kind === 'fact';
}

/**
 * The label prefixes an agent answers to: `group: web.dev.us-east` gives
 * `web`, `web.dev` and `web.dev.us-east`.
 */
export function labelPrefixes(value: string): string[] {
  const parts = value.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}

/**
 * Whether an agent with this hostname and these labels is addressed by the
 * target. A fact comparison is decided by whoever knows the agent's facts
 * (the API, from its facts view): here it addresses every agent, as `_all`.
 */
export function targetMatches(
  t: Target,
  agent: { hostname: string; labels: Record<string, string> },
): boolean {
  switch (t.kind) {
    case 'any':
    case 'all':
    case 'fact':
      return true;
    case 'host':
      return agent.hostname === t.hostname;
    case 'label': {
      const v = agent.labels[t.key];
      return v !== undefined && (v === t.value || v.startsWith(`${t.value}.`));
    }
  }
}
