// The host's accounts as its files hold them: /etc/passwd, /etc/group and
// /etc/shadow read directly and parsed strictly (a line that is not what its
// format says is skipped, never half-read), and what the users' and groups'
// handlers share: the shadow-utils tools run by argument list, one change at
// a time on this agent. Those tools lock the files (/etc/passwd.lock, ...)
// and write each one whole by rename, so a reader never sees half a change.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { GroupInfo, UserInfo } from '../../contract/users.js';
import { runsAsRoot, runTool, type ToolRun } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';

/** Where the account files are; tests of the parsers give their own text instead. */
export interface AccountPaths {
  passwd: string;
  group: string;
  shadow: string;
  shells: string;
}

export const HOST_ACCOUNT_PATHS: AccountPaths = {
  passwd: '/etc/passwd',
  group: '/etc/group',
  shadow: '/etc/shadow',
  shells: '/etc/shells',
};

/** An id field: decimal digits, no sign, within what the kernel takes. */
const ID = /^(0|[1-9][0-9]{0,9})$/;
const ID_MAX = 4294967294;

function idOf(field: string | undefined): number | null {
  if (field === undefined || !ID.test(field)) return null;
  const n = Number(field);
  return n <= ID_MAX ? n : null;
}

/** A name field as the files may hold it: not empty, no blank, not an NIS `+`/`-` entry. */
function nameOf(field: string | undefined): string | null {
  return field && !/[\s]/.test(field) && !/^[+-]/.test(field) ? field : null;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** `name:x:uid:gid:gecos:home:shell`, seven fields; null for any other line. */
export function parsePasswdLine(line: string): PasswdEntry | null {
  const f = line.split(':');
  if (f.length !== 7) return null;
  const name = nameOf(f[0]);
  const uid = idOf(f[2]);
  const gid = idOf(f[3]);
  if (name === null || uid === null || gid === null) return null;
  return { name, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' };
}

/** `name:x:gid:member,member`, four fields; null for any other line. */
export function parseGroupLine(line: string): GroupInfo | null {
  const f = line.split(':');
  if (f.length !== 4) return null;
  const name = nameOf(f[0]);
  const gid = idOf(f[2]);
  if (name === null || gid === null) return null;
  const members = (f[3] ?? '').split(',').filter((m) => m !== '');
  if (members.some((m) => nameOf(m) === null)) return null;
  return { name, gid, members };
}

/** `name:field:…` of /etc/shadow (nine fields): the name and its password field. */
export function parseShadowLine(line: string): { name: string; password: string } | null {
  const f = line.split(':');
  if (f.length !== 9) return null;
  const name = nameOf(f[0]);
  return name === null ? null : { name, password: f[1] ?? '' };
}

function parsed<T>(text: string, parse: (line: string) => T | null): T[] {
  return text.split('\n').flatMap((l) => (l === '' || l.startsWith('#') ? [] : (parse(l) ?? [])));
}

/** The users of a passwd file, as parsePasswdLine reads them; none when it cannot be read. */
export async function readUsers(path = HOST_ACCOUNT_PATHS.passwd): Promise<PasswdEntry[]> {
  return parsed(await readFile(path, 'utf8').catch(() => ''), parsePasswdLine);
}

/** The groups of a group file, as parseGroupLine reads them; none when it cannot be read. */
export async function readGroups(path = HOST_ACCOUNT_PATHS.group): Promise<GroupInfo[]> {
  return parsed(await readFile(path, 'utf8').catch(() => ''), parseGroupLine);
}

/** The host's accounts, as the files hold them now. */
export interface Accounts {
  users: PasswdEntry[];
  groups: GroupInfo[];
  /** Password fields by user name; null when /etc/shadow cannot be read (an agent not root). */
  shadow: Map<string, string> | null;
}

/** Reads the three files; passwd and group must be readable, shadow may not be. */
export async function readAccounts(paths: AccountPaths = HOST_ACCOUNT_PATHS): Promise<Accounts> {
  const [passwd, group] = await Promise.all([
    readFile(paths.passwd, 'utf8'),
    readFile(paths.group, 'utf8'),
  ]);
  let shadow: Map<string, string> | null = null;
  try {
    const text = await readFile(paths.shadow, 'utf8');
    shadow = new Map(parsed(text, parseShadowLine).map((e) => [e.name, e.password]));
  } catch {
    // EACCES for an agent not root: `locked` is then left out.
  }
  return {
    users: parsed(passwd, parsePasswdLine),
    groups: parsed(group, parseGroupLine),
    shadow,
  };
}

/** Whether the password field is locked: '!' before the hash, or '!' alone (no password set yet). */
export function isLocked(password: string): boolean {
  return password.startsWith('!');
}

/** A user as the API shows it. */
export function userInfo(accounts: Accounts, user: PasswdEntry): UserInfo {
  const password = accounts.shadow?.get(user.name);
  return {
    name: user.name,
    uid: user.uid,
    gid: user.gid,
    home: user.home,
    shell: user.shell,
    groups: supplementaryGroups(accounts, user.name),
    ...(password !== undefined ? { locked: isLocked(password) } : {}),
  };
}

/** The groups whose member list names the user, in the file's order. */
export function supplementaryGroups(accounts: Accounts, name: string): string[] {
  return accounts.groups.filter((g) => g.members.includes(name)).map((g) => g.name);
}

export function findUser(accounts: Accounts, name: string): PasswdEntry | undefined {
  return accounts.users.find((u) => u.name === name);
}

export function findGroup(accounts: Accounts, name: string): GroupInfo | undefined {
  return accounts.groups.find((g) => g.name === name);
}

/** The same names, whatever their order. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((n) => y.has(n));
}

/** The names of `wanted` that name no group of the host, as a sentence part; null when all do. */
export function unknownGroups(accounts: Accounts, wanted: readonly string[]): string | null {
  const missing = wanted.filter((g) => !findGroup(accounts, g));
  return missing.length === 0 ? null : missing.join(', ');
}

/**
 * One account change at a time on this agent: each reads the files, decides
 * and runs its tools as one step, so two jobs at once cannot both decide from
 * the old state (the tools' own locks would refuse the second one anyway).
 */
export function oneAccountChangeAtATime<T>(run: () => Promise<T>): Promise<T> {
  return serializedOn('accounts', run);
}

/** The tools may run this long: under the operations' 60 s, with room to answer. */
export const ACCOUNT_TOOL_TIMEOUT_MS = 50_000;

/** Runs a shadow-utils tool by argument list, its messages in English. */
export function accountTool(
  tool: string,
  args: readonly string[],
  signal: AbortSignal,
  stdin?: string,
): Promise<ToolRun> {
  return runTool(tool, args, {
    signal,
    timeoutMs: ACCOUNT_TOOL_TIMEOUT_MS,
    ...(stdin !== undefined ? { stdin } : {}),
  });
}

/** What the handlers ask of the host, injectable so that tests can play an agent that is not root. */
export interface AccountDeps {
  paths: AccountPaths;
  runsAsRoot(): boolean;
  /** Runs a shadow-utils tool (accounts.ts accountTool). */
  tool(
    tool: string,
    args: readonly string[],
    signal: AbortSignal,
    stdin?: string,
  ): Promise<ToolRun>;
}

export const HOST_ACCOUNT_DEPS: AccountDeps = {
  paths: HOST_ACCOUNT_PATHS,
  runsAsRoot,
  tool: accountTool,
};

/** What a handler answers for a tool that did not succeed: skipped when it is not installed. */
export function toolFailure(
  run: Exclude<ToolRun, { kind: 'ok' }>,
): { unsupported: string } | { ok: false; error: string } {
  if (run.kind === 'missing') {
    return { unsupported: `${run.tool} is not installed on this host (shadow-utils / passwd)` };
  }
  return { ok: false, error: run.error };
}

/**
 * Whether `shell` may be a login shell here: listed in /etc/shells when the
 * host has that file, or a nologin or false that refuses logins (system
 * accounts have those, and /etc/shells does not list them). Null when it
 * may; else why not.
 */
export async function shellProblem(
  shell: string,
  paths: AccountPaths = HOST_ACCOUNT_PATHS,
): Promise<string | null> {
  const refusesLogin = /\/(nologin|false)$/.test(shell);
  let listed = true;
  try {
    const text = await readFile(paths.shells, 'utf8');
    listed = text.split('\n').some((l) => l.trim() === shell);
  } catch {
    // No /etc/shells: any executable is taken, as the tools do.
  }
  if (!listed && !refusesLogin) {
    return `shell ${shell} is not listed in ${paths.shells}; use one it lists, or add it there first`;
  }
  try {
    await access(shell, constants.X_OK);
  } catch {
    return `shell ${shell} is not an executable file on this host`;
  }
  return null;
}
