// user.list, user.get, user.create, user.update, user.delete and
// user.password.set: the host's users read from its files (accounts.ts) and
// changed with useradd, usermod, userdel and chpasswd, by argument list with
// `--` before the name. A change first reads what is there: when the host is
// already as asked it answers `changed: false` and runs nothing, so a repeat
// is harmless. A password reaches this agent as its hash only, and reaches
// chpasswd on its standard input, never in an argument another user could
// read in /proc.
import { lstat } from 'node:fs/promises';
import type { OperationData, OperationType } from '../../contract/operations.js';
import {
  type AccountDeps,
  type Accounts,
  findUser,
  HOST_ACCOUNT_DEPS,
  isLocked,
  oneAccountChangeAtATime,
  type PasswdEntry,
  readAccounts,
  sameSet,
  shellProblem,
  supplementaryGroups,
  toolFailure,
  unknownGroups,
  userInfo,
} from './accounts.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot } from './host-tools.js';
import type { JobHandler } from './types.js';

type Outcome<T extends OperationType> = NodeOutcome<T>;
type Mutation = Outcome<'user.create'>;

const done = (name: string, changed: boolean): Mutation => ({
  ok: true,
  result: { name, changed },
});
const noSuchUser = (name: string) => failed(`user ${name} does not exist on this host`);

/** A signal for steps that put things back: they run even when the agent is stopping. */
const untilDone = () => new AbortController().signal;

// ---- reads -----------------------------------------------------------------

export function makeUserListHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.list', async () => {
    const accounts = await readAccounts(deps.paths);
    return { ok: true, result: { users: accounts.users.map((u) => userInfo(accounts, u)) } };
  });
}

export function makeUserGetHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.get', async (data) => {
    const accounts = await readAccounts(deps.paths);
    const user = findUser(accounts, data.name);
    if (!user) return noSuchUser(data.name);
    return { ok: true, result: { users: [userInfo(accounts, user)] } };
  });
}

// ---- create ----------------------------------------------------------------

const listed = (names: readonly string[]) => (names.length > 0 ? names.join(',') : 'none');

/**
 * A user that exists already: `changed: false` when it has every attribute
 * asked, else a failure naming each one that differs. `system` is not
 * compared, and an existing user's password is left as it is.
 */
function existingUser(
  accounts: Accounts,
  user: PasswdEntry,
  data: OperationData<'user.create'>,
): Mutation {
  const differs: string[] = [];
  const check = (what: string, has: string | number, asked: string | number | undefined) => {
    if (asked !== undefined && asked !== has) differs.push(`${what} ${has} (asked ${asked})`);
  };
  check('uid', user.uid, data.uid);
  check('gid', user.gid, data.gid);
  check('home', user.home, data.home);
  check('shell', user.shell, data.shell);
  const groups = supplementaryGroups(accounts, user.name);
  if (data.groups !== undefined && !sameSet(groups, data.groups)) {
    differs.push(`groups ${listed(groups)} (asked ${listed(data.groups)})`);
  }
  if (differs.length === 0) return done(user.name, false);
  return failed(
    `user ${user.name} already exists with ${differs.join(', ')}; change its shell, home or groups with PUT /node/<target>/user/${user.name} (a uid or gid is not changed by this API)`,
  );
}

/** Where useradd puts a home it is not told: `HOME=` of `useradd -D`, then the name. */
async function defaultHome(name: string, deps: AccountDeps, signal: AbortSignal) {
  const run = await deps.tool('useradd', ['-D'], signal);
  const base = run.kind === 'ok' ? /^HOME=(\/.*)$/m.exec(run.stdout)?.[1] : undefined;
  return base ? `${base.replace(/\/$/, '')}/${name}` : null;
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function useraddArgs(data: OperationData<'user.create'>): string[] {
  const args: string[] = [];
  if (data.uid !== undefined) args.push('-u', String(data.uid));
  if (data.gid !== undefined) args.push('-g', String(data.gid));
  if (data.home !== undefined) args.push('-d', data.home);
  if (data.shell !== undefined) args.push('-s', data.shell);
  if (data.groups !== undefined && data.groups.length > 0) args.push('-G', data.groups.join(','));
  // A system account gets no home made; any other its home, from the skeleton.
  args.push(data.system ? '-r' : '-m');
  args.push('--', data.name);
  return args;
}

async function createUser(
  data: OperationData<'user.create'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const existing = findUser(accounts, data.name);
  if (existing) return existingUser(accounts, existing, data);
  if (!deps.runsAsRoot()) return needsRoot(`creating user ${data.name}`);
  const missing = unknownGroups(accounts, data.groups ?? []);
  if (missing) {
    return failed(
      `no group named ${missing} on this host; create it first (POST /node/<target>/group)`,
    );
  }
  if (data.gid !== undefined && !accounts.groups.some((g) => g.gid === data.gid)) {
    return failed(`no group has gid ${data.gid} on this host; create it first, or leave gid out`);
  }
  if (data.shell !== undefined) {
    const why = await shellProblem(data.shell, deps.paths);
    if (why) return failed(why);
  }
  // Should the password fail to be set, the user is taken away again, and
  // its home with it only when useradd made that home.
  const home =
    data.password_hash && !data.system
      ? (data.home ?? (await defaultHome(data.name, deps, signal)))
      : null;
  const homeWasThere = home === null || (await pathExists(home));
  if (signal.aborted) return failed('the agent stopped before changing anything');

  const made = await deps.tool('useradd', useraddArgs(data), signal);
  if (made.kind !== 'ok') return toolFailure(made);
  if (data.password_hash) {
    const set = await deps.tool('chpasswd', ['-e'], signal, `${data.name}:${data.password_hash}\n`);
    if (set.kind !== 'ok') {
      const why = set.kind === 'missing' ? 'chpasswd is not installed on this host' : set.error;
      const undo = await deps.tool(
        'userdel',
        [...(homeWasThere ? [] : ['-r']), '--', data.name],
        untilDone(),
      );
      return failed(
        undo.kind === 'ok'
          ? `${why}; user ${data.name} was removed again, so nothing changed`
          : `${why}; removing user ${data.name} again failed too (${undo.kind === 'missing' ? 'userdel is not installed' : undo.error}): it exists without the password`,
      );
    }
  }
  return done(data.name, true);
}

export function makeUserCreateHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.create', (data, ctx) =>
    oneAccountChangeAtATime(() => createUser(data, deps, ctx.signal)),
  );
}

// ---- update ----------------------------------------------------------------

/** The attributes user.update sets, as the host has them. */
interface UserState {
  shell: string;
  home: string;
  groups: string[];
  /** Undefined when /etc/shadow cannot be read. */
  locked: boolean | undefined;
  /** The password field without its lock, '' when there is none: unlocking that would leave no password. */
  hash: string | undefined;
}

function stateOf(accounts: Accounts, user: PasswdEntry): UserState {
  const password = accounts.shadow?.get(user.name);
  return {
    shell: user.shell,
    home: user.home,
    groups: supplementaryGroups(accounts, user.name),
    locked: password === undefined ? undefined : isLocked(password),
    hash: password?.replace(/^!+/, ''),
  };
}

/** The usermod arguments that take `from` to what `to` asks, [] when nothing differs. */
function usermodArgs(
  from: UserState,
  to: Partial<Omit<UserState, 'hash'>>,
  moveHome: boolean,
): string[] {
  const args: string[] = [];
  if (to.shell !== undefined && to.shell !== from.shell) args.push('-s', to.shell);
  if (to.home !== undefined && to.home !== from.home) {
    args.push('-d', to.home, ...(moveHome ? ['-m'] : []));
  }
  if (to.groups !== undefined && !sameSet(from.groups, to.groups)) {
    args.push('-G', to.groups.join(','));
  }
  if (to.locked !== undefined && to.locked !== from.locked) args.push(to.locked ? '-L' : '-U');
  return args;
}

/** Why the change cannot be made; null when it can. */
async function updateProblem(
  accounts: Accounts,
  before: UserState,
  data: OperationData<'user.update'>,
  deps: AccountDeps,
): Promise<string | null> {
  const missing = unknownGroups(accounts, data.groups ?? []);
  if (missing) {
    return `no group named ${missing} on this host; create it first (POST /node/<target>/group)`;
  }
  if (data.shell !== undefined && data.shell !== before.shell) {
    const why = await shellProblem(data.shell, deps.paths);
    if (why) return why;
  }
  // usermod -m refuses an existing directory, but only after it has written
  // the new path into /etc/passwd: refused here, before anything is run.
  if (data.home !== undefined && data.home !== before.home && (await pathExists(data.home))) {
    return `${data.home} already exists; the home is moved there, so give a path that does not exist yet`;
  }
  if (data.lock === false && before.locked === true && before.hash === '') {
    return `user ${data.name} has no password to unlock; set one (POST /node/<target>/user/${data.name}/password), which unlocks it too`;
  }
  return null;
}

async function updateUser(
  data: OperationData<'user.update'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const user = findUser(accounts, data.name);
  if (!user) return noSuchUser(data.name);
  const before = stateOf(accounts, user);
  const asked = {
    ...(data.shell !== undefined ? { shell: data.shell } : {}),
    ...(data.home !== undefined ? { home: data.home } : {}),
    ...(data.groups !== undefined ? { groups: data.groups } : {}),
    ...(data.lock !== undefined ? { locked: data.lock } : {}),
  };
  const args = usermodArgs(before, asked, true);
  if (args.length === 0) return done(data.name, false);
  if (!deps.runsAsRoot()) return needsRoot(`changing user ${data.name}`);
  const problem = await updateProblem(accounts, before, data, deps);
  if (problem) return failed(problem);
  if (signal.aborted) return failed('the agent stopped before changing anything');

  const run = await deps.tool('usermod', [...args, '--', data.name], signal);
  if (run.kind === 'ok') return done(data.name, true);
  if (run.kind === 'missing') return toolFailure(run);
  // usermod may have written part of the change before it failed: put back
  // what differs from before (the home's path only; its files never moved).
  const now = await readAccounts(deps.paths);
  const after = findUser(now, data.name);
  const back = after ? usermodArgs(stateOf(now, after), before, false) : [];
  if (back.length === 0) return failed(run.error);
  const undo = await deps.tool('usermod', [...back, '--', data.name], untilDone());
  return failed(
    undo.kind === 'ok'
      ? `${run.error}; what usermod had changed was set back, so nothing changed`
      : `${run.error}; setting back what usermod had changed failed too (${undo.kind === 'missing' ? 'usermod is gone' : undo.error})`,
  );
}

export function makeUserUpdateHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.update', (data, ctx) =>
    oneAccountChangeAtATime(() => updateUser(data, deps, ctx.signal)),
  );
}

// ---- delete ----------------------------------------------------------------

async function deleteUser(
  data: OperationData<'user.delete'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const user = findUser(accounts, data.name);
  if (!user) return done(data.name, false);
  if (user.uid === 0) return failed(`user ${data.name} has uid 0 (root's): it is never deleted`);
  if (user.uid === process.getuid?.()) {
    return failed(`user ${data.name} is the one this agent runs as: it is never deleted`);
  }
  if (!deps.runsAsRoot()) return needsRoot(`deleting user ${data.name}`);
  if (signal.aborted) return failed('the agent stopped before changing anything');
  // The home and mail spool stay: files are not removed with an account.
  const run = await deps.tool('userdel', ['--', data.name], signal);
  return run.kind === 'ok' ? done(data.name, true) : toolFailure(run);
}

export function makeUserDeleteHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.delete', (data, ctx) =>
    oneAccountChangeAtATime(() => deleteUser(data, deps, ctx.signal)),
  );
}

// ---- password --------------------------------------------------------------

async function setPassword(
  data: OperationData<'user.password.set'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  if (!findUser(accounts, data.name)) return noSuchUser(data.name);
  if (!deps.runsAsRoot()) return needsRoot(`setting the password of user ${data.name}`);
  if (signal.aborted) return failed('the agent stopped before changing anything');
  // A new salt makes a new hash every time: a password set is always a change.
  const run = await deps.tool('chpasswd', ['-e'], signal, `${data.name}:${data.password_hash}\n`);
  return run.kind === 'ok' ? done(data.name, true) : toolFailure(run);
}

export function makeUserPasswordHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.password.set', (data, ctx) =>
    oneAccountChangeAtATime(() => setPassword(data, deps, ctx.signal)),
  );
}

export const userListHandler = makeUserListHandler();
export const userGetHandler = makeUserGetHandler();
export const userCreateHandler = makeUserCreateHandler();
export const userUpdateHandler = makeUserUpdateHandler();
export const userDeleteHandler = makeUserDeleteHandler();
export const userPasswordHandler = makeUserPasswordHandler();
