// Which commands a token may run, from the `commands` policy of its roles
// (api.server.security.roles.NAME.commands). A role without a policy that
// grants command:execute may run anything; a token's roles combine by union. The API
// checks a request against it, and the agent checks the signed job again.
import { BUILTIN_ROLES, type CustomRoles } from './permissions.js';

/** null: unrestricted. Otherwise the patterns each mode may match. */
export type CommandPolicy = { exec: string[]; shell: string[] } | null;

export interface RolePolicy {
  exec?: string[];
  shell?: boolean | string[];
}

export function commandPolicy(roles: string[], custom: CustomRoles): CommandPolicy {
  const exec: string[] = [];
  const shell: string[] = [];
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
  }
  return restricted ? { exec, shell } : null;
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
