// The command operations' wire schemas: the request bodies of exec and shell,
// the job data as stored (defaults applied), and the answer, one item per
// host. The API validates a request with these; the agent checks the job it
// reads from NATS with the same ones, so both sides agree on one definition.
import { type Static, Type } from 'typebox';
import { RolloutFields } from './rollout.js';
import { HOST_STATES } from './states.js';

export const TIMEOUT_DEFAULT_S = 30;
export const TIMEOUT_MAX_S = 300;

const Timeout = Type.Integer({
  minimum: 1,
  maximum: TIMEOUT_MAX_S,
  description: `Seconds before the command's whole process group is killed (1..${TIMEOUT_MAX_S}, default ${TIMEOUT_DEFAULT_S}).`,
});
// Text that reaches exec(2) may not hold NUL bytes, and a command must say
// something: both are refused at the API instead of failing on the host.
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
/** Not blank, no NUL byte. */
export const COMMAND_PATTERN = '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$';
const Command = Type.String({
  minLength: 1,
  maxLength: 65536,
  pattern: COMMAND_PATTERN,
  description: 'The program (exec) or the shell command line (shell): not blank, no NUL bytes.',
});
const Cwd = Type.String({
  minLength: 1,
  maxLength: 4096,
  pattern: NO_NUL_PATTERN,
  description:
    'Working directory on the host. A role with a command policy may use only the directories its policy lists (none when it lists none).',
});

// Names that shells and exec(2) treat as variables; a value holds no NUL byte.
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const ENV_MAX_VARS = 128;
const Env = Type.Record(Type.String(), Type.String({ maxLength: 32768, pattern: NO_NUL_PATTERN }), {
  maxProperties: ENV_MAX_VARS,
  propertyNames: { pattern: ENV_NAME_PATTERN, maxLength: 256 },
  description:
    "Variables set for the command over the agent's environment (with `user`, over a reset one: see docs/api.md). " +
    `Names: letters, digits and _, not starting with a digit; values: no NUL bytes; at most ${ENV_MAX_VARS}. ` +
    'A role with a command policy may set only the names its policy lists.',
});
// Well inside the 1 MiB request body and the 1 MiB NATS message that carries the job.
export const STDIN_MAX_CHARS = 262144;
const Stdin = Type.String({
  maxLength: STDIN_MAX_CHARS,
  description: `Text written to the command's standard input (as UTF-8), which is then closed; without it stdin is /dev/null. At most ${STDIN_MAX_CHARS} characters.`,
});
// A login name as useradd and most systems allow it (Samba machine accounts end in $).
export const USER_PATTERN = '^[A-Za-z_][A-Za-z0-9_.-]*\\$?$';
const User = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: USER_PATTERN,
  description:
    "Run as this account of the host's /etc/passwd: its uid and primary group, HOME, USER, LOGNAME and SHELL. " +
    'Only an agent running as root can; any other agent refuses, running nothing. ' +
    'A role with a command policy may use only the users its policy lists.',
});

/** The fields both kinds of command take beyond the command itself. */
const RunFields = {
  cwd: Type.Optional(Cwd),
  timeout: Type.Optional(Timeout),
  env: Type.Optional(Env),
  stdin: Type.Optional(Stdin),
  user: Type.Optional(User),
};

export const ExecRequest = Type.Object(
  {
    command: Command,
    args: Type.Optional(
      Type.Array(Type.String({ maxLength: 65536, pattern: NO_NUL_PATTERN }), {
        maxItems: 4096,
        description: 'Arguments, passed literally: no shell.',
      }),
    ),
    ...RunFields,
    ...RolloutFields,
  },
  {
    additionalProperties: false,
    $id: 'ExecRequest',
    // Shown in the OpenAPI document; a test checks each one validates.
    examples: [
      { command: 'uname', args: ['-a'] },
      { command: 'ls', args: ['-l', '/var/log'], cwd: '/', timeout: 10 },
      { command: 'apt-get', args: ['-y', 'upgrade'], max_concurrency: 2, max_errors: '5%' },
      { command: 'psql', args: ['-At', '-f', '-'], user: 'postgres', stdin: 'SELECT 1;\n' },
    ],
  },
);
export type ExecRequest = Static<typeof ExecRequest>;

export const ShellRequest = Type.Object(
  { command: Command, ...RunFields, ...RolloutFields },
  {
    additionalProperties: false,
    $id: 'ShellRequest',
    examples: [
      { command: 'uptime' },
      { command: 'df -h | tail -n +2', cwd: '/', timeout: 10 },
      { command: 'systemctl restart nginx', max_concurrency: '10%', max_errors: 1 },
      { command: 'wc -l', stdin: 'a\nb\n', env: { LC_ALL: 'C' } },
    ],
  },
);
export type ShellRequest = Static<typeof ShellRequest>;

/** Job data as stored: defaults applied, so the agent never guesses. */
export const CommandJobData = Type.Object(
  {
    command: Command,
    args: Type.Array(Type.String()),
    cwd: Type.Optional(Cwd),
    timeout: Timeout,
    env: Type.Optional(Env),
    stdin: Type.Optional(Stdin),
    user: Type.Optional(User),
  },
  { additionalProperties: false },
);
export type CommandJobData = Static<typeof CommandJobData>;

export function commandJobData(body: ExecRequest | ShellRequest): CommandJobData {
  return {
    command: body.command,
    args: 'args' in body && body.args ? body.args : [],
    ...(body.cwd !== undefined ? { cwd: body.cwd } : {}),
    timeout: body.timeout ?? TIMEOUT_DEFAULT_S,
    ...(body.env !== undefined ? { env: body.env } : {}),
    ...(body.stdin !== undefined ? { stdin: body.stdin } : {}),
    ...(body.user !== undefined ? { user: body.user } : {}),
  };
}

export const TargetParams = Type.Object({
  hostname: Type.String({
    description: 'Target: _any, _all, a hostname, or a label key:value (e.g. group:web.dev).',
  }),
});

/** Unknown query parameters are refused, like unknown body fields. */
export const CommandQuery = Type.Object(
  {
    async: Type.Optional(
      Type.Boolean({
        description:
          'true: answer 202 with the job id at once, without waiting for agents; read the results with GET /job/{id}.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CommandQuery = Static<typeof CommandQuery>;

export const CommandResultItem = Type.Object({
  hostname: Type.String(),
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Integer(),
  duration_ms: Type.Integer(),
  changed: Type.Boolean(),
  error: Type.Optional(Type.String()),
  /** Ours: the agent's view of how the run ended, and whether a stream was capped. */
  status: Type.Union([
    Type.Literal('completed'),
    Type.Literal('failed'),
    Type.Literal('no_answer'),
  ]),
  /** Ours: the host's state as GET /job/{id} shows it (succeeded, failed, timed_out, ...). */
  state: Type.Enum(HOST_STATES),
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
});
export type CommandResultItem = Static<typeof CommandResultItem>;

export const CommandResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  results: Type.Array(CommandResultItem),
  /**
   * Ours, only with `?async=true` (where `results` is empty): the agents the
   * job went to, so a client knows whose answers to wait for in GET /job/{id}.
   */
  expected_hosts: Type.Optional(
    Type.Array(Type.String(), {
      description:
        'Only with ?async=true: the agents the job went to (empty for _any: whichever agent takes it).',
    }),
  ),
});
export type CommandResponse = Static<typeof CommandResponse>;

export type CommandMode = 'exec' | 'shell';

const COMMAND_MODES: Readonly<Record<string, CommandMode>> = {
  'command.exec.execute': 'exec',
  'command.shell.execute': 'shell',
};

/** `exec` or `shell` for a command operation, undefined for any other. */
export function commandModeOf(type: string): CommandMode | undefined {
  return Object.hasOwn(COMMAND_MODES, type) ? COMMAND_MODES[type] : undefined;
}
