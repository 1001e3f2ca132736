// Which commands a token may run, from the `commands` policy of its roles
// (api.server.security.roles.NAME.commands): the command lines, the accounts
// it may run them as (`user`), the environment names it may set (`env`) and
// the working directories it may use (`cwd`). A role without a policy that
// grants command:execute may run anything; a token's roles combine by union.
// The API checks a request against it, and the agent checks the signed job
// again.
//
// Every request is hostile, so a pattern is matched word by word and a `*`
// stands for one word (one exec argument) only, never for a separator: see
// docs/security.md "Command policy per role" for the rules in prose.
import { type CommandMode, commandModeOf } from '../contract/command.js';
import { type CustomRoles, rolePermissions } from '../contract/permissions.js';

/**
 * null: unrestricted. Otherwise, per mode, `true` (any command line of that
 * mode) or the patterns it may match; the users a command may run as, the env
 * names it may set and the directories it may use as `cwd`. A job signed
 * before `users`, `env` or `cwd` existed lacks them: it may use none of them.
 */
export type CommandPolicy = {
  exec: true | string[];
  shell: true | string[];
  users?: string[];
  env?: string[];
  cwd?: string[];
} | null;

export interface RolePolicy {
  exec?: boolean | string[];
  shell?: boolean | string[];
  users?: string[];
  env?: string[];
  cwd?: string[];
}

/** The parts of a command job the policy looks at. */
export interface PolicedCommand {
  command: string;
  args?: readonly string[];
  user?: string;
  env?: Record<string, string>;
  cwd?: string;
}

export function commandPolicy(roles: string[], custom: CustomRoles): CommandPolicy {
  const exec: string[] = [];
  const shell: string[] = [];
  const users: string[] = [];
  const env: string[] = [];
  const cwd: string[] = [];
  let anyExec = false;
  let anyShell = false;
  let restricted = false;
  for (const role of roles) {
    const def = Object.hasOwn(custom, role)
      ? (custom[role] as { permissions: string[]; commands?: RolePolicy })
      : undefined;
    if (!def?.commands) {
      // A role with no policy that may run commands at all lifts every
      // restriction; one that may not run commands adds nothing.
      if (rolePermissions(role, custom).includes('command:execute')) return null;
      continue;
    }
    restricted = true;
    // `true` is its own value, not a pattern: a `*` pattern means one word.
    const ex = def.commands.exec;
    if (ex === true) anyExec = true;
    else if (Array.isArray(ex)) exec.push(...ex);
    const sh = def.commands.shell;
    if (sh === true) anyShell = true;
    else if (Array.isArray(sh)) shell.push(...sh);
    users.push(...(def.commands.users ?? []));
    env.push(...(def.commands.env ?? []));
    cwd.push(...(def.commands.cwd ?? []));
  }
  if (!restricted) return null;
  return {
    exec: anyExec ? true : exec,
    shell: anyShell ? true : shell,
    users,
    env,
    cwd,
  };
}

/**
 * For `users` and `env` only, whose names the request schema keeps to a login
 * name's or a variable name's characters: `*` matches any run of characters.
 */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${body}$`);
}

const STAR = 0x2a;
const SLASH = 0x2f;

// What a `*` may stand for. In an exec argument (and a cwd), text handed to
// the program as is, so any character but `/` (a `*` never reaches into
// another directory) and NUL. In a shell line, text the shell reads, so only
// characters no shell gives a meaning to: no separator (`;` `&` `|` newline),
// quote, `$`, backtick, redirection, glob, brace, `~`, `#`, `!`, `=` (an
// assignment before a command), space, tab or other control character.
const SHELL_WORD_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:,@+%-';
const SHELL_WORD = new Uint8Array(128);
for (const c of SHELL_WORD_CHARS) SHELL_WORD[c.charCodeAt(0)] = 1;

const inExecWord = (c: number): boolean => c !== SLASH && c !== 0;
const inShellWord = (c: number): boolean => c < 128 && SHELL_WORD[c] === 1;

/**
 * Whether `text` is `word` with each `*` replaced by one or more characters
 * `inClass` accepts. A walk over the text with the set of pattern positions
 * reached (linear in the text): a backtracking RegExp could take polynomial
 * time on a long hostile argument against a pattern with several `*`.
 */
function globMatch(word: string, text: string, inClass: (c: number) => boolean): boolean {
  const m = word.length;
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  cur[0] = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    next.fill(0);
    let alive = false;
    for (let k = 0; k <= m; k++) {
      if (cur[k] !== 1) continue;
      // Still inside the `*` just passed: it takes this character too.
      if (k > 0 && word.charCodeAt(k - 1) === STAR && inClass(c)) {
        next[k] = 1;
        alive = true;
      }
      if (k < m) {
        const w = word.charCodeAt(k);
        if (w === STAR ? inClass(c) : w === c) {
          next[k + 1] = 1;
          alive = true;
        }
      }
    }
    if (!alive) return false;
    [cur, next] = [next, cur];
  }
  return cur[m] === 1;
}

/**
 * First characters that make an argument more than a name to many programs:
 * an option (`-`), a count or option (`+`: `tail +N`, `sort +1`, X11's
 * `+opt`) or a file of further arguments (`@`: `gcc @file`, `javac @args`).
 */
const OPTION_LEADS = ['-', '+', '@'];

/** Whether one word of a pattern allows one argument (exec), word (shell) or cwd. */
function wordAllows(word: string, text: string, inClass: (c: number) => boolean): boolean {
  if (!word.includes('*')) return word === text;
  // An option only where the pattern writes one: a `*` meant for a unit name
  // must not become `--root=…`, `-H host`, `+5` or `@/etc/args`.
  if (OPTION_LEADS.some((c) => text.startsWith(c) && !word.startsWith(c))) return false;
  // `/var/log/..` is /var, not a file in /var/log. Paths are not rewritten to
  // a normal form and matched after: through a symlink `a/..` need not be
  // `.`, so the text matched must be the path the program gets.
  if (text.split('/').some((s) => s === '.' || s === '..')) return false;
  return globMatch(word, text, inClass);
}

/** The words of a pattern: an exec one on runs of white space, a shell one on single spaces. */
function patternWords(mode: 'exec' | 'shell', pattern: string): string[] {
  return mode === 'exec' ? pattern.trim().split(/\s+/) : pattern.split(' ');
}

/** A word made of `*` only (quotes and backslashes aside): where a program goes, it names any program. */
const isStarsOnly = (word: string): boolean => /^\*+$/.test(word.replace(/['"\\]/g, ''));

/**
 * A shell pattern's tokens, as far as telling where a program goes needs:
 * redirection operators (`>`, `2>&`, `>>`…; their target is the next token),
 * control operators (`;` `&` `|` `&&` `||` `;;`), parentheses, backquotes,
 * and the words between them.
 */
const SHELL_TOKEN = /\d*(?:>>|<<|<>|>\||[<>]&?)|\|\||&&|;;|[;&|()`]|[^\s;&|()`<>]+/g;
const REDIRECTION = /^\d*[<>]/;
/** After these, or an opening `(` or backquote, a shell reads a program. */
const SEPARATORS = new Set([';', '&', '|', '||', '&&', ';;', '(']);
/** In a program's place, these leave the next word in it. */
const RESERVED = new Set(['!', '{', 'if', 'then', 'else', 'elif', 'while', 'until', 'do', 'time']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * The pattern's word, if any, that stands where a program goes and is only
 * `*` (or `**`…), so that it allows any program: the first word of an exec
 * pattern; in a shell pattern, any word the shell would run as a program
 * (first in the line, or after a separator, `(`, `$(`, a backquote or a
 * reserved word such as `then`, past `NAME=value` assignments and
 * redirections). `exec: true` and `shell: true` are the ways to allow any
 * program: such a pattern is refused when the config is loaded
 * (config/load.ts), and matches nothing here.
 */
export function anyProgramWord(mode: 'exec' | 'shell', pattern: string): string | undefined {
  if (mode === 'exec') {
    const program = patternWords('exec', pattern)[0] ?? '';
    return /^\*+$/.test(program) ? program : undefined;
  }
  let commandPlace = true;
  let inBackquote = false;
  let redirectTarget = false;
  for (const [token] of pattern.matchAll(SHELL_TOKEN)) {
    if (redirectTarget) {
      redirectTarget = false;
    } else if (token === '`') {
      inBackquote = !inBackquote;
      commandPlace = inBackquote;
    } else if (SEPARATORS.has(token)) {
      commandPlace = true;
    } else if (token === ')') {
      commandPlace = false;
    } else if (REDIRECTION.test(token)) {
      // A redirection may come before the program: it stays in its place.
      redirectTarget = true;
    } else if (commandPlace) {
      if (isStarsOnly(token)) return token;
      commandPlace = RESERVED.has(token) || ASSIGNMENT.test(token);
    }
  }
  return undefined;
}

/** Exec: one pattern word per element of `[command, ...args]`, separated by spaces. */
function execAllows(pattern: string, argv: readonly string[]): boolean {
  const words = patternWords('exec', pattern);
  return (
    words.length === argv.length &&
    anyProgramWord('exec', pattern) === undefined &&
    words.every((w, i) => wordAllows(w, argv[i] as string, inExecWord))
  );
}

/** Shell: the whole line as written, word by word on single spaces. */
function shellAllows(pattern: string, lineWords: readonly string[]): boolean {
  const words = patternWords('shell', pattern);
  return (
    words.length === lineWords.length &&
    anyProgramWord('shell', pattern) === undefined &&
    words.every((w, i) => wordAllows(w, lineWords[i] as string, inShellWord))
  );
}

const EXEC_RULE =
  'each word of a pattern is one argument; a * matches characters other than "/", not a leading "-", "+" or "@" the pattern does not write, and no "." or ".." path segment';
const SHELL_RULE =
  'the line must be a pattern as written, where a * matches one or more of A-Z a-z 0-9 _ . : , @ + % -, not a leading "-", "+" or "@" the pattern does not write, and no "." or ".." path segment';
const CWD_RULE = 'a * matches characters other than "/", and no "." or ".." path segment';

/**
 * Null when allowed; otherwise a sentence naming the rule that refuses it.
 * Exec checks `[command, ...args]`; shell checks the line `command` (a shell
 * job has no args).
 */
export function checkCommand(
  policy: CommandPolicy,
  mode: 'exec' | 'shell',
  command: string,
  args: readonly string[] = [],
): string | null {
  if (policy === null) return null;
  const patterns = policy[mode];
  if (mode === 'shell' && args.length > 0) {
    return `the command policy of this token's roles checks a shell command's line only, and this one has args`;
  }
  if (patterns === true) return null;
  const argv = [command, ...args];
  const lineWords = command.split(' ');
  const allows = (p: string) => (mode === 'exec' ? execAllows(p, argv) : shellAllows(p, lineWords));
  if (patterns.some(allows)) return null;
  if (patterns.length === 0) {
    return `the command policy of this token's roles allows no ${mode} commands`;
  }
  const asked = JSON.stringify(mode === 'exec' ? argv : command);
  return `the command policy of this token's roles allows ${mode} only for ${quoted(patterns)}; ${asked} matches none (${mode === 'exec' ? EXEC_RULE : SHELL_RULE})`;
}

/** Null when the policy lets a command use `cwd` as its working directory (or none is asked for). */
export function checkWorkingDir(policy: CommandPolicy, cwd: string | undefined): string | null {
  if (policy === null || cwd === undefined) return null;
  const dirs = policy.cwd ?? [];
  if (dirs.some((p) => wordAllows(p, cwd, inExecWord))) return null;
  if (dirs.length === 0) {
    return `the command policy of this token's roles lists no cwd directories, so a command may not set cwd ${JSON.stringify(cwd)}`;
  }
  return `the command policy of this token's roles allows cwd ${quoted(dirs)} only; ${JSON.stringify(cwd)} matches none (${CWD_RULE})`;
}

const quoted = (patterns: readonly string[]) => patterns.map((p) => JSON.stringify(p)).join(', ');

/** Null when the policy lets a command run as `user` (or none is asked for). */
export function checkRunAs(policy: CommandPolicy, user: string | undefined): string | null {
  if (policy === null || user === undefined) return null;
  const users = policy.users ?? [];
  if (users.some((p) => globToRegExp(p).test(user))) return null;
  if (users.length === 0) {
    return `the command policy of this token's roles lists no users, so a command may not run as ${JSON.stringify(user)}`;
  }
  return `the command policy of this token's roles allows running as ${quoted(users)} only; ${JSON.stringify(user)} matches none`;
}

/**
 * Null when the policy lets a command set these env names. Any name may be
 * unsafe for a restricted role (PATH, LD_PRELOAD and BASH_ENV change what an
 * allowed command line runs), so a policy lists the names it allows.
 */
export function checkEnv(policy: CommandPolicy, names: readonly string[]): string | null {
  if (policy === null || names.length === 0) return null;
  const allowed = (policy.env ?? []).map(globToRegExp);
  const refused = names.filter((n) => !allowed.some((re) => re.test(n)));
  if (refused.length === 0) return null;
  if (allowed.length === 0) {
    return `the command policy of this token's roles lists no env names, so a command may not set ${refused.join(', ')}`;
  }
  return `the command policy of this token's roles allows env names ${quoted(policy.env ?? [])} only; ${refused.join(', ')} ${refused.length === 1 ? 'matches' : 'match'} none`;
}

/** The first rule of the policy that refuses this command job, or null. */
export function checkCommandJob(
  policy: CommandPolicy,
  mode: 'exec' | 'shell',
  job: PolicedCommand,
): string | null {
  return (
    checkCommand(policy, mode, job.command, job.args) ??
    checkRunAs(policy, job.user) ??
    checkEnv(policy, Object.keys(job.env ?? {})) ??
    checkWorkingDir(policy, job.cwd)
  );
}

/** The docker operation that runs a command inside a container, ruled by the policy as an exec. */
export const DOCKER_EXEC_OPERATION = 'docker.container.exec';

/**
 * A docker exec as the policy reads an exec: `command[0]` the program, the
 * rest its arguments, the names its `env` sets and its `working_dir` as the
 * cwd; null when the data holds no command to read.
 */
function dockerExecCommand(data: unknown): PolicedCommand | null {
  const d = data as { command?: unknown; env?: unknown; working_dir?: unknown } | null;
  const argv = d?.command;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    return null;
  }
  const env: Record<string, string> = {};
  for (const entry of Array.isArray(d?.env) ? d.env : []) {
    if (typeof entry !== 'string') return null;
    const eq = entry.indexOf('=');
    env[eq < 0 ? entry : entry.slice(0, eq)] = eq < 0 ? '' : entry.slice(eq + 1);
  }
  return {
    command: argv[0] as string,
    args: argv.slice(1) as string[],
    env,
    ...(typeof d?.working_dir === 'string' ? { cwd: d.working_dir } : {}),
  };
}

/** Whether the command policy rules this operation: command exec and shell, and a docker exec. */
export function isPolicedOperation(type: string): boolean {
  return type === DOCKER_EXEC_OPERATION || commandModeOf(type) !== undefined;
}

/**
 * The command an operation runs, as the policy reads it: a command exec or
 * shell as sent, a docker exec as an exec of its argv, env and cwd (a command
 * run inside a container is a command run on the host's behalf); null when
 * the policy does not rule the operation, `unreadable` when its data holds
 * no command the policy can read.
 */
function policedCommandOf(
  type: string,
  data: unknown,
): { mode: CommandMode; command: PolicedCommand } | 'unreadable' | null {
  if (type === DOCKER_EXEC_OPERATION) {
    const command = dockerExecCommand(data);
    return command ? { mode: 'exec', command } : 'unreadable';
  }
  const mode = commandModeOf(type);
  if (!mode) return null;
  const command = commandJobCommand(data);
  return command ? { mode, command } : 'unreadable';
}

/**
 * A command job's data as the policy reads it (its program, args, user, env
 * names and cwd), or null when a field it reads is not of its type.
 */
function commandJobCommand(data: unknown): PolicedCommand | null {
  const d = data as Record<string, unknown> | null;
  if (typeof d?.command !== 'string') return null;
  const { args, user, env, cwd } = d;
  if (args !== undefined && !(Array.isArray(args) && args.every((a) => typeof a === 'string'))) {
    return null;
  }
  if (user !== undefined && typeof user !== 'string') return null;
  if (cwd !== undefined && typeof cwd !== 'string') return null;
  if (env !== undefined && (env === null || typeof env !== 'object' || Array.isArray(env))) {
    return null;
  }
  return {
    command: d.command,
    ...(args !== undefined ? { args: args as string[] } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(env !== undefined ? { env: env as Record<string, string> } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
  };
}

/**
 * Null when the policy lets this operation run (or rules nothing about it);
 * otherwise the sentence that refuses it. The one check the API makes before
 * a job is stored, before a cancel, and the agent makes again from the
 * policy signed into the job.
 */
export function policyRefusal(policy: CommandPolicy, type: string, data: unknown): string | null {
  if (policy === null) return null;
  const policed = policedCommandOf(type, data);
  if (policed === null) return null;
  if (policed === 'unreadable') {
    return 'its command cannot be checked against the command policy of this token’s roles';
  }
  return checkCommandJob(policy, policed.mode, policed.command);
}
