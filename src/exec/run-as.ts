// Runs a command as another account. The account comes from /etc/passwd (no native module, so
// accounts known only through NSS, such as LDAP or sssd, are not found). Only root may become
// someone else: any other process is refused up front, before anything starts, instead of
// failing inside the child.
import { readFile, stat } from 'node:fs/promises';
import type { EarlyEnd } from './bad-cwd.js';
import { isErrnoError } from './errno.js';

export const PASSWD_FILE = '/etc/passwd';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** What spawn needs to run as the account; uid and gid only when they differ from ours. */
export interface RunAs {
  uid?: number;
  gid?: number;
  /** HOME, USER, LOGNAME and SHELL of the account. */
  identity: Record<string, string>;
  /** The account's home when it is a directory, else `/`: the default working directory. */
  defaultCwd: string;
}

/** `name:password:uid:gid:gecos:home:shell` lines; comments, NIS `+`/`-` lines and junk are skipped. */
export function parsePasswd(text: string): Account[] {
  const accounts: Account[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length !== 7) continue;
    const [name = '', , uid = '', gid = '', , home = '', shell = ''] = fields;
    if (name === '' || /^[#+-]/.test(name) || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    accounts.push({ name, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return accounts;
}

/**
 * What a command run as another account keeps of this process's environment: the locale, time
 * zone, terminal type and PATH, nothing else. The rest may hold this process's own settings and
 * secrets, which the other account must not see (as sudo's env_reset does).
 */
export function environmentForAccount(
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (/^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM)$/.test(name)) kept[name] = value;
  }
  return kept;
}

/** The account to run as, or why the run cannot start. */
export async function resolveRunAs(
  user: string,
  passwdFile = PASSWD_FILE,
): Promise<RunAs | EarlyEnd> {
  let accounts: Account[];
  try {
    accounts = parsePasswd(await readFile(passwdFile, 'utf8'));
  } catch (err) {
    if (!isErrnoError(err)) throw err;
    return {
      end: { kind: 'unknownUser', user },
      error: `cannot run as "${user}": ${passwdFile} cannot be read (${err.code})`,
    };
  }
  const account = accounts.find((a) => a.name === user);
  if (!account) {
    return {
      end: { kind: 'unknownUser', user },
      error: `cannot run as "${user}": no such user in ${passwdFile} on this host`,
    };
  }
  const ownUid = process.getuid?.();
  if (ownUid === undefined) {
    return {
      end: { kind: 'userRefused', user },
      error: `cannot run as "${user}": this platform cannot switch users`,
    };
  }
  const switching = account.uid !== ownUid;
  if (switching && ownUid !== 0) {
    const own = accounts.find((a) => a.uid === ownUid);
    return {
      end: { kind: 'userRefused', user },
      error: `cannot run as "${user}": this agent runs as ${own ? `${own.name} (uid ${ownUid})` : `uid ${ownUid}`}, not root, so it runs commands only as itself`,
    };
  }
  return {
    ...(switching ? { uid: account.uid, gid: account.gid } : {}),
    identity: {
      HOME: account.home,
      USER: account.name,
      LOGNAME: account.name,
      SHELL: account.shell || '/bin/sh',
    },
    defaultCwd: (await isDirectory(account.home)) ? account.home : '/',
  };
}

async function isDirectory(path: string): Promise<boolean> {
  if (path === '') return false;
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
