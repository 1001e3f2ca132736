// What the users' and groups' schemas (src/contract/users.ts) cannot say:
// names as shadow-utils takes them (never starting with '-', so no value
// can be read as a tool's option), paths that are absolute and plain, a
// key that is one key, a fingerprint that is one. The API refuses the rest
// with a 400 naming the field; the agent refuses it again.
import type { OperationType } from '../contract/operations.js';
import {
  ACCOUNT_NAME_EXPECTED,
  ACCOUNT_NAME_PATTERN,
  type GroupUpdateData,
  SSH_FINGERPRINT_EXPECTED,
  SSH_FINGERPRINT_PATTERN,
  type SshKeyAddData,
  type SshKeyRemoveData,
  type UserCreateData,
  type UserUpdateData,
} from '../contract/users.js';
import type { DataProblem } from './data-checks.js';
import { hasControlCharacter, KEY_EXPECTED, parseKeyToAdd } from './ssh-keys.js';

const ACCOUNT_NAME_RE = new RegExp(ACCOUNT_NAME_PATTERN);
const FINGERPRINT_RE = new RegExp(SSH_FINGERPRINT_PATTERN);

export const NAME_EXPECTED = ACCOUNT_NAME_EXPECTED;
export const FINGERPRINT_EXPECTED = SSH_FINGERPRINT_EXPECTED;

export function isAccountName(s: string): boolean {
  return ACCOUNT_NAME_RE.test(s);
}

/** Why `p` is not an absolute, plain path /etc/passwd can hold; null when it is one. */
export function accountPathProblem(p: string): string | null {
  if (!p.startsWith('/')) return 'must be an absolute path, starting with /';
  // A colon or a newline would end the field, or the line, of /etc/passwd.
  if (p.includes(':') || hasControlCharacter(p)) {
    return 'must not hold a colon or a control character';
  }
  const parts = p.split('/').slice(1);
  if (p !== '/' && parts.some((s) => s === '' || s === '.' || s === '..')) {
    return 'must be a plain path: no empty, . or .. parts and no trailing /';
  }
  return null;
}

/** Each name of a list: valid, and once. */
function nameListProblems(field: string, names: readonly string[]): DataProblem[] {
  const problems: DataProblem[] = [];
  const first = new Map<string, number>();
  names.forEach((n, i) => {
    if (!isAccountName(n)) problems.push({ field: `${field}[${i}]`, message: NAME_EXPECTED });
    else if (first.has(n)) {
      problems.push({ field: `${field}[${i}]`, message: `repeats ${field}[${first.get(n)}]` });
    } else first.set(n, i);
  });
  return problems;
}

function pathField(field: string, value: string | undefined): DataProblem[] {
  if (value === undefined) return [];
  const why = accountPathProblem(value);
  return why ? [{ field, message: why }] : [];
}

/** The problems of a user or group operation's data; [] for any other operation. */
export function accountDataProblems(type: OperationType, data: unknown): DataProblem[] {
  if (!type.startsWith('user.') && !type.startsWith('group.')) return [];
  const d = data as { name?: unknown };
  const problems: DataProblem[] = [];
  if (typeof d.name === 'string' && !isAccountName(d.name)) {
    problems.push({ field: 'name', message: NAME_EXPECTED });
  }
  switch (type) {
    case 'user.create': {
      const c = data as UserCreateData;
      problems.push(...pathField('home', c.home), ...pathField('shell', c.shell));
      problems.push(...nameListProblems('groups', c.groups ?? []));
      break;
    }
    case 'user.update': {
      const u = data as UserUpdateData;
      problems.push(...pathField('home', u.home), ...pathField('shell', u.shell));
      problems.push(...nameListProblems('groups', u.groups ?? []));
      if ([u.shell, u.home, u.groups, u.lock].every((v) => v === undefined)) {
        problems.push({
          field: '',
          message: 'must set at least one of shell, home, groups and lock',
        });
      }
      break;
    }
    case 'group.update':
      problems.push(...nameListProblems('members', (data as GroupUpdateData).members));
      break;
    case 'user.sshkey.add':
      if (!parseKeyToAdd((data as SshKeyAddData).key)) {
        problems.push({ field: 'key', message: KEY_EXPECTED });
      }
      break;
    case 'user.sshkey.remove':
      if (!FINGERPRINT_RE.test((data as SshKeyRemoveData).fingerprint)) {
        problems.push({ field: 'fingerprint', message: FINGERPRINT_EXPECTED });
      }
      break;
  }
  return problems.slice(0, 10);
}
