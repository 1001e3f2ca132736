// The Operations page's form, made from an operation's declaration
// (src/contract/operations.ts): a field per input property, read from its
// JSON schema; what is typed turned into the request's input, its route and
// body; the checks the schema states, done here so a person hears of a
// mistake before anything is sent (the API checks it all again, and what it
// refuses is shown next to the field it names). Pure: no DOM.

import type { FieldProblem } from '../contract/errors.js';
import {
  fieldOfParam,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
  operationPathOf,
  pathParams,
  queryFields,
} from '../contract/operations.js';
import { patternMessage } from '../contract/pattern-messages.js';
import { RolloutFields } from '../contract/rollout.js';
import { factRefProblems } from '../job/fact-refs.js';
import { lacking, onOperationsPage, whyNot } from './access.js';

/** A JSON schema as far as the form reads it. */
export interface FieldSchema {
  type?: string;
  description?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: FieldSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: FieldSchema[];
  const?: unknown;
  properties?: Record<string, FieldSchema>;
  patternProperties?: Record<string, FieldSchema>;
  propertyNames?: FieldSchema;
  maxProperties?: number;
  /** A checkbox whose field defaults to true starts ticked, and unticked sends false. */
  default?: unknown;
}

/**
 * How a field is typed: a line of text, a whole number, a checkbox, a list
 * (comma-separated or one per line), one of some words, a mapping
 * (name=value lines or a JSON object), rate control (a count or a
 * percentage), or JSON for any other shape.
 */
export type FieldKind =
  | 'text'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'list'
  | 'choice'
  | 'mapping'
  | 'rate'
  | 'json';

/** A field whose value is not shown: typed into a password box, masked where the request is shown. */
export function isSecretField(name: string, schema: FieldSchema = {}): boolean {
  return (
    /password|secret|passphrase/i.test(name) ||
    (schema as { writeOnly?: boolean }).writeOnly === true
  );
}

/** The body as the confirmation shows it: secret fields masked. */
export function shownBody(
  fields: readonly FormField[],
  body: Record<string, unknown>,
): Record<string, unknown> {
  const secret = new Set(fields.filter((f) => f.secret).map((f) => f.name));
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, secret.has(k) ? '••••••' : v]),
  );
}

export interface FormField {
  /** The input field, as the API names it (`interface_name`). */
  name: string;
  /** For people: `Interface name`. */
  label: string;
  kind: FieldKind;
  required: boolean;
  /** Carried in the route's path (`/service/{name}`), not in the body. */
  inPath: boolean;
  /** The schema's description: what the field takes. */
  hint: string;
  schema: FieldSchema;
  /** A choice's words. */
  choices?: string[];
  /** Rate control's least count: 1 for max_concurrency, 0 for max_errors. */
  rateMin?: number;
  /** A password or the like: never shown as typed. */
  secret: boolean;
}

/** What the form holds: text per field, a checkbox's state for a boolean. */
export type FormValues = Record<string, string | boolean>;

export type FormRequest =
  | {
      ok: true;
      /** The operation's input: what the SDK's `call` takes. */
      input: Record<string, unknown>;
      /** The route with the target and the path fields in place: `POST /node/_all/service/nginx/start`. */
      route: string;
      /** What goes in the body (nothing for a GET). */
      body: Record<string, unknown> | null;
    }
  | { ok: false; problems: FieldProblem[] };

const ROLLOUT_NAMES: ReadonlySet<string> = new Set(Object.keys(RolloutFields));

/** `interface_name` → `Interface name`. */
export function fieldLabel(name: string): string {
  const words = name.replaceAll('_', ' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}`;
}

/** The words of a union of string literals (`raw` | `template`), or null. */
function literalChoices(schema: FieldSchema): string[] | null {
  const consts = schema.anyOf?.map((s) => s.const);
  return consts && consts.length > 0 && consts.every((c): c is string => typeof c === 'string')
    ? consts
    : null;
}

function kindOf(name: string, schema: FieldSchema): FieldKind {
  if (literalChoices(schema)) return 'choice';
  if (ROLLOUT_NAMES.has(name)) return 'rate';
  switch (schema.type) {
    case 'string':
      return 'text';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return schema.items?.type === 'string' ? 'list' : 'json';
    case 'object':
      // A record (name → value), not an object of fixed fields.
      return schema.properties ? 'json' : 'mapping';
  }
  return 'json';
}

/**
 * The form's fields, in the declaration's order. Rate control is a change's
 * only (`kind: 'modify'`): a read goes to every host at once.
 */
export function formFields(decl: OperationDeclaration): FormField[] {
  const required = new Set((decl.input as { required?: string[] }).required ?? []);
  const inPath = new Set(pathParams(decl).map(fieldOfParam));
  const props = decl.input.properties as Record<string, FieldSchema>;
  return Object.entries(props)
    .filter(([name]) => decl.kind === 'modify' || !ROLLOUT_NAMES.has(name))
    .map(([name, schema]) => {
      const kind = kindOf(name, schema);
      const choices = literalChoices(schema);
      return {
        name,
        label: fieldLabel(name),
        kind,
        required: required.has(name),
        inPath: inPath.has(name),
        hint: schema.description ?? (schema.pattern ? `matches ${schema.pattern}` : ''),
        schema,
        secret: kind === 'text' && isSecretField(name, schema),
        ...(choices ? { choices } : {}),
        ...(kind === 'rate' ? { rateMin: schema.anyOf?.[0]?.minimum ?? 0 } : {}),
      };
    });
}

/** A fresh form: nothing typed, a required choice on its first word. */
export function emptyValues(fields: readonly FormField[]): FormValues {
  return Object.fromEntries(
    fields.map((f) => [
      f.name,
      f.kind === 'boolean'
        ? f.schema.default === true
        : f.kind === 'choice' && f.required
          ? (f.choices?.[0] ?? '')
          : '',
    ]),
  );
}

/** Why a string does not fit its schema, or null; one holding `@fact.` is left to each agent. */
function textProblem(value: string, schema: FieldSchema): string | null {
  if (value.includes('@fact.')) return null;
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    return schema.minLength === 1
      ? 'must not be empty'
      : `must be at least ${schema.minLength} characters`;
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    return `must be at most ${schema.maxLength} characters`;
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
    return patternMessage(schema.pattern) ?? `must match ${schema.pattern}`;
  }
  return null;
}

/** `a, b` or one per line → the items; `[]` is the empty list (which clears some lists). */
export function listItems(text: string): string[] {
  if (text.trim() === '[]') return [];
  const parts = text.includes('\n') ? text.split(/\r?\n/) : text.split(',');
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** `name=value` lines (values stay text), or a JSON object. */
export function mappingOf(text: string): { ok: true; value: Record<string, unknown> } | string {
  const t = text.trim();
  if (t.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      return 'is not valid JSON: write a JSON object or name=value lines';
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return 'must be a JSON object';
    }
    return { ok: true, value: parsed as Record<string, unknown> };
  }
  const out: Record<string, unknown> = {};
  for (const line of t.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return `expected name=value on each line (got "${line.trim().slice(0, 40)}")`;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return { ok: true, value: out };
}

/** What a mapping's names must match: its `propertyNames`, or its one key pattern. */
function namePattern(schema: FieldSchema): string | undefined {
  if (schema.propertyNames?.pattern) return schema.propertyNames.pattern;
  const keys = Object.keys(schema.patternProperties ?? {});
  return keys.length === 1 && keys[0] !== '^.*$' ? keys[0] : undefined;
}

/** A count (>= min) or a percentage, as max_concurrency and max_errors take them. */
export function countOrPercent(raw: string, min: number): number | string | null {
  const v = raw.trim();
  if (/^[0-9]{1,3}%$/.test(v) && Number(v.slice(0, -1)) <= 100) return v;
  if (/^[0-9]+$/.test(v) && Number(v) >= min) return Number(v);
  return null;
}

type Read = { value: unknown } | { problem: string } | null;

/** One field's value from its text, or what is wrong with it; null when left empty. */
function readField(f: FormField, raw: string | boolean): Read {
  if (f.kind === 'boolean') {
    // Unticked and optional: absent, so the host's default applies; unticking
    // a field whose default is true says false.
    if (raw === true) return { value: true };
    return f.required || f.schema.default === true ? { value: false } : null;
  }
  const text = typeof raw === 'string' ? raw : '';
  // A line of text is taken trimmed: a name or a path with a space pasted after it is a mistake.
  const t = f.kind === 'text' || f.kind === 'mapping' || f.kind === 'json' ? text : text.trim();
  if (t.trim() === '') return f.required ? { problem: 'is required' } : null;
  const s = f.schema;
  switch (f.kind) {
    case 'text': {
      const value = t.trim();
      const problem = textProblem(value, s);
      return problem ? { problem } : { value };
    }
    case 'integer': {
      const n = Number(t);
      const lo = s.minimum;
      const hi = s.maximum;
      const range =
        lo !== undefined && hi !== undefined
          ? ` from ${lo} to ${hi}`
          : lo !== undefined
            ? ` of at least ${lo}`
            : hi !== undefined
              ? ` of at most ${hi}`
              : '';
      if (!/^-?[0-9]+$/.test(t) || (lo !== undefined && n < lo) || (hi !== undefined && n > hi)) {
        return { problem: `must be a whole number${range}` };
      }
      return { value: n };
    }
    case 'number': {
      const n = Number(t);
      return Number.isFinite(n) ? { value: n } : { problem: 'must be a number' };
    }
    case 'choice':
      return f.choices?.includes(t)
        ? { value: t }
        : { problem: `must be ${(f.choices ?? []).join(' or ')}` };
    case 'rate': {
      const v = countOrPercent(t, f.rateMin ?? 0);
      return v === null
        ? {
            problem: `must be a whole number (${f.rateMin ?? 0} or more) or a percentage such as "10%"`,
          }
        : { value: v };
    }
    case 'list': {
      const items = listItems(t);
      if (s.minItems !== undefined && items.length < s.minItems) {
        return {
          problem:
            s.minItems === 1
              ? 'must hold one item at least'
              : `must hold ${s.minItems} items at least`,
        };
      }
      if (s.maxItems !== undefined && items.length > s.maxItems) {
        return { problem: `must hold at most ${s.maxItems} items` };
      }
      for (const [i, item] of items.entries()) {
        const problem = s.items ? textProblem(item, s.items) : null;
        if (problem) return { problem: `item ${i + 1} ("${item.slice(0, 40)}") ${problem}` };
      }
      return { value: items };
    }
    case 'mapping': {
      const m = mappingOf(t);
      if (typeof m === 'string') return { problem: m };
      const pattern = namePattern(s);
      const names = Object.keys(m.value);
      if (s.maxProperties !== undefined && names.length > s.maxProperties) {
        return { problem: `must hold at most ${s.maxProperties} names` };
      }
      const bad = pattern ? names.find((n) => !new RegExp(pattern, 'u').test(n)) : undefined;
      if (bad !== undefined) {
        return {
          problem: `"${bad.slice(0, 40)}" is not a valid name: ${patternMessage(pattern) ?? `names must match ${pattern}`}`,
        };
      }
      return { value: m.value };
    }
    case 'json':
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { problem: 'is not valid JSON' };
      }
  }
}

/** `POST /node/{hostname}/service/{name}/start` with its parameters in place, encoded as the SDK sends them. */
export function routeOf(
  decl: OperationDeclaration,
  target: string,
  input: Record<string, unknown>,
): string {
  return `${decl.method} ${operationPathOf(decl, target, input)}`;
}

/**
 * The form read into a request: every field's problem at once, or the
 * input with its route and body. `@fact.` references must be well formed;
 * a field holding one is otherwise left to each agent, which checks it with
 * its own value in place.
 */
export function readForm(
  decl: OperationDeclaration,
  fields: readonly FormField[],
  values: FormValues,
  target: string,
): FormRequest {
  const problems: FieldProblem[] = [];
  const input: Record<string, unknown> = {};
  for (const f of fields) {
    const read = readField(f, values[f.name] ?? '');
    if (read === null) continue;
    if ('problem' in read) problems.push({ field: f.name, message: read.problem });
    else input[f.name] = read.value;
  }
  for (const p of factRefProblems(input)) {
    const field = String(p.path[0] ?? '');
    if (!problems.some((q) => q.field === field)) problems.push({ field, message: p.message });
  }
  if (problems.length > 0) return { ok: false, problems };
  const elsewhere = new Set([
    ...fields.filter((f) => f.inPath).map((f) => f.name),
    ...queryFields(decl),
  ]);
  const body =
    decl.method === 'GET'
      ? null
      : Object.fromEntries(Object.entries(input).filter(([k]) => !elsewhere.has(k)));
  return { ok: true, input, route: routeOf(decl, target, input), body };
}

/**
 * The API's 400 `fields` by the form's field: `servers[1]` is the servers
 * field's, a path parameter (`interfaceName`) its input field's; what names
 * no field (the body, the target) goes under ''.
 */
export function problemsByField(
  decl: OperationDeclaration,
  fields: readonly FormField[],
  problems: readonly FieldProblem[],
): Map<string, string[]> {
  const names = new Set(fields.map((f) => f.name));
  const params = new Map(pathParams(decl).map((p) => [p, fieldOfParam(p)]));
  const out = new Map<string, string[]>();
  for (const p of problems) {
    const root = /^[^.[]+/.exec(p.field)?.[0] ?? '';
    const name = params.get(root) ?? root;
    const key = names.has(name) ? name : '';
    // Said with the field's own name: `interface_name`, not the path's `interfaceName`.
    const text = `${key ? `${name}${p.field.slice(root.length)}` : p.field} ${p.message}`;
    out.set(key, [...(out.get(key) ?? []), text]);
  }
  return out;
}

/** `@fact.` completions for a text: each fact key after the last `@fact.` typed. */
export function factCompletions(value: string, keys: readonly string[], max = 50): string[] {
  const at = value.lastIndexOf('@fact.');
  if (at < 0) return [];
  const head = value.slice(0, at + '@fact.'.length);
  const typed = value.slice(head.length);
  return keys
    .filter((k) => !k.includes('<') && k.startsWith(typed))
    .slice(0, max)
    .map((k) => `${head}${k}`);
}

// ---- which operations the page offers ---------------------------------------

export interface OfferedOperation {
  type: OperationType;
  decl: OperationDeclaration;
  /** What the token lacks, as a sentence; '' when it may run it. */
  reason: string;
}

export interface OperationGroup {
  /** The first word of the operations' names: node, network, file, service, ... */
  domain: string;
  operations: OfferedOperation[];
}

/** Every operation the page can show, by domain in declaration order, with why a token may not run it. */
export function operationGroups(granted: readonly string[]): OperationGroup[] {
  const groups = new Map<string, OfferedOperation[]>();
  for (const type of OPERATION_TYPES) {
    const decl: OperationDeclaration = OPERATIONS[type];
    if (!onOperationsPage(decl)) continue;
    const domain = type.split('.')[0] ?? type;
    const list = groups.get(domain) ?? [];
    list.push({ type, decl, reason: whyNot(lacking(granted, [decl.permission])) });
    groups.set(domain, list);
  }
  return [...groups].map(([domain, operations]) => ({ domain, operations }));
}
