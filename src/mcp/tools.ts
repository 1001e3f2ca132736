// The MCP tools, one per declared operation (src/contract/operations.ts): the
// name is the operation's with its dots as underscores (`node.hostname.get`
// is `node_hostname_get`; MCP allows only [A-Za-z0-9_-]), the description its
// summary and route, the input schema its input's plus the fields every tool
// takes: `target`, `async`, `idempotency_key` and, for a change, `confirm`.
// Nothing here decides what a token may do: the API does, on every call;
// a call is checked here only as the CLI checks its flags, to tell a mistake
// (and a change on many hosts without confirm) before anything is sent.
import {
  documentedRoute,
  fieldOfParam,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
  pathParams,
} from '../contract/operations.js';
import { operationInputProblems, withFactRefs } from '../job/data-checks.js';
import { parseTarget, TargetError } from '../job/target.js';

/** What a tool call carries besides the operation's own input. */
export const TOOL_FIELDS = ['target', 'async', 'idempotency_key', 'confirm'] as const;

/** The tool's name for an operation: `node.hostname.get` → `node_hostname_get`. */
export function toolName(type: OperationType): string {
  return type.replaceAll('.', '_');
}

/** Every operation by its tool name; a name two operations would share is a declaration error. */
function byToolName(): ReadonlyMap<string, OperationType> {
  const names = new Map<string, OperationType>();
  for (const type of OPERATION_TYPES) {
    const name = toolName(type);
    const other = names.get(name);
    if (other) throw new Error(`operations ${other} and ${type} would share the MCP tool ${name}`);
    const taken = Object.keys(OPERATIONS[type].input.properties).filter((f) =>
      (TOOL_FIELDS as readonly string[]).includes(f),
    );
    if (taken.length > 0) {
      throw new Error(`operation ${type} has input fields the MCP tool adds: ${taken.join(', ')}`);
    }
    names.set(name, type);
  }
  return names;
}

const OPERATION_OF_TOOL = byToolName();

/** The operation a tool runs, or undefined for a name that is no tool. */
export function operationOfTool(name: string): OperationType | undefined {
  return OPERATION_OF_TOOL.get(name);
}

export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
  annotations: {
    title: string;
    readOnlyHint: boolean;
    destructiveHint: boolean;
    idempotentHint: boolean;
    openWorldHint: boolean;
  };
}

const TARGET_FIELD = {
  type: 'string',
  default: '_any',
  minLength: 1,
  description:
    'Which hosts: _any (one agent), _all, a hostname, a label key:value (group:web) or a fact comparison fact:<key><op><value> (fact:os.family=debian).',
};

const COMMON_FIELDS = {
  async: {
    type: 'boolean',
    default: false,
    description:
      'Return the job id at once instead of waiting for the hosts; read the results later from the resource osapi://job/{job_id}.',
  },
  idempotency_key: {
    type: 'string',
    minLength: 1,
    maxLength: 255,
    description:
      'Sent as Idempotency-Key: the same key again (same user, within 24 h) returns the first job instead of running it again.',
  },
};

const CONFIRM_FIELD = {
  type: 'boolean',
  description:
    'Must be true to change more than one named host: on _all, a label or a fact comparison. Ask the user first.',
};

/** The input schema as plain JSON: the declaration's, without TypeBox's own markers. */
function plainSchema(decl: OperationDeclaration): {
  properties: Record<string, unknown>;
  required: string[];
} {
  const schema = JSON.parse(JSON.stringify(decl.input)) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return { properties: schema.properties ?? {}, required: schema.required ?? [] };
}

/** The tool of one operation, as tools/list offers it. */
export function toolDefinition(type: OperationType): ToolDefinition {
  const decl: OperationDeclaration = OPERATIONS[type];
  const { properties, required } = plainSchema(decl);
  const change = decl.kind === 'modify';
  const description = [
    `${decl.summary} (${documentedRoute(decl)}; permission ${decl.permission}).`,
    change
      ? 'Changes the hosts it reaches: on _all, a label or a fact comparison it needs confirm: true.'
      : 'Reads the hosts; changes nothing.',
    'Answers the API JSON: one item per host with its status.',
  ].join(' ');
  return {
    name: toolName(type),
    title: decl.summary,
    description,
    inputSchema: {
      type: 'object',
      properties: {
        ...properties,
        target: TARGET_FIELD,
        ...COMMON_FIELDS,
        ...(change ? { confirm: CONFIRM_FIELD } : {}),
      },
      ...(required.length > 0 ? { required } : {}),
    },
    annotations: {
      title: decl.summary,
      readOnlyHint: !change,
      destructiveHint: change,
      // A change asks for a state (a second identical one says changed: false); a command does not.
      idempotentHint: decl.answer !== 'command',
      openWorldHint: false,
    },
  };
}

/** The tools of the operations a token's permissions allow, in declaration order. */
export function toolsFor(permissions: readonly string[]): ToolDefinition[] {
  const held = new Set(permissions);
  return OPERATION_TYPES.filter((t) => held.has(OPERATIONS[t].permission)).map(toolDefinition);
}

/** Whether a target reaches more than one named host: `_all`, a label, a fact comparison. */
export function reachesGroup(target: string): boolean {
  try {
    const kind = parseTarget(target).kind;
    return kind === 'all' || kind === 'label' || kind === 'fact';
  } catch (err) {
    // An invalid target reaches no host (readToolCall refuses it).
    if (err instanceof TargetError) return false;
    throw err;
  }
}

/** A tool call split into the target, the API options and the operation's input. */
export interface ToolCall {
  target: string;
  async: boolean;
  idempotencyKey?: string;
  confirm: boolean;
  input: Record<string, unknown>;
}

/** Thrown for a call the tool refuses before anything is sent: its message is for the assistant. */
export class ToolRefusal extends Error {
  override name = 'ToolRefusal';
}

function optionalString(args: Record<string, unknown>, field: string): string | undefined {
  const value = args[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ToolRefusal(`${field} must be a string`);
  return value;
}

function optionalBoolean(args: Record<string, unknown>, field: string): boolean {
  const value = args[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ToolRefusal(`${field} must be true or false`);
  return value;
}

/**
 * A value that goes into the route's path as `.` or `..` would move the
 * request to another route once the URL is resolved (a key's fingerprint of
 * `..` would name the user itself): never sent.
 */
function pathEscape(type: OperationType, target: string, input: Record<string, unknown>) {
  const fields = pathParams(OPERATIONS[type]).map(fieldOfParam);
  const values: Array<[string, unknown]> = [
    ['target', target],
    ...fields.map((f): [string, unknown] => [f, input[f]]),
  ];
  return values.find(([, v]) => v === '.' || v === '..')?.[0];
}

/**
 * The input's problems as the API and the CLI see them (the same checks), so
 * that a mistake is told before anything is sent, field by field.
 */
function inputProblems(type: OperationType, input: Record<string, unknown>): string | undefined {
  const problems = withFactRefs(type, operationInputProblems(type, input), input);
  if (problems.length === 0) return undefined;
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}

/**
 * The parts of a call. Refused here, before anything is sent: a change on
 * more than one named host without `confirm: true` (the assistant is to ask
 * its user first), an invalid target or input (as the API would refuse it).
 */
export function readToolCall(type: OperationType, args: Record<string, unknown>): ToolCall {
  const { target: _t, async: _a, idempotency_key: _k, confirm: _c, ...input } = args;
  const target = optionalString(args, 'target') ?? '_any';
  const idempotencyKey = optionalString(args, 'idempotency_key');
  const call: ToolCall = {
    target,
    async: optionalBoolean(args, 'async'),
    confirm: optionalBoolean(args, 'confirm'),
    input,
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
  };
  try {
    parseTarget(target);
  } catch (err) {
    if (err instanceof TargetError) throw new ToolRefusal(`target: ${err.message}`);
    throw err;
  }
  const escaping = pathEscape(type, target, input);
  if (escaping) throw new ToolRefusal(`${escaping}: must not be "." or ".."; nothing was sent`);
  const problems = inputProblems(type, input);
  if (problems) throw new ToolRefusal(`invalid input, nothing was sent: ${problems}`);
  if (OPERATIONS[type].kind === 'modify' && reachesGroup(target) && !call.confirm) {
    throw new ToolRefusal(
      `${toolName(type)} changes every host that ${target} reaches; nothing was sent. Ask the user, then call it again with confirm: true (or name one host as the target).`,
    );
  }
  return call;
}
