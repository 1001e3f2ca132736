// Plans: several operations across the fleet, written as YAML (docs/plans.md).
// A plan is a list of steps, each an operation as declared in
// src/contract/operations.ts, on a target, with its input; `after:` orders
// them (a DAG), guards choose the hosts a step runs on, `retry` and
// `on_error` say what a failure does. This module reads and checks a plan,
// strictly and before anything runs; src/sdk/plan-run.ts runs one.
import { isMap, LineCounter, parseDocument } from 'yaml';
import { parseDuration } from '../config/duration.js';
import { OPERATIONS, type OperationType } from '../contract/operations.js';
import { operationInputProblems, withFactRefs } from '../job/data-checks.js';
import { parseTarget, TargetError } from '../job/target.js';

/** `retry:` of a step: at most `attempts` runs in all, waiting `backoff_ms`, doubled each time. */
export interface PlanRetry {
  attempts: number;
  backoff_ms: number;
}

export interface PlanStep {
  /** Unique in the plan; part of each of its jobs' Idempotency-Key. */
  name: string;
  operation: OperationType;
  target: string;
  /** The operation's input (`@fact.` references are resolved by each agent). */
  args: Record<string, unknown>;
  /** Steps that must have ended before this one starts (guards' steps included). */
  after: string[];
  /** A fact comparison, as a `fact:` target: only the hosts whose fact compares so. */
  when?: string;
  /** Only the hosts where that earlier step changed something. */
  only_if_changed?: string;
  /** Only the hosts where that earlier step failed. */
  only_if_failed?: string;
  retry: PlanRetry;
  /** `stop`: when this step fails, no further step starts. */
  on_error: 'stop' | 'continue';
}

export interface Plan {
  name?: string;
  steps: PlanStep[];
}

/** A problem of a plan file: where it is and what is wrong. */
export interface PlanProblem {
  /** `file:line:col` when the YAML gave a position; otherwise the file alone. */
  where: string;
  /** The step it is about, when it is about one. */
  step?: string;
  message: string;
}

/** A plan that cannot run; `problems` says every reason found. */
export class PlanError extends Error {
  override name = 'PlanError';
  constructor(readonly problems: PlanProblem[]) {
    super(
      problems
        .map((p) => `${p.where}: ${p.step !== undefined ? `step "${p.step}": ` : ''}${p.message}`)
        .join('\n'),
    );
  }
}

/** At most this many runs of a step, and this long between two (the doubling stops there). */
const MAX_ATTEMPTS = 10;
const MAX_BACKOFF_MS = 5 * 60_000;
const DEFAULT_BACKOFF_MS = 1_000;
const MAX_STEPS = 200;

const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const TOP_KEYS = ['name', 'steps'];
const STEP_KEYS = [
  'name',
  'operation',
  'target',
  'args',
  'after',
  'when',
  'only_if_changed',
  'only_if_failed',
  'retry',
  'on_error',
];
const RETRY_KEYS = ['attempts', 'backoff'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The delay before run `attempt` (2, 3, ...): the backoff doubled each time, bounded. */
export function backoffBefore(retry: PlanRetry, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, retry.backoff_ms * 2 ** Math.max(0, attempt - 2));
}

/**
 * Reads a plan from YAML text and checks it: unknown keys, unknown
 * operations, each step's input against its operation's schema (the checks
 * the CLI and the API make), targets and guards, and the `after:` graph
 * (unknown steps, cycles). Throws PlanError naming every problem, each with
 * its position in `source` where the YAML gives one.
 */
export function parsePlan(text: string, source = 'plan'): Plan {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return source;
    const { line, col } = lc.linePos(offset);
    return `${source}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new PlanError(
      doc.errors.map((e) => ({ where: at(e.pos[0]), message: `invalid YAML: ${e.message}` })),
    );
  }
  /** The position of the node at `path`, or the nearest one above it. */
  const where = (path: (string | number)[]) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] };
      if (node && typeof node === 'object' && node.range) return at(node.range[0]);
    }
    return source;
  };
  const keyWhere = (path: (string | number)[], key: string) => {
    const parent = doc.getIn(path, true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key) as
        | { key?: { range?: [number, number, number] } }
        | undefined;
      if (pair?.key?.range) return at(pair.key.range[0]);
    }
    return where(path);
  };
  return checkPlan(doc.toJS(), where, keyWhere);
}

type Where = (path: (string | number)[]) => string;
type KeyWhere = (path: (string | number)[], key: string) => string;

/**
 * Checks a plan given as a value (what the YAML reads as); the positions
 * default to the path inside it. For a plan built in code.
 */
export function checkPlan(
  raw: unknown,
  where: Where = (p) => (p.length === 0 ? 'plan' : `plan.${p.join('.')}`),
  keyWhere: KeyWhere = (p, k) => where([...p, k]),
): Plan {
  const problems: PlanProblem[] = [];
  const at = (w: string, message: string, step?: string) => {
    problems.push({ where: w, message, ...(step !== undefined ? { step } : {}) });
  };
  const problem: Problem = Object.assign(
    (path: (string | number)[], message: string, step?: string) => at(where(path), message, step),
    { at },
  );
  if (!isObject(raw)) {
    throw new PlanError([{ where: where([]), message: 'a plan is a mapping with `steps:`' }]);
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) {
      problems.push({
        where: keyWhere([], key),
        message: `unknown key "${key}"; a plan has ${TOP_KEYS.join(' and ')}`,
      });
    }
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') {
    problem(['name'], 'name must be text');
  }
  const rawSteps = raw.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) {
    problem(['steps'], 'steps must be a list of at least one step');
    throw new PlanError(problems);
  }
  if (rawSteps.length > MAX_STEPS) {
    problem(['steps'], `at most ${MAX_STEPS} steps (this plan has ${rawSteps.length})`);
    throw new PlanError(problems);
  }
  const names = new Set<string>();
  const steps: PlanStep[] = [];
  rawSteps.forEach((s, i) => {
    const step = checkStep(s, i, names, problem, keyWhere);
    if (step) steps.push(step);
  });
  if (problems.length === 0) checkGraph(steps, rawSteps, problem);
  if (problems.length > 0) throw new PlanError(problems);
  return { ...(typeof raw.name === 'string' ? { name: raw.name } : {}), steps };
}

interface Problem {
  (path: (string | number)[], message: string, step?: string): void;
  /** A problem at a position already found. */
  at(where: string, message: string, step?: string): void;
}

function checkStep(
  s: unknown,
  i: number,
  names: Set<string>,
  problem: Problem,
  keyWhere: KeyWhere,
): PlanStep | null {
  const path = ['steps', i];
  if (!isObject(s)) {
    problem(path, `step ${i + 1} must be a mapping with name, operation and target`);
    return null;
  }
  const label = typeof s.name === 'string' ? s.name : `#${i + 1}`;
  const bad = (field: string, message: string) =>
    problem([...path, field], `${field}: ${message}`, label);
  let ok = true;
  for (const key of Object.keys(s)) {
    if (!STEP_KEYS.includes(key)) {
      // The key's own position, not its value's.
      problem.at(
        keyWhere(path, key),
        `unknown key "${key}"; a step takes ${STEP_KEYS.join(', ')}`,
        label,
      );
      ok = false;
    }
  }
  if (typeof s.name !== 'string' || !STEP_NAME.test(s.name)) {
    bad('name', 'required: 1 to 64 letters, digits, _ or -, starting with a letter or digit');
    ok = false;
  } else if (names.has(s.name)) {
    bad('name', `another step is named "${s.name}" already; names must be unique`);
    ok = false;
  } else names.add(s.name);
  const operation = s.operation;
  const known = typeof operation === 'string' && Object.hasOwn(OPERATIONS, operation);
  if (!known) {
    bad(
      'operation',
      typeof operation === 'string'
        ? `unknown operation "${operation}"; the operations are those of docs/api.md (e.g. command.exec.execute, node.status.get)`
        : 'required: an operation name, e.g. command.exec.execute',
    );
    ok = false;
  }
  let anyTarget = false;
  if (typeof s.target !== 'string') {
    bad('target', 'required: _any, _all, a hostname, a label key:value or fact:<key><op><value>');
    ok = false;
  } else {
    try {
      anyTarget = parseTarget(s.target).kind === 'any';
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
      bad('target', err.message);
      ok = false;
    }
  }
  const args = s.args ?? {};
  if (!isObject(args)) {
    bad('args', "must be a mapping of the operation's input fields");
    ok = false;
  } else if (known) {
    const type = operation as OperationType;
    for (const p of withFactRefs(type, operationInputProblems(type, args), args)) {
      const field = p.field === '' ? 'args' : `args.${p.field}`;
      problem(
        [...path, 'args', ...p.field.split(/[.[\]]/).filter(Boolean)],
        `${field}: ${p.message}`,
        label,
      );
      ok = false;
    }
  }
  const after = s.after === undefined ? [] : typeof s.after === 'string' ? [s.after] : s.after;
  if (!Array.isArray(after) || !after.every((a): a is string => typeof a === 'string')) {
    bad('after', 'a step name or a list of step names');
    ok = false;
  }
  if (s.when !== undefined) {
    let fact = false;
    try {
      fact = typeof s.when === 'string' && parseTarget(s.when).kind === 'fact';
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
    }
    if (!fact) {
      bad(
        'when',
        'a fact comparison as a target writes it: fact:<key><op><value>, e.g. fact:os.family=debian',
      );
      ok = false;
    }
  }
  for (const guard of ['only_if_changed', 'only_if_failed'] as const) {
    if (s[guard] !== undefined && typeof s[guard] !== 'string') {
      bad(guard, 'the name of an earlier step');
      ok = false;
    }
  }
  if (s.only_if_changed !== undefined && s.only_if_failed !== undefined) {
    bad('only_if_failed', 'a step takes only_if_changed or only_if_failed, not both');
    ok = false;
  }
  if (
    anyTarget &&
    (s.when !== undefined || s.only_if_changed !== undefined || s.only_if_failed !== undefined)
  ) {
    bad(
      'target',
      '_any runs on one agent the API picks, so a guard cannot choose hosts: target the hosts (_all, a label) instead',
    );
    ok = false;
  }
  const retry = checkRetry(s.retry, (field, message) => bad(field, message));
  if (!retry) ok = false;
  const onError = s.on_error ?? 'stop';
  if (onError !== 'stop' && onError !== 'continue') {
    bad('on_error', 'stop or continue');
    ok = false;
  }
  if (!ok || !retry) return null;
  const guardSteps = [s.only_if_changed, s.only_if_failed].filter(
    (g): g is string => typeof g === 'string',
  );
  return {
    name: s.name as string,
    operation: operation as OperationType,
    target: s.target as string,
    args: args as Record<string, unknown>,
    // A guard reads its step's results: that step comes first.
    after: [...new Set([...(after as string[]), ...guardSteps])],
    ...(typeof s.when === 'string' ? { when: s.when } : {}),
    ...(typeof s.only_if_changed === 'string' ? { only_if_changed: s.only_if_changed } : {}),
    ...(typeof s.only_if_failed === 'string' ? { only_if_failed: s.only_if_failed } : {}),
    retry,
    on_error: onError as 'stop' | 'continue',
  };
}

function checkRetry(raw: unknown, bad: (field: string, message: string) => void): PlanRetry | null {
  if (raw === undefined) return { attempts: 1, backoff_ms: DEFAULT_BACKOFF_MS };
  if (!isObject(raw)) {
    bad('retry', 'a mapping: {attempts: 3, backoff: 2s}');
    return null;
  }
  let ok = true;
  for (const key of Object.keys(raw)) {
    if (!RETRY_KEYS.includes(key)) {
      bad(`retry.${key}`, `unknown key; retry takes ${RETRY_KEYS.join(' and ')}`);
      ok = false;
    }
  }
  const attempts = raw.attempts;
  if (
    typeof attempts !== 'number' ||
    !Number.isInteger(attempts) ||
    attempts < 1 ||
    attempts > MAX_ATTEMPTS
  ) {
    bad('retry.attempts', `required: the runs in all, a whole number from 1 to ${MAX_ATTEMPTS}`);
    ok = false;
  }
  let backoff = DEFAULT_BACKOFF_MS;
  if (raw.backoff !== undefined) {
    const ms = typeof raw.backoff === 'string' ? durationMs(raw.backoff) : Number.NaN;
    if (!(ms >= 0 && ms <= MAX_BACKOFF_MS)) {
      bad('retry.backoff', 'a duration from 0s to 5m, e.g. 500ms, 2s or 1m');
      ok = false;
    } else backoff = ms;
  }
  return ok ? { attempts: attempts as number, backoff_ms: backoff } : null;
}

/** Milliseconds of a duration as the config writes one (500ms, 2s, 1m30s), NaN if it is not one. */
function durationMs(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return Number.NaN;
  }
}

/** Unknown steps in `after:` and guards, and cycles, each named. */
function checkGraph(steps: PlanStep[], rawSteps: unknown[], problem: Problem): void {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const indexOf = new Map(steps.map((s, i) => [s.name, i]));
  let unknown = false;
  for (const s of steps) {
    const i = indexOf.get(s.name) as number;
    const raw = rawSteps[i] as Record<string, unknown>;
    for (const dep of s.after) {
      const field =
        raw.only_if_changed === dep
          ? 'only_if_changed'
          : raw.only_if_failed === dep
            ? 'only_if_failed'
            : 'after';
      if (dep === s.name) {
        problem(['steps', i, field], `${field}: a step cannot wait for itself`, s.name);
        unknown = true;
      } else if (!byName.has(dep)) {
        problem(['steps', i, field], `${field}: no step is named "${dep}"`, s.name);
        unknown = true;
      }
    }
  }
  if (unknown) return;
  const cycle = findCycle(steps, byName);
  if (cycle) {
    const first = cycle[0] as string;
    problem(
      ['steps', indexOf.get(first) as number, 'after'],
      `after: the steps wait for each other in a cycle: ${[...cycle, first].join(' → ')}`,
      first,
    );
  }
}

function findCycle(steps: PlanStep[], byName: Map<string, PlanStep>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    const seen = state.get(name);
    if (seen === 'done') return null;
    if (seen === 'open') return stack.slice(stack.indexOf(name));
    state.set(name, 'open');
    stack.push(name);
    for (const dep of byName.get(name)?.after ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return null;
  };
  for (const s of steps) {
    const found = visit(s.name);
    if (found) return found;
  }
  return null;
}

/**
 * The steps in the order they may start: each level's steps wait only for
 * those of earlier levels, so a level's steps may run side by side.
 */
export function planLevels(plan: Plan): PlanStep[][] {
  const level = new Map<string, number>();
  const byName = new Map(plan.steps.map((s) => [s.name, s]));
  const depth = (s: PlanStep): number => {
    const known = level.get(s.name);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...s.after.map((a) => depth(byName.get(a) as PlanStep))) + 1;
    level.set(s.name, d);
    return d;
  };
  const levels: PlanStep[][] = [];
  for (const s of plan.steps) {
    const d = depth(s);
    levels[d] = [...(levels[d] ?? []), s];
  }
  return levels;
}
