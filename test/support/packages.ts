// Throwaway Debian packages for the package tests: built with dpkg-deb in a
// temp dir, named osapitest-<random hex>, each holding one file under
// /usr/share/<name>/; purged afterwards. A package source of them on this
// machine, for apt to offer them by name. And a holder of dpkg's lock, the
// way apt and dpkg take it (an fcntl lock on /var/lib/dpkg/lock-frontend),
// for as long as a test needs it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { holdMachineLock } from './machine-lock.js';

/** Whether this machine can run the real package tests: dpkg there, and root to use it. */
export const CAN_CHANGE_PACKAGES =
  process.getuid?.() === 0 && existsSync('/usr/bin/dpkg') && existsSync('/usr/bin/dpkg-deb');

export function throwawayName(): string {
  return `osapitest-${randomBytes(4).toString('hex')}`;
}

export interface DebOptions {
  depends?: string;
  conflicts?: string;
  /** The body of a postinst script (after `#!/bin/sh`), e.g. `exit 1` for one that fails. */
  postinst?: string;
}

/** Builds `<dir>/<name>_<version>_all.deb` and answers its path. */
export function buildDeb(
  dir: string,
  name: string,
  version: string,
  opts: DebOptions = {},
): string {
  const root = join(dir, `${name}-${version}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr', 'share', name), { recursive: true });
  writeFileSync(join(root, 'usr', 'share', name, 'version'), `${version}\n`);
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      `Version: ${version}`,
      'Architecture: all',
      // dpkg-deb leaves it out unless told; dpkg counts it in KiB.
      'Installed-Size: 4',
      'Maintainer: OSAPI tests <tests@example.invalid>',
      ...(opts.depends ? [`Depends: ${opts.depends}`] : []),
      ...(opts.conflicts ? [`Conflicts: ${opts.conflicts}`] : []),
      'Section: misc',
      'Priority: optional',
      `Description: OSAPI test package ${version}`,
      ' Installed and purged by the OSAPI tests.',
      '',
    ].join('\n'),
  );
  if (opts.postinst !== undefined) {
    writeFileSync(join(root, 'DEBIAN', 'postinst'), `#!/bin/sh\n${opts.postinst}\n`, {
      mode: 0o755,
    });
  }
  const deb = join(dir, `${name}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, deb], { stdio: 'ignore' });
  return deb;
}

/**
 * A package source on this machine offering `debs` (built in `dir`), and an
 * apt configuration that reads only it: the answer is the file to give apt
 * as APT_CONFIG. apt's lists, cache and records of automatic installs are
 * kept under `dir`, so the machine's own are untouched and its sources are
 * not read (no network); dpkg's database is the machine's, so what is
 * installed from the source is installed (and purged by the test).
 */
export function localSource(dir: string, debs: string[]): string {
  const paragraphs = debs.map((deb) => {
    if (dirname(deb) !== dir) throw new Error(`${deb} is not in ${dir}`);
    const control = execFileSync('dpkg-deb', ['-f', '--', deb], { encoding: 'utf8' }).trimEnd();
    const bytes = readFileSync(deb);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return `${control}\nFilename: ./${basename(deb)}\nSize: ${bytes.length}\nSHA256: ${sha256}\n`;
  });
  writeFileSync(join(dir, 'Packages'), paragraphs.join('\n'));
  const state = join(dir, 'apt-state');
  for (const sub of ['lists/partial', 'cache/archives/partial', 'sources.list.d']) {
    mkdirSync(join(state, sub), { recursive: true });
  }
  writeFileSync(join(state, 'sources.list'), `deb [trusted=yes] file:${dir} ./\n`);
  const config = join(state, 'apt.conf');
  writeFileSync(
    config,
    [
      `Dir::Etc::SourceList "${join(state, 'sources.list')}";`,
      `Dir::Etc::SourceParts "${join(state, 'sources.list.d')}";`,
      `Dir::State::Lists "${join(state, 'lists')}";`,
      `Dir::State::extended_states "${join(state, 'extended_states')}";`,
      `Dir::Cache "${join(state, 'cache')}";`,
      '',
    ].join('\n'),
  );
  execFileSync('apt-get', ['update'], {
    env: { ...process.env, APT_CONFIG: config, LC_ALL: 'C' },
    stdio: 'ignore',
  });
  return config;
}

/** dpkg's state and version of a package: null when dpkg has no record of it. */
export function dpkgState(name: string): { status: string; version: string } | null {
  try {
    const out = execFileSync(
      'dpkg-query',
      ['-W', `-f=\${db:Status-Status}\\t\${Version}`, '--', name],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const [status = '', version = ''] = out.split('\t');
    return { status, version };
  } catch {
    return null;
  }
}

/** Whether the package is installed (configured) at this version, or at all. */
export function isInstalled(name: string, version?: string): boolean {
  const s = dpkgState(name);
  return s?.status === 'installed' && (version === undefined || s.version === version);
}

/** Takes the throwaway packages off this machine, whatever state they are in. */
export function purge(...names: string[]): void {
  if (names.length === 0) return;
  try {
    execFileSync('dpkg', ['--purge', '--', ...names], { stdio: 'ignore' });
  } catch {
    // Not installed, or already gone.
  }
}

// Takes the locks given as arguments as apt and dpkg do (fcntl, never waiting),
// says so on stdout, and holds them until its stdin closes.
const HOLD_LOCKS = `
import fcntl, os, sys
fds = []
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)
print("held", os.getpid(), flush=True)
sys.stdin.read()
`;

export interface HeldLock {
  pid: number;
  release(): Promise<void>;
}

/** Holds dpkg's frontend lock (and any other lock file given) until released. */
export async function holdDpkgLock(
  paths: string[] = ['/var/lib/dpkg/lock-frontend'],
): Promise<HeldLock> {
  const child: ChildProcess = spawn('/usr/bin/python3', ['-c', HOLD_LOCKS, ...paths], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const release = async () => {
    child.stdin?.end();
    await exited;
  };
  // Held once the helper says so: read from its output, never guessed by a sleep.
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /^held (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the lock helper ended (${code}): ${err}`)));
  });
  return { pid, release };
}

/**
 * Held by a test file that installs and removes packages: dpkg's database is
 * one per machine, so two test runs on it (two checkouts at once, or two
 * files of one run) take turns instead of finding each other's lock.
 */
export function holdPackageTestsLock(): Promise<() => Promise<void>> {
  return holdMachineLock('packages');
}
