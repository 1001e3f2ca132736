// The CLI command of every declared operation (src/contract/operations.ts)
// whose declaration does not say it is written by hand: its words under
// `osapi client`, its description, a flag per input field (from the
// schema: `interface_name` is `--interface-name`), `-T/--target`, `--async`
// and `--idempotency-key`, and for a change rate control and `-y/--yes`. The
// input is checked here as the API checks it, so a mistake reads as usage
// (exit 2) before anything is sent; the answer is printed by the operation's
// own table (node-output.ts), or with -j as the API's body.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { OperationAnswerBody } from '../contract/answers.js';
import {
  documentedRoute,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
} from '../contract/operations.js';
import { operationInputProblems, withFactRefs } from '../job/data-checks.js';
import { clientFor } from './api-client.js';
import { confirmChangeOnAll } from './confirm.js';
import { type CommandContext, ExitError, printJson, say, UsageError } from './context.js';
import { escapeLine } from './escape.js';
import { countOrPercentFlag, intFlag } from './flags.js';
import { OPERATION_TABLES, resultTable } from './node-output.js';

/** The -T flag's help, the same on every command that takes one. */
export const TARGET_HELP =
  'target: _any, _all, a hostname, a label key:value or a fact comparison fact:<key><op><value>';

/** The description of a word that groups commands, where one is not made elsewhere. */
const GROUPS: Readonly<Record<string, string>> = {
  'node network': 'Network operations on hosts.',
  'node network dns': 'DNS configuration of hosts.',
  'node network interface': 'Network interfaces of hosts (netplan).',
  'node network route': 'Routes of hosts (netplan).',
  'node service': 'Services (systemd units) of hosts.',
  'node package': 'Packages of hosts (dpkg and apt).',
  'node user': 'Users of hosts: accounts, passwords, SSH keys.',
  'node user ssh-key': "SSH authorized keys of a host's user.",
  'node group': 'Groups of hosts.',
  'node file': 'Files from the file store on hosts: deploy, undeploy, drift.',
  'node timezone': 'Timezone of hosts.',
  'node power': 'Reboot or shut down hosts.',
  'node process': 'Processes of hosts: list, inspect, signal.',
  'node certificate': "Certificates of hosts' trust stores.",
  'node certificate ca': "CA certificates of hosts' trust stores.",
  'node log': 'Journal entries of hosts (journald).',
  'node sysctl': 'Kernel parameters of hosts (sysctl), persisted.',
  'node ntp': 'Time synchronisation of hosts (chrony).',
  'node schedule': 'Scheduled jobs of hosts.',
  'node schedule cron': 'Cron entries of hosts, managed as files.',
  'node container': 'Containers of hosts.',
  'node container docker': 'Docker containers and images of hosts (the Docker Engine API).',
};

/** Rate control reads as the command flags say it; the schema's words are for the API's readers. */
const ROLLOUT_HELP: Readonly<Record<string, string>> = {
  max_concurrency:
    'broadcasts: at most this many hosts at once (a number, or a percentage like 10%)',
  max_errors: 'broadcasts: once more hosts than this failed, start no more; the rest are skipped',
};

/** A JSON schema as far as the flags read it. */
interface FieldSchema {
  type?: string;
  /** A secret (a password): read from stdin when the flag says '-', never echoed. */
  writeOnly?: boolean;
  description?: string;
  items?: FieldSchema;
  anyOf?: FieldSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
}

/** `interface_name` → `interface-name`, unless the declaration names the flag otherwise. */
function flagName(decl: OperationDeclaration, field: string): string {
  return decl.cli.flagNames?.[field] ?? field.replaceAll('_', '-');
}

/**
 * The API's words for the CLI's reader: a field spelt apart from its flag
 * and named in a message becomes the flag (`interface_name` →
 * `--interface-name`); nothing else changes
 * (`net.ipv4.ip_forward` in an example stays as it is).
 */
function inFlagWords(type: OperationType, message: string): string {
  const decl = OPERATIONS[type];
  let out = message;
  for (const field of Object.keys(decl.input.properties as object)) {
    // Plain words (`name`, `path`) stay words: only a field spelt apart from its flag is a field.
    if (flagName(decl, field) === field) continue;
    const named = new RegExp(`(?<![\\w.\\-])${field}(?![\\w])`, 'g');
    out = out.replace(named, `--${flagName(decl, field)}`);
  }
  return out;
}

/** `a, b,c` → [a, b, c]; an empty value gives [] (so `--search-domains ''` clears a list). */
function commaList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * A mapping flag: a JSON object (`{"port":8080}`), or `name=value` pairs
 * separated by commas, whose values stay strings.
 */
function objectFlag(flag: string): (v: string) => Record<string, unknown> {
  return (value) => {
    const text = value.trim();
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new UsageError(`${flag}: not valid JSON`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new UsageError(`${flag}: must be a JSON object`);
      }
      return parsed as Record<string, unknown>;
    }
    const out: Record<string, unknown> = {};
    for (const pair of commaList(text)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`${flag}: expected name=value (got "${pair}")`);
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
    }
    return out;
  };
}

/** A list of objects: a JSON array (`[{"to":"default","via":"192.0.2.1"}]`). */
function jsonArrayFlag(flag: string): (v: string) => unknown[] {
  return (text) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`${flag}: not valid JSON`);
    }
    if (!Array.isArray(parsed)) throw new UsageError(`${flag}: must be a JSON array`);
    return parsed;
  };
}

/**
 * A secret's flag: `-` reads it from standard input, its first line without
 * the line end, so it stays out of the process list and the shell's history.
 */
function secretFlag(value: string): string {
  if (value !== '-') return value;
  return (readFileSync(0, 'utf8').split('\n')[0] ?? '').replace(/\r$/, '');
}

/** How a flag's text becomes the field's value, from the field's schema. */
function parserOf(
  flag: string,
  schema: FieldSchema,
): { arg: string; parse?: (v: string) => unknown } {
  const choices = schema.anyOf?.map((x) => x.const);
  if (choices?.every((c): c is string => typeof c === 'string')) {
    // One of some words (`raw` or `template`).
    return {
      arg: `<${choices.join('|')}>`,
      parse: (v) => {
        if (!choices.includes(v)) {
          throw new UsageError(`${flag}: must be ${choices.join(' or ')} (got "${v}")`);
        }
        return v;
      },
    };
  }
  if (schema.anyOf) {
    // Rate control: a count or a percentage.
    return { arg: '<n|pct>', parse: countOrPercentFlag(flag, schema.anyOf[0]?.minimum ?? 0) };
  }
  switch (schema.type) {
    case 'string':
      return schema.writeOnly ? { arg: '<value|->', parse: secretFlag } : { arg: '<value>' };
    case 'integer':
      return { arg: '<n>', parse: intFlag(flag, schema.minimum ?? 0, schema.maximum) };
    case 'boolean':
      return { arg: '' };
    case 'array':
      if (schema.items?.type === 'string') return { arg: '<list>', parse: commaList };
      if (schema.items?.type === 'object') return { arg: '<json>', parse: jsonArrayFlag(flag) };
      break;
    case 'object':
      return { arg: '<name=value,...|json>', parse: objectFlag(flag) };
  }
  // A declaration must not silently lose a field: a new kind of field needs a parser here.
  throw new Error(`${flag}: no flag form for a field of this schema (${JSON.stringify(schema)})`);
}

/** The command under `parent` named `word`, made when it is not there yet. */
function child(parent: Command, word: string, path: string): Command {
  const found = parent.commands.find((c) => c.name() === word);
  if (found) return found;
  const made = parent.command(word);
  const about = GROUPS[path];
  if (about) made.description(about);
  return made;
}

/**
 * Every problem with the input, as usage naming the flags. The API checks
 * the same; here it spares a round trip.
 */
function checkInput(type: OperationType, input: Record<string, unknown>): void {
  const problems = withFactRefs(type, operationInputProblems(type, input), input);
  if (problems.length === 0) return;
  const lines = problems.map((p) => {
    // `servers[1]` is the second item of --servers.
    const [, field = p.field, item] = /^([^.[]+)(?:\[(\d+)\])?/.exec(p.field) ?? [];
    const whole = input[field];
    const given =
      item === undefined ? whole : Array.isArray(whole) ? whole[Number(item)] : undefined;
    // A secret is never written back, not even to the terminal it came from.
    const secret = (OPERATIONS[type].input.properties as Record<string, FieldSchema>)[field]
      ?.writeOnly;
    const got = typeof given === 'string' && !secret ? ` (got ${JSON.stringify(given)})` : '';
    return `--${flagName(OPERATIONS[type], field)}: ${inFlagWords(type, p.message)}${got}`;
  });
  throw new UsageError(lines.join('; '));
}

/**
 * Prints the answer (the whole body with -j); any host that did not succeed
 * (failed, skipped, or no answer) makes the exit code 1, as for commands.
 */
function show(ctx: CommandContext, type: OperationType, body: OperationAnswerBody): void {
  if (ctx.json) printJson(body);
  else {
    const own = OPERATION_TABLES[type] as ((b: OperationAnswerBody) => string) | undefined;
    process.stdout.write(own ? own(body) : resultTable(type, body));
  }
  // An answered host is fine, whatever its own state says (a file's `drifted`).
  const ok = (r: OperationAnswerBody['results'][number]) =>
    !['failed', 'skipped', 'no_answer'].includes(r.status) && r.error === undefined;
  if (body.results.length === 0 || !body.results.every(ok)) throw new ExitError(1);
}

/** `--async`: nothing ran yet; the id is the result, and a script reads it from stdout. */
function showSubmitted(ctx: CommandContext, body: OperationAnswerBody): void {
  if (ctx.json) {
    printJson(body);
    return;
  }
  process.stdout.write(`Job ID: ${escapeLine(body.job_id)}\n`);
  const hosts = body.expected_hosts ?? [];
  say(
    escapeLine(
      `Sent to ${hosts.length > 0 ? hosts.join(', ') : 'any one agent'}; results: osapi client job get --job-id ${body.job_id}`,
    ),
  );
}

function registerOne(client: Command, type: OperationType): void {
  const decl: OperationDeclaration = OPERATIONS[type];
  const words = decl.cli.command;
  let parent = client;
  words.slice(0, -1).forEach((w, i) => {
    parent = child(parent, w, words.slice(0, i + 1).join(' '));
  });
  const cmd = parent
    .command(words[words.length - 1] as string)
    .description(`${decl.summary} (${documentedRoute(decl)}).`);
  const required = new Set((decl.input as { required?: string[] }).required ?? []);
  const fields = Object.entries(decl.input.properties as Record<string, FieldSchema>);
  for (const [field, schema] of fields) {
    const flag = `--${flagName(decl, field)}`;
    const { arg, parse } = parserOf(flag, schema);
    const help = decl.cli.flags?.[field] ?? ROLLOUT_HELP[field] ?? schema.description ?? field;
    const spec = arg ? `${flag} ${arg}` : flag;
    if (required.has(field)) {
      if (parse) cmd.requiredOption(spec, help, parse);
      else cmd.requiredOption(spec, help);
    } else if (parse) cmd.option(spec, help, parse);
    else cmd.option(spec, help);
    if (decl.cli.negatable?.includes(field)) {
      // Declared after the positive flag, so that neither given leaves the field out.
      cmd.option(`--no-${flagName(decl, field)}`, `send ${field} false`);
    }
  }
  cmd
    .option('-T, --target <target>', TARGET_HELP, '_any')
    .option(
      '--async',
      'do not wait: print the job id at once (then: osapi client job get --job-id ID)',
    )
    .option(
      '--idempotency-key <key>',
      'sent as Idempotency-Key: the same key again (within 24 h) returns the first job',
    );
  if (decl.kind === 'modify') cmd.option('-y, --yes', 'do not ask before changing ALL hosts');
  cmd.action(async (opts: Record<string, unknown>, command: Command) => {
    const input: Record<string, unknown> = {};
    for (const [field] of fields) {
      // Commander names an option by its flag in camelCase: --interface-name → interfaceName.
      const key = flagName(decl, field).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      if (opts[key] !== undefined) input[field] = opts[key];
    }
    checkInput(type, input);
    const { ctx, client: api } = clientFor(command);
    const target = String(opts.target);
    if (decl.kind === 'modify' && target === '_all') {
      // "Set DNS servers ... on each host" asks "This will set DNS servers ... on ALL hosts".
      const change = decl.summary.replace(/ on each host$/, '');
      await confirmChangeOnAll(`${change[0]?.toLowerCase()}${change.slice(1)}`, opts.yes === true);
    }
    const options = {
      async: opts.async === true,
      ...(typeof opts.idempotencyKey === 'string' ? { idempotencyKey: opts.idempotencyKey } : {}),
    };
    const { body } = await api.call(type, target, input as never, options);
    const answer = body as OperationAnswerBody;
    if (options.async) showSubmitted(ctx, answer);
    else show(ctx, type, answer);
  });
}

/** Adds every generated operation command under `client`. */
export function registerOperationCommands(client: Command): void {
  for (const type of OPERATION_TYPES) {
    const decl: OperationDeclaration = OPERATIONS[type];
    if (decl.cli.generated !== false) registerOne(client, type);
  }
}
