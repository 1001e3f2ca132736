// group.list, group.get, group.create, group.update and group.delete: the
// host's groups read from /etc/group (accounts.ts) and changed with groupadd,
// gpasswd -M and groupdel, by argument list with `--` before the name. As for
// users, a change that finds the host already as asked runs nothing and
// answers `changed: false`.
import type { OperationData } from '../../contract/operations.js';
import {
  type AccountDeps,
  findGroup,
  findUser,
  HOST_ACCOUNT_DEPS,
  oneAccountChangeAtATime,
  readAccounts,
  sameSet,
  toolFailure,
} from './accounts.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot } from './host-tools.js';
import type { JobHandler } from './types.js';

type Mutation = NodeOutcome<'group.create'>;

const done = (name: string, changed: boolean): Mutation => ({
  ok: true,
  result: { name, changed },
});
const noSuchGroup = (name: string) => failed(`group ${name} does not exist on this host`);
const stopped = () => failed('the agent stopped before changing anything');

export function makeGroupListHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('group.list', async () => {
    const accounts = await readAccounts(deps.paths);
    return { ok: true, result: { groups: accounts.groups } };
  });
}

export function makeGroupGetHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('group.get', async (data) => {
    const group = findGroup(await readAccounts(deps.paths), data.name);
    return group ? { ok: true, result: { groups: [group] } } : noSuchGroup(data.name);
  });
}

async function createGroup(
  data: OperationData<'group.create'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const existing = findGroup(accounts, data.name);
  if (existing) {
    if (data.gid === undefined || data.gid === existing.gid) return done(data.name, false);
    return failed(
      `group ${data.name} already exists with gid ${existing.gid} (asked ${data.gid}); a gid is not changed by this API`,
    );
  }
  if (!deps.runsAsRoot()) return needsRoot(`creating group ${data.name}`);
  const taken =
    data.gid === undefined ? undefined : accounts.groups.find((g) => g.gid === data.gid);
  if (taken)
    return failed(`gid ${data.gid} is group ${taken.name}'s; pick another, or leave gid out`);
  if (signal.aborted) return stopped();
  const args = [
    ...(data.gid !== undefined ? ['-g', String(data.gid)] : []),
    ...(data.system ? ['-r'] : []),
    '--',
    data.name,
  ];
  const run = await deps.tool('groupadd', args, signal);
  return run.kind === 'ok' ? done(data.name, true) : toolFailure(run);
}

async function updateGroup(
  data: OperationData<'group.update'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const group = findGroup(accounts, data.name);
  if (!group) return noSuchGroup(data.name);
  if (sameSet(group.members, data.members)) return done(data.name, false);
  const unknown = data.members.filter((m) => !findUser(accounts, m));
  if (unknown.length > 0) {
    return failed(
      `no user named ${unknown.join(', ')} on this host; a member must be a user of the host`,
    );
  }
  if (!deps.runsAsRoot()) return needsRoot(`changing the members of group ${data.name}`);
  if (signal.aborted) return stopped();
  // gpasswd -M sets the whole list, in /etc/group and /etc/gshadow alike; '' empties it.
  const run = await deps.tool('gpasswd', ['-M', data.members.join(','), '--', data.name], signal);
  return run.kind === 'ok' ? done(data.name, true) : toolFailure(run);
}

async function deleteGroup(
  data: OperationData<'group.delete'>,
  deps: AccountDeps,
  signal: AbortSignal,
): Promise<Mutation> {
  const accounts = await readAccounts(deps.paths);
  const group = findGroup(accounts, data.name);
  if (!group) return done(data.name, false);
  if (group.gid === 0) return failed(`group ${data.name} has gid 0 (root's): it is never deleted`);
  const primaryOf = accounts.users.filter((u) => u.gid === group.gid).map((u) => u.name);
  if (primaryOf.length > 0) {
    return failed(
      `group ${data.name} is the primary group of ${primaryOf.join(', ')}; delete those users or give them another primary group first`,
    );
  }
  if (!deps.runsAsRoot()) return needsRoot(`deleting group ${data.name}`);
  if (signal.aborted) return stopped();
  const run = await deps.tool('groupdel', ['--', data.name], signal);
  return run.kind === 'ok' ? done(data.name, true) : toolFailure(run);
}

export function makeGroupCreateHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('group.create', (data, ctx) =>
    oneAccountChangeAtATime(() => createGroup(data, deps, ctx.signal)),
  );
}

export function makeGroupUpdateHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('group.update', (data, ctx) =>
    oneAccountChangeAtATime(() => updateGroup(data, deps, ctx.signal)),
  );
}

export function makeGroupDeleteHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('group.delete', (data, ctx) =>
    oneAccountChangeAtATime(() => deleteGroup(data, deps, ctx.signal)),
  );
}

export const groupListHandler = makeGroupListHandler();
export const groupGetHandler = makeGroupGetHandler();
export const groupCreateHandler = makeGroupCreateHandler();
export const groupUpdateHandler = makeGroupUpdateHandler();
export const groupDeleteHandler = makeGroupDeleteHandler();
