// The package handlers on their own: the parsers on output captured from
// dpkg-query, dpkg-deb and apt-get (Debian 12), the data checks, and the
// handlers on this machine where they only read (dpkg-query, apt-get's
// simulation) or where a PATH without the tools makes them answer skipped.
// Installs and removals are tested through the API (test/api/package.test.ts),
// in one file, so two files never contend for dpkg's lock.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { APT_NAME_OPTIONS, NO_APT, NO_DPKG } from '../../src/agent/handlers/package.js';
import { MAX_DEB_BYTES, stageDeb } from '../../src/agent/handlers/package-deb.js';
import {
  aptWarnings,
  DPKG_QUERY_FORMAT,
  fetchedSomething,
  installSimulationProblem,
  isPresent,
  lockProblem,
  parseAptSimulation,
  parseControlFields,
  parseDpkgQuery,
  removeSimulationProblem,
  simulatedInstalls,
  unmetDependencies,
} from '../../src/agent/handlers/package-output.js';
import { isDebPath, operationDataProblems } from '../../src/job/data-checks.js';

const ctx = (): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024 * 1024,
  signal: new AbortController().signal,
});

const HAS_DPKG = existsSync('/usr/bin/dpkg-query');
const HAS_APT = existsSync('/usr/bin/apt-get');
const dir = mkdtempSync(join(tmpdir(), 'osapi-package-handlers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dpkg-query output', () => {
  it('reads each record: size from KiB, the summary whole even with a tab, no size when dpkg has none', () => {
    const out = [
      'adduser\t3.134\tall\tinstalled\t686\tadd and remove users and groups',
      'libc6\t2.36-9+deb12u10\tamd64\tinstalled\t12986\tGNU C Library: Shared libraries',
      'libc6\t2.36-9+deb12u10\ti386\tinstalled\t12000\tGNU C Library: Shared libraries',
      'oldtool\t1:2.0-1\tamd64\tconfig-files\t\told tool\tremoved',
      'half\t0.1\tall\thalf-configured\t\t',
      'broken line without tabs',
      '',
    ].join('\n');
    const packages = parseDpkgQuery(out);
    expect(packages).toEqual([
      {
        name: 'adduser',
        version: '3.134',
        architecture: 'all',
        status: 'installed',
        size: 686 * 1024,
        description: 'add and remove users and groups',
      },
      {
        name: 'libc6',
        version: '2.36-9+deb12u10',
        architecture: 'amd64',
        status: 'installed',
        size: 12986 * 1024,
        description: 'GNU C Library: Shared libraries',
      },
      {
        name: 'libc6',
        version: '2.36-9+deb12u10',
        architecture: 'i386',
        status: 'installed',
        size: 12000 * 1024,
        description: 'GNU C Library: Shared libraries',
      },
      {
        name: 'oldtool',
        version: '1:2.0-1',
        architecture: 'amd64',
        status: 'config-files',
        description: 'old tool\tremoved',
      },
      {
        name: 'half',
        version: '0.1',
        architecture: 'all',
        status: 'half-configured',
        description: '',
      },
    ]);
    // Files on the host: everything but what only the database remembers.
    expect(packages.filter(isPresent).map((p) => p.name)).toEqual([
      'adduser',
      'libc6',
      'libc6',
      'half',
    ]);
  });

  it.skipIf(!HAS_DPKG)("reads what this machine's dpkg-query prints in that format", () => {
    const out = execFileSync('dpkg-query', ['-W', `-f=${DPKG_QUERY_FORMAT}`, '--', 'dpkg'], {
      encoding: 'utf8',
    });
    const [dpkg] = parseDpkgQuery(out);
    expect(dpkg).toMatchObject({ name: 'dpkg', status: 'installed' });
    expect(dpkg?.version).toMatch(/^\d/);
    expect(dpkg?.description).toMatch(/Debian package management/i);
    expect((dpkg?.size ?? 0) % 1024).toBe(0);
  });
});

describe('apt-get simulation output', () => {
  it('reads upgrades (a trailing [], several origins, a foreign architecture) and skips new packages', () => {
    const out = `Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  base-files bash libgcrypt20-dev
3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Inst libgcrypt20-dev [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst libc6:i386 [2.36-9+deb12u9] (2.36-9+deb12u10 Debian:12.15/oldstable [i386])
Inst newdep (1.0-1 Debian:12.15/oldstable [amd64])
Conf newdep (1.0-1 Debian:12.15/oldstable [amd64])
`;
    expect(parseAptSimulation(out)).toEqual({
      upgrades: [
        {
          name: 'base-files',
          architecture: 'amd64',
          current_version: '12.4+deb12u11',
          new_version: '12.4+deb12u15',
        },
        {
          name: 'bash',
          architecture: 'amd64',
          current_version: '5.2.15-2+b8',
          new_version: '5.2.15-2+b13',
        },
        {
          name: 'libgcrypt20-dev',
          architecture: 'amd64',
          current_version: '1.10.1-3',
          new_version: '1.10.1-3+deb12u1',
        },
        {
          name: 'libc6',
          architecture: 'i386',
          current_version: '2.36-9+deb12u9',
          new_version: '2.36-9+deb12u10',
        },
      ],
      removals: [],
    });
  });

  it('reads the packages a removal would take with it', () => {
    const out = `The following packages will be REMOVED:
  cmake curl libcurl4
0 upgraded, 0 newly installed, 3 to remove and 142 not upgraded.
Remv cmake [3.25.1-1]
Remv curl [7.88.1-10+deb12u14]
Remv libcurl4 [7.88.1-10+deb12u14]
Remv libfoo:i386 [1.0]
`;
    expect(parseAptSimulation(out)).toEqual({
      upgrades: [],
      removals: ['cmake', 'curl', 'libcurl4', 'libfoo'],
    });
  });

  it('apt-get update: Get means something was fetched anew, W: lines are warnings', () => {
    const hits =
      'Hit:1 http://deb.debian.org/debian bookworm InRelease\nReading package lists...\n';
    const got = `${hits}Get:2 http://deb.debian.org/debian-security bookworm-security InRelease [48.0 kB]\n`;
    expect(fetchedSomething(hits)).toBe(false);
    expect(fetchedSomething(got)).toBe(true);
    expect(
      aptWarnings(
        'W: http://repo.example/dists/x/InRelease: Key is stored in legacy trusted.gpg keyring\nE: other\n',
      ),
    ).toEqual([
      'http://repo.example/dists/x/InRelease: Key is stored in legacy trusted.gpg keyring',
    ]);
  });

  it('names the dependencies apt or dpkg cannot meet', () => {
    const apt = `Reading package lists...
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 osapitest-orph1 : Depends: osapitest-missing1 but it is not installable
                   Depends: osapitest-missing2 (>= 2) but it is not going to be installed
E: Unable to correct problems, you have held broken packages.
`;
    expect(unmetDependencies(apt)).toBe(
      'osapitest-orph1 : Depends: osapitest-missing1 but it is not installable; Depends: osapitest-missing2 (>= 2) but it is not going to be installed',
    );
    const dpkg = `Selecting previously unselected package osapitest-orph1.
dpkg: dependency problems prevent configuration of osapitest-orph1:
 osapitest-orph1 depends on osapitest-missing1; however:
  Package osapitest-missing1 is not installed.

dpkg: error processing package osapitest-orph1 (--install):
 dependency problems - leaving unconfigured
Errors were encountered while processing:
 osapitest-orph1
`;
    expect(unmetDependencies(dpkg)).toBe(
      'osapitest-orph1 depends on osapitest-missing1; however: Package osapitest-missing1 is not installed.',
    );
    expect(unmetDependencies('E: Unable to locate package x\n')).toBe('');
  });

  it('reads what an install would unpack or configure, new or replacing, with its version', () => {
    const out = `Inst libfoo1:i386 [1.0-1] (1.1-1 Debian:12.15/oldstable [i386])
Inst osapitest-ab12 (1.0 localhost [all])
Inst g++ [4:12.2.0-3] (4:12.2.0-4 Debian:12.15/oldstable [amd64]) []
Conf libfoo1:i386 (1.1-1 Debian:12.15/oldstable [i386])
Conf osapitest-ab12 (1.0 localhost [all])
Conf g++ (4:12.2.0-4 Debian:12.15/oldstable [amd64])
Conf half (2.0 Debian:12.15/oldstable [amd64])
`;
    expect(simulatedInstalls(out)).toEqual([
      { name: 'libfoo1', version: '1.1-1' },
      { name: 'osapitest-ab12', version: '1.0' },
      { name: 'g++', version: '4:12.2.0-4' },
      { name: 'half', version: '2.0' },
    ]);
  });

  it('dpkg-deb -f prints the control fields asked for', () => {
    expect(parseControlFields('Package: osapitest-ab12\nVersion: 1:1.0-2\n')).toEqual({
      Package: 'osapitest-ab12',
      Version: '1:1.0-2',
    });
  });
});

describe('what a simulation says of the change asked for', () => {
  const inst = (name: string, version: string) =>
    `Inst ${name} (${version} localhost [all])\nConf ${name} (${version} localhost [all])\n`;

  it('an install of the package named, at the version wanted: it runs', () => {
    expect(installSimulationProblem('g++', 'g++', undefined, inst('g++', '4:12.2.0-3'))).toBeNull();
    expect(installSimulationProblem('a=1.0+', 'a', '1.0+', inst('a', '1.0+'))).toBeNull();
    expect(installSimulationProblem('/tmp/a.deb', 'a', '2.0', inst('a', '2.0'))).toBeNull();
  });

  it('an install that would remove a package: refused, naming it', () => {
    const out = `The following packages will be REMOVED:\n  tzdata\nRemv tzdata [2025b-0+deb12u2]\n${inst('b', '1.0')}`;
    expect(installSimulationProblem('b', 'b', undefined, out)).toBe(
      'installing b would remove tzdata; nothing was installed or removed: an install never removes other packages here (remove them first if they are to go)',
    );
  });

  it('apt read the name or version as something else: refused, saying what it would install', () => {
    expect(installSimulationProblem('zstd+', 'zstd+', undefined, inst('zstd', '1.5'))).toBe(
      `apt-get would not install zstd+ for zstd+ (it would install zstd 1.5); nothing was installed: apt reads a name or version ending in '+' as "install" what comes before it when no package has the whole of it`,
    );
    expect(installSimulationProblem('a=1.0+', 'a', '1.0+', inst('a', '1.0'))).toMatch(
      /^apt-get would not install a 1\.0\+ for a=1\.0\+ \(it would install a 1\.0\); nothing was installed: apt reads/,
    );
    expect(installSimulationProblem('a', 'a', undefined, 'a is already the newest version')).toBe(
      'apt-get would not install a for a (it would install nothing); nothing was installed',
    );
  });

  it('a removal: only the package named goes, nothing is installed, or nothing runs', () => {
    expect(removeSimulationProblem('a', 'Remv a [1.0]\n')).toBeNull();
    expect(removeSimulationProblem('a', 'Remv b [1.0]\nRemv a [1.0]\n')).toBe(
      'removing a would also remove b, which need it; nothing was removed: remove those first',
    );
    expect(removeSimulationProblem('a', `Remv a [1.0]\n${inst('c', '2.0')}`)).toBe(
      'removing a would install c 2.0; nothing was removed',
    );
    expect(removeSimulationProblem('a', "Package 'a' is not installed, so not removed\n")).toBe(
      'apt-get would not remove a; nothing was removed',
    );
  });

  it.skipIf(!HAS_APT)(
    "this machine's apt takes a name as a name with the agent's options (a simulation)",
    () => {
      // `dpkg.` as a regular expression matches dpkg-dev, dpkg-repack... wherever the lists have them.
      const r = spawnSync('apt-get', ['-s', 'install', ...APT_NAME_OPTIONS, '--', 'dpkg.'], {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C' },
      });
      expect(r.status).toBe(100);
      expect(r.stderr).toContain('E: Unable to locate package dpkg.');
      expect(r.stdout).not.toMatch(/^Inst /m);
    },
  );
});

describe('a .deb file taken for an install', () => {
  const signal = new AbortController().signal;
  const debs = join(dir, 'debs');
  mkdirSync(debs, { recursive: true });
  // The copies go under the system's temporary directory: here, one of this test's own.
  const staging = join(dir, 'staging');
  mkdirSync(staging, { recursive: true });
  const tmpBefore = process.env.TMPDIR;
  beforeAll(() => {
    process.env.TMPDIR = staging;
  });
  afterAll(() => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  });

  it('is copied through one descriptor into a fresh directory only root can enter, removed after', async () => {
    const original = join(debs, 'a.deb');
    writeFileSync(original, 'the bytes of a package');
    const staged = await stageDeb(original, signal);
    if (!staged.ok) throw new Error(staged.error);
    const copyDir = join(staged.deb.file, '..');
    expect(staged.deb.file).toMatch(new RegExp(`^${staging}/osapi-deb-[^/]+/package\\.deb$`));
    expect(statSync(copyDir).mode & 0o777).toBe(0o700);
    expect(statSync(staged.deb.file).mode & 0o777).toBe(0o600);
    expect(readFileSync(staged.deb.file, 'utf8')).toBe('the bytes of a package');
    await staged.deb.remove();
    expect(existsSync(copyDir)).toBe(false);
  });

  it('refuses a symbolic link, a directory, a named pipe, a missing file and one over 2 GiB', async () => {
    const link = join(debs, 'link.deb');
    symlinkSync(join(debs, 'a.deb'), link);
    const directory = join(debs, 'dir.deb');
    mkdirSync(directory);
    const pipe = join(debs, 'pipe.deb');
    execFileSync('mkfifo', [pipe]);
    const big = join(debs, 'big.deb');
    writeFileSync(big, '');
    truncateSync(big, MAX_DEB_BYTES + 1);
    for (const [path, error] of [
      [
        link,
        `${link} is a symbolic link: give the path of the file itself (a link can be pointed elsewhere between the check and the install)`,
      ],
      [directory, `${directory} is not a regular file`],
      [pipe, `${pipe} is not a regular file`],
      [join(debs, 'gone.deb'), `there is no file ${join(debs, 'gone.deb')} on this host`],
      [big, `${big} is ${MAX_DEB_BYTES + 1} bytes, more than the 2 GiB a .deb may be here`],
    ] as const) {
      expect(await stageDeb(path, signal), path).toEqual({ ok: false, error });
    }
    // Nothing was left behind for any of them.
    expect(readdirSync(staging)).toEqual([]);
  });
});

describe('lock messages', () => {
  it.each([
    [
      'apt, dpkg frontend lock',
      'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 24474 (python3)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?',
      'the package database is locked by another apt or dpkg run (pid 24474, python3); try again when it ends',
    ],
    [
      'dpkg',
      'dpkg: error: dpkg frontend lock was locked by another process with pid 24474\nNote: removing the lock file is always wrong, can damage the locked area\n',
      'the package database is locked by another apt or dpkg run (pid 24474); try again when it ends',
    ],
    [
      'an older dpkg, without a pid',
      'dpkg: error: dpkg status database is locked by another process',
      'the package database is locked by another apt or dpkg run; try again when it ends',
    ],
    [
      'an older apt',
      'E: Could not get lock /var/lib/dpkg/lock-frontend - open (11: Resource temporarily unavailable)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?',
      'the package database is locked by another apt or dpkg run; try again when it ends',
    ],
    [
      'apt-get update, the lists lock',
      'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)\nE: Unable to lock directory /var/lib/apt/lists/',
      'the package lists are locked by another apt run (pid 812, apt-get); try again when it ends',
    ],
  ])('%s', (_what, output, expected) => {
    expect(lockProblem(output)).toBe(expected);
  });

  it('says nothing of a lock where there is none', () => {
    expect(lockProblem('E: Unable to locate package osapitest-nosuch')).toBeNull();
    expect(
      lockProblem('dpkg: error: cannot access archive /x.deb: No such file or directory'),
    ).toBeNull();
  });
});

describe('data checks', () => {
  it('a .deb path is absolute, normalized, free of control characters, and a .deb', () => {
    for (const ok of ['/tmp/a.deb', '/var/cache/osapi/tool_1.0-1_all.deb', '/a b/c.deb']) {
      expect(isDebPath(ok), ok).toBe(true);
    }
    for (const bad of [
      'a.deb',
      './a.deb',
      '/tmp/../etc/a.deb',
      '/tmp/./a.deb',
      '/tmp//a.deb',
      '/tmp/a.deb/',
      '/tmp/a.tar',
      '/tmp/.deb',
      '/tmp/a\n.deb',
      '/tmp/a\u0000.deb',
      '/tmp/a\u007f.deb',
    ]) {
      expect(isDebPath(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('names and versions as Debian has them, nothing read as an option', () => {
    const fields = (data: unknown) =>
      operationDataProblems('package.install', data).map((p) => p.field);
    expect(fields({ name: 'libstdc++6', version: '1:12.2.0-14~bpo1' })).toEqual([]);
    // Real names and versions ending in '+' stay: apt's simulation is checked for them.
    for (const name of ['g++', 'vera++', 'elpa-ox-texinfo+', 'zstd', 'a.b']) {
      expect(fields({ name }), name).toEqual([]);
    }
    expect(fields({ name: 'curl', version: '2.0+' })).toEqual([]);
    expect(fields({ name: 'curl', version: '1' })).toEqual([]);
    // A trailing '-' is apt's "remove": `apt-get install tzdata-` removes tzdata.
    expect(fields({ name: 'tzdata-' })).toEqual(['name']);
    expect(fields({ name: 'a-' })).toEqual(['name']);
    expect(fields({ name: 'tzdata', version: '2025b-0+deb12u2-' })).toEqual(['version']);
    expect(fields({ name: 'tzdata', version: '-' })).toEqual(['version']);
    expect(operationDataProblems('package.remove', { name: 'tzdata-' })[0]?.message).toMatch(
      /not ending in '-'/,
    );
    expect(fields({ name: '-y' })).toEqual(['name']);
    expect(fields({ name: 'Curl' })).toEqual(['name']);
    expect(fields({ name: 'a' })).toEqual(['name']);
    expect(fields({ name: `a${'b'.repeat(128)}` })).toEqual(['name']);
    expect(fields({ name: 'curl', version: '-1' })).toEqual(['version']);
    expect(fields({ name: 'curl', version: '1.0 2' })).toEqual(['version']);
    expect(fields({ name: 'curl', path: 'curl.deb' })).toEqual(['path']);
    expect(fields({ name: 'curl', timeout: 1801 })).toEqual(['timeout']);
    expect(operationDataProblems('package.install', { name: 'Curl' })[0]?.message).toMatch(
      /Debian package name/,
    );
    expect(operationDataProblems('package.remove', { name: 'curl', force: true })[0]).toEqual({
      field: 'force',
      message: 'is not a known field',
    });
  });
});

describe.skipIf(!HAS_DPKG)('the read handlers on this machine', () => {
  it('package.list: every package with files here, dpkg among them', async () => {
    const out = await runJob('package.list', {}, ctx());
    expect(out.status, out.error).toBe('completed');
    const packages = (out.data as { packages: Array<{ name: string; status: string }> }).packages;
    expect(packages.length).toBeGreaterThan(10);
    expect(packages.find((p) => p.name === 'dpkg')).toMatchObject({ status: 'installed' });
    expect(packages.every((p) => p.status !== 'not-installed' && p.status !== 'config-files')).toBe(
      true,
    );
  });

  it('package.get: one package; one not installed fails saying so', async () => {
    const out = await runJob('package.get', { name: 'dpkg' }, ctx());
    expect(out.status, out.error).toBe('completed');
    expect((out.data as { packages: unknown[] }).packages).toEqual([
      expect.objectContaining({ name: 'dpkg', status: 'installed' }),
    ]);
    const none = await runJob('package.get', { name: 'osapitest-never-installed' }, ctx());
    expect(none).toEqual({
      status: 'failed',
      data: null,
      error: 'package osapitest-never-installed is not installed',
    });
  });

  it('a job whose data is not valid runs nothing', async () => {
    const out = await runJob('package.get', { name: '--help' }, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/^invalid job data: name /);
  });

  it.skipIf(!HAS_APT)(
    "package.updates.list: apt-get's simulation, each update of a package installed here",
    async () => {
      const out = await runJob('package.updates.list', {}, ctx());
      expect(out.status, out.error).toBe('completed');
      const updates = (out.data as { updates: Array<Record<string, string>> }).updates;
      for (const u of updates.slice(0, 5)) {
        expect(Object.keys(u).sort()).toEqual([
          'architecture',
          'current_version',
          'name',
          'new_version',
        ]);
        expect(u.current_version).not.toBe(u.new_version);
        const installed = execFileSync(
          'dpkg-query',
          ['-W', `-f=\${Version}\\n`, '--', `${u.name}:${u.architecture}`],
          { encoding: 'utf8' },
        ).trim();
        expect(installed).toBe(u.current_version);
      }
    },
  );
});

describe('a host without the tools', () => {
  const emptyPath = join(dir, 'empty');
  mkdirSync(emptyPath, { recursive: true });

  it.each([
    ['package.list', {}, NO_DPKG],
    ['package.get', { name: 'dpkg' }, NO_DPKG],
    ['package.install', { name: 'curl' }, NO_DPKG],
    ['package.remove', { name: 'curl' }, NO_DPKG],
    ['package.sources.update', {}, NO_APT],
    ['package.updates.list', {}, NO_APT],
  ])('%s answers skipped', async (type, data, reason) => {
    const path = process.env.PATH;
    process.env.PATH = emptyPath;
    try {
      const out = await runJob(type, data, ctx());
      expect(out).toEqual({ status: 'failed', state: 'skipped', data: null, error: reason });
    } finally {
      process.env.PATH = path;
    }
  });
});
