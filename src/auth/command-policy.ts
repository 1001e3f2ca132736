// Which commands a token may run, from the `commands` policy of its roles
// (api.server.security.roles.NAME.commands): the command lines, the accounts
// it may run them as (`user`) and the environment names it may set (`env`).
// A role without a policy that grants command:execute may run anything; a
// token's roles combine by union. The API checks a request against it, and
// the agent checks the signed job again.
import { BUILTIN_ROLES, type CustomRoles } from './permissions.js';

/**
 * null: unrestricted. Otherwise the patterns each mode may match, the users a
 * command may run as and the env names it may set. A job signed before `users`
 * and `env` existed has neither: it may use neither.
 */
export type CommandPolicy = {
  exec: string[];
  shell: string[];
  users?: string[];
  env?: string[];
} | null;

export interface RolePolicy {
  exec?: string[];
  shell?: boolean | string[];
  users?: string[];
  env?: string[];
}

/** The parts of a command job the policy looks at. */
export interface PolicedCommand {
  command: string;
  args?: readonly string[];
  user?: string;
  env?: Record<string, string>;
}

export function commandPolicy(roles: string[], custom: CustomRoles): CommandPolicy {
  const exec: string[] = [];
  const shell: string[] = [];
  const users: string[] = [];
  const env: string[] = [];
  let restricted = false;
  for (const role of roles) {
    const def = Object.hasOwn(custom, role)
      ? (custom[role] as { permissions: string[]; commands?: RolePolicy })
      : undefined;
    if (!def?.commands) {
      // A role with no policy that may run commands at all lifts every
      // restriction; one that may not run commands adds nothing.
      const perms = def
        ? def.permissions
        : (BUILTIN_ROLES as Record<string, readonly string[]>)[role];
      if (perms?.includes('command:execute')) return null;
      continue;
    }
    restricted = true;
    exec.push(...(def.commands.exec ?? []));
    const sh = def.commands.shell;
    if (sh === true) shell.push('*');
    else if (Array.isArray(sh)) shell.push(...sh);
    users.push(...(def.commands.users ?? []));
    env.push(...(def.commands.env ?? []));
  }
  return restricted ? { exec, shell, users, env } : null;
}

/** `*` matches any run of characters, spaces included; everything else is literal. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${body}$`);
}

/** The command line as the policy sees it: program and arguments joined by spaces. */
export function commandLine(command: string, args: readonly string[] = []): string {
  return [command, ...args].join(' ');
}

/** Null when allowed; otherwise a sentence naming the rule that refuses it. */
export function checkCommand(
  policy: CommandPolicy,
  mode: 'exec' | 'shell',
  line: string,
): string | null {
  if (policy === null) return null;
  const patterns = policy[mode];
  if (patterns.some((p) => globToRegExp(p).test(line))) return null;
  if (patterns.length === 0) {
    return `the command policy of this token's roles allows no ${mode} commands`;
  }
  return `the command policy of this token's roles allows ${mode} only for ${patterns.map((p) => JSON.stringify(p)).join(', ')}; ${JSON.stringify(line)} matches none`;
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
    checkCommand(
      policy,
      mode,
      mode === 'exec' ? commandLine(job.command, job.args) : job.command,
    ) ??
    checkRunAs(policy, job.user) ??
    checkEnv(policy, Object.keys(job.env ?? {}))
  );
}
