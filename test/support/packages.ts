// Throwaway Debian packages for the package tests: built with dpkg-deb in a
// temp dir, named osapitest-<random hex>, each holding one file under
// /usr/share/<name>/; purged afterwards. And a holder of dpkg's lock, the way
// apt and dpkg take it (an fcntl lock on /var/lib/dpkg/lock-frontend), for as
// long as a test needs it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whether this machine can run the real package tests: dpkg there, and root to use it. */
export const CAN_CHANGE_PACKAGES =
  process.getuid?.() === 0 && existsSync('/usr/bin/dpkg') && existsSync('/usr/bin/dpkg-deb');

export function throwawayName(): string {
  return `osapitest-${randomBytes(4).toString('hex')}`;
}

export interface DebOptions {
  depends?: string;
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
      'Section: misc',
      'Priority: optional',
      `Description: OSAPI test package ${version}`,
      ' Installed and purged by the OSAPI tests.',
      '',
    ].join('\n'),
  );
  const deb = join(dir, `${name}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', root, deb], { stdio: 'ignore' });
  return deb;
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
