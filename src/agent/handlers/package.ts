import { stat } from 'node:fs/promises';
import {
  type OperationData,
  type OperationType,
  operationTimeoutS,
} from '../../contract/operations.js';
import type { PackageInfo } from '../../contract/package.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  needsRoot,
  runsAsRoot,
  runTool,
  stringEnv,
  type ToolRun,
  toolRunnable,
} from './host-tools.js';
import { stageDeb } from './package-deb.js';
import {
  aptWarnings,
  DPKG_QUERY_FORMAT,
  fetchedSomething,
  installSimulationProblem,
  isInstalled,
  isPresent,
  lockProblem,
  parseAptSimulation,
  parseControlFields,
  parseDpkgQuery,
  removeSimulationProblem,
  shortList,
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

/**
 * A name is a name, never a regular expression: without this, apt reads one
 * it has no package of as a pattern (`zstd.` installs every package whose name
 * holds zstd and one more character). The names taken hold no glob character.
 */
export const APT_NAME_OPTIONS = ['-o', 'APT::Cmd::Pattern-Only=true'];

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

/** dpkg's database: the status file and the journal dpkg-query reads with it. */
const DPKG_STATUS = '/var/lib/dpkg/status';
const DPKG_UPDATES = '/var/lib/dpkg/updates';

/**
 * The whole list as last read, and what the database looked like then. dpkg
 * replaces its status file whole and journals into updates/ between, so an
 * unchanged pair (and PATH, which says which dpkg-query runs) means an
 * unchanged list: reading every host's packages costs no process then.
 */
let lastList: { key: string; packages: PackageInfo[] } | undefined;

async function databaseKey(): Promise<string | null> {
  try {
    const [status, updates] = await Promise.all([stat(DPKG_STATUS), stat(DPKG_UPDATES)]);
    return [status.ino, status.size, status.mtimeMs, updates.mtimeMs, process.env.PATH ?? ''].join(
      '|',
    );
  } catch {
    return null;
  }
}

/** dpkg's records: every package, or those of one name (any architecture). */
async function readPackages(
  name: string | undefined,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<Read> {
  if (name !== undefined) return queryPackages(name, signal, deadline);
  const key = await databaseKey();
  if (key !== null && lastList?.key === key) return { kind: 'ok', packages: lastList.packages };
  const read = await queryPackages(undefined, signal, deadline);
  if (read.kind === 'ok' && key !== null && key === (await databaseKey())) {
    lastList = { key, packages: read.packages };
  }
  return read;
}

async function queryPackages(
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

// ---- what a change did ---------------------------------------------------------

/** Each package with files on the host, by name and architecture: what a failed change is compared with. */
type Snapshot = Map<string, PackageInfo>;

type Failed = { ok: false; error: string; changed?: boolean };

/** dpkg's state of every package before a change, or the failure that stops the change before it runs. */
async function snapshot(
  signal: AbortSignal,
  deadline: Deadline,
): Promise<{ state: Snapshot } | { end: Failed }> {
  const read = await readPackages(undefined, signal, deadline);
  if (read.kind !== 'ok') {
    const why = read.kind === 'failed' ? read.error : NO_DPKG;
    return { end: { ok: false, error: `reading dpkg's state before the change failed: ${why}` } };
  }
  return {
    state: new Map(read.packages.filter(isPresent).map((p) => [`${p.name}:${p.architecture}`, p])),
  };
}

/** What differs between two states, a phrase a package: `foo 1.0 installed`, `bar removed`. */
function differences(before: Snapshot, after: Snapshot): string[] {
  const found: string[] = [];
  for (const [key, p] of after) {
    const was = before.get(key);
    if (!was || was.version !== p.version || was.status !== p.status) {
      found.push(`${p.name} ${p.version} ${p.status}`);
    }
  }
  for (const [key, p] of before) if (!after.has(key)) found.push(`${p.name} removed`);
  return found;
}

/**
 * A change that failed: its error, and whether it left the host other than it
 * was (apt may install dependencies, then fail on the package itself), read
 * back from dpkg against the state before it ran, so `changed` is what
 * happened and the error says what was left.
 */
async function failedChange(error: string, before: Snapshot): Promise<Failed> {
  const now = await snapshot(new AbortController().signal, new Deadline(60));
  if ('end' in now) {
    return {
      ok: false,
      changed: true,
      error: `${error}; what it changed could not be read back (${now.end.error}): see \`dpkg -l\` on the host`,
    };
  }
  const diff = differences(before, now.state);
  if (diff.length === 0) return { ok: false, error };
  return {
    ok: false,
    changed: true,
    error: `${error}; it changed the host part way: ${shortList(diff)}`,
  };
}

// ---- install ------------------------------------------------------------------

/** The package and version a .deb file holds (read from `file`, named `shownAs`), or why it cannot be installed. */
async function inspectDeb(
  file: string,
  shownAs: string,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<{ ok: true; name: string; version: string } | { ok: false; error: string }> {
  const r = await run('dpkg-deb', ['-f', '--', file, 'Package', 'Version'], signal, deadline);
  if (r.kind === 'missing') return { ok: false, error: `${NO_DPKG} (no dpkg-deb)` };
  if (r.kind === 'failed') {
    return {
      ok: false,
      error: `${shownAs} is not a .deb file dpkg can read: ${r.error.replaceAll(file, shownAs)}`,
    };
  }
  const fields = parseControlFields(r.stdout);
  if (!fields.Package || !fields.Version) {
    return { ok: false, error: `${shownAs} names no package or version in its control file` };
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
  file: string,
  wasPresent: boolean,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<InstallOutcome | null> {
  const r = await run('dpkg', [...DPKG_OPTIONS, '-i', '--', file], signal, deadline);
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

/** The install's answer once its tool ended without error: what dpkg has now. */
async function installedNow(
  name: string,
  wanted: string | undefined,
  before: Snapshot,
  signal: AbortSignal,
): Promise<InstallOutcome> {
  const after = await packagesOr<'package.install'>(name, signal, new Deadline(60));
  if ('end' in after) return after.end;
  const got = after.packages
    .filter(isInstalled)
    .find((p) => wanted === undefined || p.version === wanted);
  if (!got) {
    const what = wanted === undefined ? name : `${name} ${wanted}`;
    return failedChange(
      `the install ended without error, yet dpkg does not list ${what} as installed`,
      before,
    );
  }
  return { ok: true, result: { name, changed: true, version: got.version } };
}

/**
 * Installs `data.name` from the package sources, or from `deb`, the agent's
 * own copy of the file at `data.path`. apt is asked first what it would do
 * (a simulation): nothing runs when it would remove a package or install
 * anything but the package named, and the install itself runs with
 * --no-remove.
 */
async function installPackage(
  data: OperationData<'package.install'>,
  present: PackageInfo[],
  deb: string | undefined,
  signal: AbortSignal,
  deadline: Deadline,
): Promise<InstallOutcome> {
  const { name } = data;
  const asked = data.path ?? (data.version === undefined ? name : `${name}=${data.version}`);
  // apt and dpkg name the copy; the person gave the original.
  const shown = (s: string) => (deb === undefined ? s : s.replaceAll(deb, asked));
  let wanted = data.version;
  if (deb !== undefined) {
    const held = await inspectDeb(deb, asked, signal, deadline);
    if (!held.ok) return held;
    if (held.name !== name)
      return { ok: false, error: `${asked} holds package ${held.name}, not ${name}` };
    if (wanted !== undefined && held.version !== wanted) {
      return { ok: false, error: `${asked} holds ${name} ${held.version}, not ${wanted}` };
    }
    wanted = held.version;
  }
  const same = present
    .filter(isInstalled)
    .find((p) => wanted === undefined || p.version === wanted);
  if (same) return { ok: true, result: { name, changed: false, version: same.version } };
  if (!runsAsRoot()) return needsRoot('installing a package');
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };

  // Asking for a version or a file is asking for it even when it is older than what is there.
  const downgrade = data.version !== undefined || deb !== undefined ? ['--allow-downgrades'] : [];
  const args = ['install', ...APT_OPTIONS, ...APT_NAME_OPTIONS, ...downgrade, '--', deb ?? asked];
  const sim = await run('apt-get', ['-s', ...args], signal, deadline);
  if (sim.kind === 'missing') {
    if (deb === undefined) return { unsupported: NO_APT_INSTALL };
    const before = await snapshot(signal, deadline);
    if ('end' in before) return before.end;
    const out = await installWithDpkg(name, deb, present.some(isPresent), signal, deadline);
    if (out === null) return installedNow(name, wanted, before.state, signal);
    if ('ok' in out && !out.ok) return failedChange(shown(out.error), before.state);
    return out;
  }
  if (sim.kind === 'failed')
    return { ok: false, error: shown(withListsHint(failure('apt-get', sim))) };
  const refused = installSimulationProblem(asked, name, wanted, sim.stdout);
  if (refused) return { ok: false, error: refused };

  const before = await snapshot(signal, deadline);
  if ('end' in before) return before.end;
  const apt = await run('apt-get', ['-y', '--no-remove', ...args], signal, deadline);
  if (apt.kind === 'missing') return { unsupported: NO_APT_INSTALL };
  if (apt.kind === 'failed') {
    return failedChange(shown(withListsHint(failure('apt-get', apt))), before.state);
  }
  return installedNow(name, wanted, before.state, signal);
}

async function install(
  data: OperationData<'package.install'>,
  signal: AbortSignal,
): Promise<InstallOutcome> {
  const deadline = deadlineOf('package.install', data);
  const before = await packagesOr<'package.install'>(data.name, signal, deadline);
  if ('end' in before) return before.end;
  if (data.path === undefined) {
    return installPackage(data, before.packages, undefined, signal, deadline);
  }
  const staged = await stageDeb(data.path, signal);
  if (!staged.ok) return staged;
  try {
    return await installPackage(data, before.packages, staged.deb.file, signal, deadline);
  } finally {
    await staged.deb.remove();
  }
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
  const present = await packagesOr<'package.remove'>(name, signal, deadline);
  if ('end' in present) return present.end;
  if (!present.packages.some(isPresent)) return { ok: true, result: { name, changed: false } };
  if (!runsAsRoot()) return needsRoot('removing a package');
  if (signal.aborted) return { ok: false, error: 'the agent stopped before changing anything' };

  // apt removes what depends on the package too, without asking under -y:
  // only the package named goes, or nothing.
  const args = ['remove', ...APT_OPTIONS, ...APT_NAME_OPTIONS, '--', name];
  const sim = await run('apt-get', ['-s', ...args], signal, deadline);
  if (sim.kind === 'failed') return { ok: false, error: failure('apt-get', sim) };
  if (sim.kind === 'ok') {
    const refused = removeSimulationProblem(name, sim.stdout);
    if (refused) return { ok: false, error: refused };
  }
  const before = await snapshot(signal, deadline);
  if ('end' in before) return before.end;
  if (sim.kind === 'missing') {
    // dpkg itself refuses when other packages depend on the one named.
    const r = await run('dpkg', ['-r', '--', name], signal, deadline);
    if (r.kind === 'missing') return { unsupported: NO_DPKG };
    if (r.kind === 'failed') return failedChange(failure('dpkg', r), before.state);
    return { ok: true, result: { name, changed: true } };
  }
  const r = await run('apt-get', ['-y', ...args], signal, deadline);
  if (r.kind === 'missing') return { unsupported: NO_APT };
  if (r.kind === 'failed') return failedChange(failure('apt-get', r), before.state);
  return { ok: true, result: { name, changed: true } };
}

export const packageRemoveHandler = nodeHandler('package.remove', (data, ctx) =>
  serializedOn(CHANGES, () => remove(data, ctx.signal)),
);

// ---- package lists --------------------------------------------------------------

export const packageSourcesUpdateHandler = nodeHandler('package.sources.update', (data, ctx) =>
  serializedOn(CHANGES, async () => {
    if (!(await toolRunnable('apt-get'))) return { unsupported: NO_APT };
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
