// Package operations on hosts managed by dpkg, with apt where it is installed:
// dpkg-query reads what is installed, apt-get installs (a name, or a .deb
// file with its dependencies), removes and updates the lists, dpkg does it
// where apt-get is absent. Every tool runs by argument list, a `--` before
// the name or file. Changes run one at a time on an agent; one that finds
// another apt or dpkg run holding the lock fails at once and says so, since
// the other run may last for minutes.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import {
  type OperationData,
  type OperationType,
  operationTimeoutS,
} from '../../contract/operations.js';
import type { PackageInfo } from '../../contract/package.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, runsAsRoot, runTool, stringEnv, type ToolRun } from './host-tools.js';
import {
  aptWarnings,
  DPKG_QUERY_FORMAT,
  fetchedSomething,
  isInstalled,
  isPresent,
  lockProblem,
  parseAptSimulation,
  parseControlFields,
  parseDpkgQuery,
  unmetDependencies,
} from './package-output.js';
import { serializedOn } from './resolv-conf.js';

export const NO_DPKG = 'no dpkg on this host: its packages are not managed by dpkg';
export const NO_APT = 'no apt-get on this host';
const NO_APT_INSTALL = `${NO_APT}: give the path of a .deb file on the host to install it with dpkg`;

/** Changes queue on this key: one apt or dpkg run at a time from this agent. */
const CHANGES = 'package';

// Never wait for another run's lock (apt would wait up to its own default);
// keep the configuration files the host has, and take new defaults where the
// host has none; ask no question.
const APT_OPTIONS = [
  '-o',
  'DPkg::Lock::Timeout=0',
  '-o',
  'Dpkg::Options::=--force-confdef',
  '-o',
  'Dpkg::Options::=--force-confold',
];
const DPKG_OPTIONS = ['--force-confdef', '--force-confold'];

/** What apt and dpkg run with: C messages (parsed here), and no one to answer questions. */
function toolEnv(): Record<string, string> {
  return {
    ...stringEnv(process.env),
    LC_ALL: 'C',
    DEBIAN_FRONTEND: 'noninteractive',
    APT_LISTCHANGES_FRONTEND: 'none',
  };
}

/**
 * The time a job may take, shared by the tools it runs. It ends a little
 * before the job's timeout so the result, not the API's silence, says why.
 */
class Deadline {
  private readonly endsAt: number;
  constructor(seconds: number) {
    this.endsAt = Date.now() + seconds * 1000 - 2500;
  }
  leftMs(): number {
    return Math.max(1000, this.endsAt - Date.now());
  }
}

function deadlineOf<T extends OperationType>(type: T, data: OperationData<T>): Deadline {
  return new Deadline(operationTimeoutS(type, data));
}

function run(tool: string, args: string[], signal: AbortSignal, deadline: Deadline) {
  return runTool(tool, args, { signal, timeoutMs: deadline.leftMs(), env: toolEnv() });
}

/** Whether `tool` is an executable on PATH, asked without running it. */
export async function hasTool(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** A failed run's error: the lock sentence when it met another run, else the tool's words. */
function failure(tool: string, r: Extract<ToolRun, { kind: 'failed' }>): string {
  const locked = lockProblem(`${r.stderr}\n${r.stdout}`);
  if (locked) return locked;
  const unmet = unmetDependencies(`${r.stdout}\n${r.stderr}`);
  if (unmet) return `${tool} failed: unmet dependencies: ${unmet}`;
  if (r.exitCode === 124) {
    return `${r.error}; it was stopped part way: if it was dpkg's run, \`dpkg --configure -a\` on the host finishes it`;
  }
  return r.error;
}

type Read =
  | { kind: 'missing' }
  | { kind: 'failed'; error: string }
  | { kind: 'ok'; packages: PackageInfo[] };

/** dpkg's records: every package, or those of one name (any architecture). */
async function readPackages(
  name: string | undefined,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<Read> {
  const args = ['-W', `-f=${DPKG_QUERY_FORMAT}`, ...(name === undefined ? [] : ['--', name])];
  const r = await run('dpkg-query', args, signal, deadline);
  if (r.kind === 'missing') return r;
  if (r.kind === 'ok') return { kind: 'ok', packages: parseDpkgQuery(r.stdout) };
  // A name dpkg has never seen is an answer: none.
  if (name !== undefined && /no packages found matching/.test(r.stderr)) {
    return { kind: 'ok', packages: [] };
  }
  return { kind: 'failed', error: r.error };
}

/** `readPackages` for a handler: its packages, or the outcome that ends the handler. */
async function packagesOr<T extends OperationType>(
  name: string | undefined,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<{ packages: PackageInfo[] } | { end: NodeOutcome<T> }> {
  const read = await readPackages(name, signal, deadline);
  if (read.kind === 'missing') return { end: { unsupported: NO_DPKG } };
  if (read.kind === 'failed') return { end: { ok: false, error: read.error } };
  return { packages: read.packages };
}

export const packageListHandler = nodeHandler('package.list', async (data, ctx) => {
  const read = await packagesOr<'package.list'>(
    undefined,
    ctx.signal,
    deadlineOf('package.list', data),
  );
  if ('end' in read) return read.end;
  return { ok: true, result: { packages: read.packages.filter(isPresent) } };
});

export const packageGetHandler = nodeHandler('package.get', async (data, ctx) => {
  const read = await packagesOr<'package.get'>(
    data.name,
    ctx.signal,
    deadlineOf('package.get', data),
  );
  if ('end' in read) return read.end;
  const packages = read.packages.filter(isPresent);
  if (packages.length === 0) return { ok: false, error: `package ${data.name} is not installed` };
  return { ok: true, result: { packages } };
});

// ---- install ------------------------------------------------------------------

/** The package and version a .deb file holds, or why it cannot be installed. */
async function inspectDeb(
  path: string,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<{ ok: true; name: string; version: string } | { ok: false; error: string }> {
  try {
    if (!(await stat(path)).isFile()) return { ok: false, error: `${path} is not a file` };
  } catch {
    return { ok: false, error: `there is no file ${path} on this host` };
  }
  const r = await run('dpkg-deb', ['-f', '--', path, 'Package', 'Version'], signal, deadline);
  if (r.kind === 'missing') return { ok: false, error: `${NO_DPKG} (no dpkg-deb)` };
  if (r.kind === 'failed')
    return { ok: false, error: `${path} is not a .deb file dpkg can read: ${r.error}` };
  const fields = parseControlFields(r.stdout);
  if (!fields.Package || !fields.Version) {
    return { ok: false, error: `${path} names no package or version in its control file` };
  }
  return { ok: true, name: fields.Package, version: fields.Version };
}

/** What an apt error about a name usually means, and what to do. */
function withListsHint(error: string): string {
  return /Unable to locate package|has no installation candidate|Version '[^']*' for '[^']*' was not found/.test(
    error,
  )
    ? `${error}; the host's package lists may be out of date: update them (POST /node/{hostname}/package/update) and try again`
    : error;
}

type InstallOutcome = NodeOutcome<'package.install'>;

/**
 * dpkg -i, where apt-get is absent. dpkg unpacks before it checks
 * dependencies, so a failed install of a package new to the host is taken
 * back out: the host is left as it was.
 */
async function installWithDpkg(
  name: string,
  path: string,
  wasPresent: boolean,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<InstallOutcome | null> {
  const r = await run('dpkg', [...DPKG_OPTIONS, '-i', '--', path], signal, deadline);
  if (r.kind === 'missing') return { unsupported: NO_DPKG };
  if (r.kind === 'ok') return null;
  const why = failure('dpkg', r);
  if (wasPresent || lockProblem(`${r.stderr}\n${r.stdout}`)) return { ok: false, error: why };
  const after = await readPackages(name, new AbortController().signal, new Deadline(60));
  if (after.kind !== 'ok' || !after.packages.some(isPresent)) return { ok: false, error: why };
  const back = await run(
    'dpkg',
    ['-r', '--', name],
    new AbortController().signal,
    new Deadline(60),
  );
  return {
    ok: false,
    error:
      back.kind === 'ok'
        ? `${why}; ${name} was removed again, so the host is as it was`
        : `${why}; removing the part-installed ${name} failed too (${back.kind === 'failed' ? back.error : NO_DPKG}): run \`dpkg -r ${name}\` on the host`,
  };
}

async function install(
  data: OperationData<'package.install'>,
  signal: AbortSignal,
): Promise<InstallOutcome> {
  const deadline = deadlineOf('package.install', data);
  const { name } = data;
  const before = await packagesOr<'package.install'>(name, signal, deadline);
  if ('end' in before) return before.end;

  let wanted = data.version;
  if (data.path !== undefined) {
    const deb = await inspectDeb(data.path, signal, deadline);
    if (!deb.ok) return deb;
    if (deb.name !== name) {
      return { ok: false, error: `${data.path} holds package ${deb.name}, not ${name}` };
    }
    if (wanted !== undefined && deb.version !== wanted) {
      return { ok: false, error: `${data.path} holds ${name} ${deb.version}, not ${wanted}` };
    }
    wanted = deb.version;
  }
  const installed = before.packages.filter(isInstalled);
  const same = installed.find((p) => wanted === undefined || p.version === wanted);
  if (same) return { ok: true, result: { name, changed: false, version: same.version } };
  if (!runsAsRoot()) return needsRoot('installing a package');
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };

  const target = data.path ?? (data.version === undefined ? name : `${name}=${data.version}`);
  // Asking for a version or a file is asking for it even when it is older than what is there.
  const downgrade =
    data.version !== undefined || data.path !== undefined ? ['--allow-downgrades'] : [];
  const apt = await run(
    'apt-get',
    ['install', '-y', ...APT_OPTIONS, ...downgrade, '--', target],
    signal,
    deadline,
  );
  if (apt.kind === 'missing') {
    if (data.path === undefined) return { unsupported: NO_APT_INSTALL };
    const wasPresent = before.packages.some(isPresent);
    const out = await installWithDpkg(name, data.path, wasPresent, signal, deadline);
    if (out) return out;
  } else if (apt.kind === 'failed') {
    return { ok: false, error: withListsHint(failure('apt-get', apt)) };
  }
  const after = await packagesOr<'package.install'>(name, signal, new Deadline(60));
  if ('end' in after) return after.end;
  const now = after.packages.filter(isInstalled);
  const got = now.find((p) => wanted === undefined || p.version === wanted) ?? now[0];
  if (!got)
    return {
      ok: false,
      error: `the install ended without error, yet dpkg does not list ${name} as installed`,
    };
  return { ok: true, result: { name, changed: true, version: got.version } };
}

export const packageInstallHandler = nodeHandler('package.install', (data, ctx) =>
  serializedOn(CHANGES, () => install(data, ctx.signal)),
);

// ---- remove -------------------------------------------------------------------

type RemoveOutcome = NodeOutcome<'package.remove'>;

async function remove(
  data: OperationData<'package.remove'>,
  signal: AbortSignal,
): Promise<RemoveOutcome> {
  const deadline = deadlineOf('package.remove', data);
  const { name } = data;
  const before = await packagesOr<'package.remove'>(name, signal, deadline);
  if ('end' in before) return before.end;
  if (!before.packages.some(isPresent)) return { ok: true, result: { name, changed: false } };
  if (!runsAsRoot()) return needsRoot('removing a package');
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };

  // apt removes what depends on the package too, without asking under -y:
  // only the package named goes, or nothing.
  const sim = await run('apt-get', ['-s', 'remove', '--', name], signal, deadline);
  if (sim.kind === 'missing') {
    const r = await run('dpkg', ['-r', '--', name], signal, deadline);
    if (r.kind === 'missing') return { unsupported: NO_DPKG };
    if (r.kind === 'failed') return { ok: false, error: failure('dpkg', r) };
    return { ok: true, result: { name, changed: true } };
  }
  if (sim.kind === 'failed') return { ok: false, error: failure('apt-get', sim) };
  const others = [...new Set(parseAptSimulation(sim.stdout).removals.filter((n) => n !== name))];
  if (others.length > 0) {
    const shown =
      others.length > 10
        ? `${others.slice(0, 10).join(', ')} and ${others.length - 10} more`
        : others.join(', ');
    return {
      ok: false,
      error: `removing ${name} would also remove ${shown}, which need it; nothing was removed: remove those first`,
    };
  }
  const r = await run('apt-get', ['remove', '-y', ...APT_OPTIONS, '--', name], signal, deadline);
  if (r.kind === 'failed') return { ok: false, error: failure('apt-get', r) };
  if (r.kind === 'missing') return { unsupported: NO_APT };
  return { ok: true, result: { name, changed: true } };
}

export const packageRemoveHandler = nodeHandler('package.remove', (data, ctx) =>
  serializedOn(CHANGES, () => remove(data, ctx.signal)),
);

// ---- package lists --------------------------------------------------------------

export const packageSourcesUpdateHandler = nodeHandler('package.sources.update', (data, ctx) =>
  serializedOn(CHANGES, async () => {
    if (!(await hasTool('apt-get'))) return { unsupported: NO_APT };
    if (!runsAsRoot()) return needsRoot('updating the package lists');
    const deadline = deadlineOf('package.sources.update', data);
    const r = await run('apt-get', ['update', ...APT_OPTIONS], ctx.signal, deadline);
    if (r.kind === 'missing') return { unsupported: NO_APT };
    if (r.kind === 'failed') return { ok: false, error: failure('apt-get', r) };
    const warnings = aptWarnings(`${r.stderr}\n${r.stdout}`);
    return {
      ok: true,
      result: { changed: fetchedSomething(r.stdout), ...(warnings.length > 0 ? { warnings } : {}) },
    };
  }),
);

export const packageUpdatesListHandler = nodeHandler('package.updates.list', async (data, ctx) => {
  // A simulation: it takes no lock and changes nothing, so any agent may run it.
  const r = await run(
    'apt-get',
    ['-s', 'dist-upgrade'],
    ctx.signal,
    deadlineOf('package.updates.list', data),
  );
  if (r.kind === 'missing') return { unsupported: NO_APT };
  if (r.kind === 'failed') return { ok: false, error: failure('apt-get', r) };
  return { ok: true, result: { updates: parseAptSimulation(r.stdout).upgrades } };
});
