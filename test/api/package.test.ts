// The package routes against a real nats-server and two agents, both on this
// machine, with this machine's real dpkg and apt: a throwaway package
// (osapitest-<hex>, built here with dpkg-deb) is installed from its .deb,
// read, upgraded, removed and purged; no other package is installed or
// removed. apt-get update never runs for real (it would reach the network): a
// stand-in apt-get on PATH plays it. dpkg's lock is held by a helper process
// (an fcntl lock, as apt and dpkg take it) to see a locked database refused.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildDeb,
  CAN_CHANGE_PACKAGES,
  dpkgState,
  holdDpkgLock,
  holdPackageTestsLock,
  isInstalled,
  localSource,
  purge,
  throwawayName,
} from '../support/packages.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost, type TempDir, tempDir } from './helpers.js';

const HOSTS = ['pk-01', 'pk-02'];
/** The lock holder is a python3 one-liner: Python has fcntl locks, Node has none. */
const HAS_PYTHON3 = existsSync('/usr/bin/python3');

let sys: TestSystem;
let admin: string;
let reader: string;
let dir: TempDir;
const pkg = throwawayName();
const needy = throwawayName();
const orphan = throwawayName();
/** A dependency no source offers. */
const missing = `${throwawayName()}-missing`;
let deb1: string;
let deb2: string;
let needyDeb: string;
let orphanDeb: string;

let releaseTestsLock: (() => Promise<void>) | undefined;

// Another test run on this machine may be changing packages: its turn first.
beforeAll(async () => {
  releaseTestsLock = await holdPackageTestsLock();
  dir = tempDir('packages');
  if (CAN_CHANGE_PACKAGES) {
    deb1 = buildDeb(dir.path, pkg, '1.0');
    deb2 = buildDeb(dir.path, pkg, '2.0');
    needyDeb = buildDeb(dir.path, needy, '1.0', { depends: pkg });
    orphanDeb = buildDeb(dir.path, orphan, '1.0', { depends: missing });
  }
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'pkg' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
  // Waiting for another run's package tests (about half a minute) is part of this hook.
}, 180_000);
afterAll(async () => {
  try {
    if (CAN_CHANGE_PACKAGES) purge(needy, orphan, pkg);
    await sys?.stop();
    dir?.remove();
  } finally {
    await releaseTestsLock?.();
  }
});

const install = (target: string, body: unknown, token = admin) =>
  post(sys, `/node/${target}/package`, body, token);
const remove = (target: string, name: string, body?: unknown) =>
  request(sys, 'DELETE', `/node/${target}/package/${name}`, body, admin);
const get = (target: string, name: string, token = admin) =>
  request(sys, 'GET', `/node/${target}/package/${name}`, undefined, token);

/** Runs `fn` with these environment variables; the agents are in this process and read them at each run. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const withPath = <T>(path: string, fn: () => Promise<T>) => withEnv({ PATH: path }, fn);

describe.skipIf(!CAN_CHANGE_PACKAGES)('a throwaway package, installed from its .deb file', () => {
  it('a list read before the install does not hide it after (the agent keeps a list only while dpkg has not changed)', async () => {
    const names = async () =>
      (
        (await request(sys, 'GET', '/node/pk-02/package', undefined, reader)).body.results[0]
          .packages as AnyJson[]
      ).map((p) => p.name);
    expect(await names()).not.toContain(pkg);
    expect(await names()).not.toContain(pkg);
    const r = await install('pk-02', { name: pkg, path: deb1 });
    expect(r.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(await names()).toContain(pkg);
    const gone = await request(sys, 'DELETE', `/node/pk-02/package/${pkg}`, undefined, admin);
    expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(await names()).not.toContain(pkg);
  });

  it('installs: changed true; the same again, by file, by name or by version: changed false', async () => {
    const r = await install('pk-01', { name: pkg, path: deb1 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results).toEqual([
      { hostname: 'pk-01', status: 'ok', changed: true, name: pkg, version: '1.0' },
    ]);
    expect(isInstalled(pkg, '1.0')).toBe(true);

    for (const again of [
      { name: pkg, path: deb1 },
      { name: pkg },
      { name: pkg, version: '1.0' },
      { name: pkg, version: '1.0', path: deb1 },
    ]) {
      const a = await install('pk-01', again);
      expect(a.status).toBe(200);
      expect(a.body.results, JSON.stringify(again)).toEqual([
        { hostname: 'pk-01', status: 'ok', changed: false, name: pkg, version: '1.0' },
      ]);
    }
  });

  it('reads it: package.get and package.list show its version, state, size and summary', async () => {
    const one = await get('pk-01', pkg, reader);
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    const info = {
      name: pkg,
      version: '1.0',
      architecture: 'all',
      status: 'installed',
      description: 'OSAPI test package 1.0',
      size: 4096,
    };
    expect(one.body.results).toEqual([{ hostname: 'pk-01', status: 'ok', packages: [info] }]);

    const all = await request(sys, 'GET', '/node/_all/package', undefined, reader);
    expect(all.status).toBe(200);
    const results = byHost(all.body.results);
    expect(results.map((x: AnyJson) => [x.hostname, x.status])).toEqual([
      ['pk-01', 'ok'],
      ['pk-02', 'ok'],
    ]);
    for (const x of results) {
      expect(x.packages.find((p: AnyJson) => p.name === pkg)).toEqual(info);
      expect(x.packages.find((p: AnyJson) => p.name === 'dpkg')).toBeDefined();
    }
  });

  it('refuses a file that holds another package or version, installing nothing', async () => {
    const other = await install('pk-01', { name: needy, path: deb1 });
    expect(other.body.results).toEqual([
      {
        hostname: 'pk-01',
        status: 'failed',
        changed: false,
        error: `${deb1} holds package ${pkg}, not ${needy}`,
      },
    ]);
    const version = await install('pk-01', { name: pkg, path: deb2, version: '3.0' });
    expect(version.body.results[0]).toMatchObject({
      status: 'failed',
      error: `${deb2} holds ${pkg} 2.0, not 3.0`,
    });
    const missing = await install('pk-01', { name: pkg, path: join(dir.path, 'gone.deb') });
    expect(missing.body.results[0]).toMatchObject({
      status: 'failed',
      error: `there is no file ${join(dir.path, 'gone.deb')} on this host`,
    });
    writeFileSync(join(dir.path, 'fake.deb'), 'not an archive');
    const fake = await install('pk-01', { name: pkg, path: join(dir.path, 'fake.deb') });
    expect(fake.body.results[0].error).toMatch(/is not a \.deb file dpkg can read/);
    expect(dpkgState(pkg)).toEqual({ status: 'installed', version: '1.0' });
  });

  it('upgrades from a newer file, and goes back to the older one when asked by file', async () => {
    const up = await install('pk-01', { name: pkg, path: deb2 });
    expect(up.body.results).toEqual([
      { hostname: 'pk-01', status: 'ok', changed: true, name: pkg, version: '2.0' },
    ]);
    expect(isInstalled(pkg, '2.0')).toBe(true);
    const down = await install('pk-01', { name: pkg, path: deb1 });
    expect(down.body.results[0]).toMatchObject({ status: 'ok', changed: true, version: '1.0' });
    expect(isInstalled(pkg, '1.0')).toBe(true);
  });

  it.skipIf(!HAS_PYTHON3)(
    'a locked package database: failed at once with a clear error, nothing changed',
    async () => {
      const lock = await holdDpkgLock();
      try {
        const r = await install('pk-01', { name: pkg, path: deb2 });
        expect(r.status).toBe(200);
        expect(r.body.results).toEqual([
          {
            hostname: 'pk-01',
            status: 'failed',
            changed: false,
            // apt names the holder by its command name: python3, or python3.11 where python3 is a link.
            error: expect.stringMatching(
              new RegExp(
                `^the package database is locked by another apt or dpkg run \\(pid ${lock.pid}, python3[.0-9]*\\); try again when it ends$`,
              ),
            ),
          },
        ]);
        const gone = await remove('pk-01', pkg);
        expect(gone.body.results[0]).toMatchObject({
          status: 'failed',
          error: expect.stringMatching(
            /^the package database is locked by another apt or dpkg run/,
          ),
        });
      } finally {
        await lock.release();
      }
      expect(dpkgState(pkg)).toEqual({ status: 'installed', version: '1.0' });
    },
  );

  it('will not remove a package others need: failed, naming them, nothing removed', async () => {
    const n = await install('pk-01', { name: needy, path: needyDeb });
    expect(n.body.results[0], JSON.stringify(n.body)).toMatchObject({
      status: 'ok',
      changed: true,
    });
    const r = await remove('pk-01', pkg);
    expect(r.body.results).toEqual([
      {
        hostname: 'pk-01',
        status: 'failed',
        changed: false,
        error: `removing ${pkg} would also remove ${needy}, which need it; nothing was removed: remove those first`,
      },
    ]);
    expect(isInstalled(pkg)).toBe(true);
    expect(isInstalled(needy)).toBe(true);
    const first = await remove('pk-01', needy);
    expect(first.body.results[0]).toMatchObject({ status: 'ok', changed: true, name: needy });
  });

  it('a file whose dependencies cannot be met: failed, and nothing of it installed', async () => {
    const r = await install('pk-01', { name: orphan, path: orphanDeb });
    expect(r.body.results[0]).toMatchObject({ status: 'failed', changed: false });
    expect(r.body.results[0].error).toBe(
      `apt-get failed: unmet dependencies: ${orphan} : Depends: ${missing} but it is not installable`,
    );
    expect(isInstalled(orphan)).toBe(false);
    expect(dpkgState(orphan)?.status ?? 'not-installed').toBe('not-installed');
  });

  it('removes: changed true; again: changed false; then it is not installed', async () => {
    const r = await remove('pk-01', pkg);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results).toEqual([{ hostname: 'pk-01', status: 'ok', changed: true, name: pkg }]);
    expect(isInstalled(pkg)).toBe(false);
    const again = await remove('pk-01', pkg);
    expect(again.body.results).toEqual([
      { hostname: 'pk-01', status: 'ok', changed: false, name: pkg },
    ]);
    const read = await get('pk-01', pkg);
    expect(read.status).toBe(200);
    expect(read.body.results).toEqual([
      { hostname: 'pk-01', status: 'failed', error: `package ${pkg} is not installed` },
    ]);
  });

  it('a broadcast one host at a time: the first installs, the second (the same machine) finds it there', async () => {
    const r = await install('group:pkg', { name: pkg, path: deb1, max_concurrency: 1 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const results = byHost(r.body.results);
    expect(results.map((x: AnyJson) => [x.hostname, x.status])).toEqual([
      ['pk-01', 'ok'],
      ['pk-02', 'ok'],
    ]);
    expect(results.map((x: AnyJson) => x.changed).sort()).toEqual([false, true]);
    const gone = await remove('pk-02', pkg, { max_concurrency: 1 });
    expect(gone.body.results).toEqual([
      { hostname: 'pk-02', status: 'ok', changed: true, name: pkg },
    ]);
  });

  it('without apt-get: dpkg installs the file and removes it; a failed install is taken back out', async () => {
    // Every tool of the usual PATH but apt-get: dpkg wants its helpers (sh, rm, ldconfig...).
    const noApt = join(dir.path, 'no-apt');
    mkdirSync(noApt);
    for (const from of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
      if (!existsSync(from)) continue;
      for (const tool of readdirSync(from)) {
        if (tool === 'apt-get') continue;
        try {
          symlinkSync(join(from, tool), join(noApt, tool));
        } catch {
          // the same name in both
        }
      }
    }
    await withPath(noApt, async () => {
      const byName = await install('pk-01', { name: pkg });
      expect(byName.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'skipped',
          changed: false,
          error:
            'no apt-get on this host: give the path of a .deb file on the host to install it with dpkg',
        },
      ]);
      const r = await install('pk-01', { name: pkg, path: deb1 });
      expect(r.body.results).toEqual([
        { hostname: 'pk-01', status: 'ok', changed: true, name: pkg, version: '1.0' },
      ]);
      expect(isInstalled(pkg, '1.0')).toBe(true);

      const bad = await install('pk-01', { name: orphan, path: orphanDeb });
      expect(bad.body.results[0]).toMatchObject({ status: 'failed', changed: false });
      expect(bad.body.results[0].error).toBe(
        `dpkg failed: unmet dependencies: ${orphan} depends on ${missing}; however: Package ${missing} is not installed.; ${orphan} was removed again, so the host is as it was`,
      );
      expect(isInstalled(orphan)).toBe(false);
      expect(['not-installed', 'config-files', undefined]).toContain(dpkgState(orphan)?.status);

      const gone = await remove('pk-01', pkg);
      expect(gone.body.results).toEqual([
        { hostname: 'pk-01', status: 'ok', changed: true, name: pkg },
      ]);
      expect(isInstalled(pkg)).toBe(false);
      const sources = await post(sys, '/node/pk-01/package/update', {}, admin);
      expect(sources.body.results[0]).toMatchObject({
        status: 'skipped',
        error: 'no apt-get on this host',
      });
    });
  });
});

describe.skipIf(!CAN_CHANGE_PACKAGES)(
  'a .deb file is copied, and the copy is what is checked and installed',
  () => {
    const copied = throwawayName();
    afterAll(() => purge(copied));

    it('a .deb given through a symbolic link is refused, nothing installed', async () => {
      const deb = buildDeb(dir.path, copied, '1.0');
      const link = join(dir.path, 'link.deb');
      symlinkSync(deb, link);
      const r = await install('pk-01', { name: copied, path: link });
      expect(r.status).toBe(200);
      expect(r.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'failed',
          changed: false,
          error: `${link} is a symbolic link: give the path of the file itself (a link can be pointed elsewhere between the check and the install)`,
        },
      ]);
      expect(dpkgState(copied)).toBeNull();
    });

    it('apt installs a root-only copy (not the path given), with --no-remove and names as names; the copy is gone after', async () => {
      const deb = join(dir.path, `${copied}_1.0_all.deb`);
      const staging = join(dir.path, 'staging');
      mkdirSync(staging);
      // A stand-in apt-get first on PATH: it notes its arguments, the mode and
      // owner of the directory of a .deb it is given and whether that file is
      // the original's bytes, then runs the real one.
      const bin = join(dir.path, 'apt-notes');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'apt-get'),
        `#!/bin/sh
printf '%s\\n' "$@" >> "${bin}/args"
for a in "$@"; do last="$a"; done
case "$last" in
  *.deb) { stat -c '%a %U' "$(dirname "$last")"; cmp -s "$last" "${deb}" && echo same-bytes; } >> "${bin}/copies" ;;
esac
exec /usr/bin/apt-get "$@"
`,
        { mode: 0o755 },
      );
      await withEnv({ PATH: `${bin}:${process.env.PATH}`, TMPDIR: staging }, async () => {
        const r = await install('pk-01', { name: copied, path: deb });
        expect(r.body.results, JSON.stringify(r.body)).toEqual([
          { hostname: 'pk-01', status: 'ok', changed: true, name: copied, version: '1.0' },
        ]);
        const gone = await remove('pk-01', copied);
        expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: true });
      });
      const args = readFileSync(join(bin, 'args'), 'utf8').split('\n');
      const targets = args.filter((a) => a.endsWith('.deb'));
      // The simulation, then the install: both of the copy, never of the path given.
      expect(targets).toHaveLength(2);
      for (const t of targets)
        expect(t).toMatch(new RegExp(`^${staging}/osapi-deb-[^/]+/package\\.deb$`));
      expect(args).not.toContain(deb);
      expect(args).toContain('--no-remove');
      expect(args.filter((a) => a === 'APT::Cmd::Pattern-Only=true')).toHaveLength(4);
      expect(readFileSync(join(bin, 'copies'), 'utf8')).toBe(
        '700 root\nsame-bytes\n700 root\nsame-bytes\n',
      );
      expect(readdirSync(staging)).toEqual([]);
    });
  },
);

describe.skipIf(!CAN_CHANGE_PACKAGES)(
  'what apt would read as something other than the package named (a package source of throwaway packages)',
  () => {
    // Offered by name, as a mirror would; apt reads only this source while APT_CONFIG names it.
    const offered = throwawayName();
    const rival = throwawayName();
    const base = throwawayName();
    const failing = throwawayName();
    let aptConfig: string;
    beforeAll(() => {
      const source = join(dir.path, 'source');
      mkdirSync(source);
      aptConfig = localSource(source, [
        buildDeb(source, offered, '1.0'),
        buildDeb(source, rival, '1.0', { conflicts: offered }),
        buildDeb(source, base, '1.0'),
        buildDeb(source, failing, '1.0', { depends: base, postinst: 'exit 1' }),
      ]);
    });
    afterAll(() => purge(failing, rival, offered, base));
    const fromSource = <T>(fn: () => Promise<T>) => withEnv({ APT_CONFIG: aptConfig }, fn);

    it('a name read as a regular expression finds nothing: apt is told a name is a name', async () => {
      // `osapitest-1234567.` would match osapitest-12345678 as a regular expression.
      const pattern = `${offered.slice(0, -1)}.`;
      const r = await fromSource(() => install('pk-01', { name: pattern }));
      expect(r.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'failed',
          changed: false,
          error: expect.stringMatching(
            new RegExp(
              `^apt-get failed: E: Unable to locate package ${pattern.replace('.', '\\.')}`,
            ),
          ),
        },
      ]);
      expect(dpkgState(offered)).toBeNull();
    });

    it('a name or version ending in + that apt would read as another package or version: refused, nothing installed', async () => {
      const plus = await fromSource(() => install('pk-01', { name: `${offered}+` }));
      expect(plus.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'failed',
          changed: false,
          error: `apt-get would not install ${offered}+ for ${offered}+ (it would install ${offered} 1.0); nothing was installed: apt reads a name or version ending in '+' as "install" what comes before it when no package has the whole of it`,
        },
      ]);
      const version = await fromSource(() => install('pk-01', { name: offered, version: '1.0+' }));
      expect(version.body.results[0]).toMatchObject({
        status: 'failed',
        changed: false,
        error: expect.stringMatching(
          new RegExp(
            `^apt-get would not install ${offered} 1\\.0\\+ for ${offered}=1\\.0\\+ \\(it would install ${offered} 1\\.0\\)`,
          ),
        ),
      });
      expect(dpkgState(offered)).toBeNull();
    });

    it('a name or version ending in - (apt: "remove") is a 400, nothing sent', async () => {
      for (const body of [{ name: `${offered}-` }, { name: offered, version: '1.0-' }]) {
        const r = await install('pk-01', body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.fields.map((f: { field: string }) => f.field)).toEqual([
          'name' in body && body.name.endsWith('-') ? 'name' : 'version',
        ]);
        expect(r.body.fields[0].message).toMatch(/trailing '-' as "remove"/);
      }
    });

    it('installs by name from the source; a package that conflicts with it is refused, nothing removed', async () => {
      const r = await fromSource(() => install('pk-01', { name: offered }));
      expect(r.body.results, JSON.stringify(r.body)).toEqual([
        { hostname: 'pk-01', status: 'ok', changed: true, name: offered, version: '1.0' },
      ]);
      // apt's way out of the conflict would be to remove what is there.
      const c = await fromSource(() => install('pk-01', { name: rival }));
      expect(c.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'failed',
          changed: false,
          error: `installing ${rival} would remove ${offered}; nothing was installed or removed: an install never removes other packages here (remove them first if they are to go)`,
        },
      ]);
      expect(isInstalled(offered, '1.0')).toBe(true);
      expect(dpkgState(rival)).toBeNull();
      const gone = await fromSource(() => remove('pk-01', offered));
      expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    });

    it('an install that fails part way: failed, changed true, and the error says what it left', async () => {
      const r = await fromSource(() => install('pk-01', { name: failing }));
      const item = r.body.results[0];
      expect(item, JSON.stringify(r.body)).toMatchObject({
        hostname: 'pk-01',
        status: 'failed',
        changed: true,
      });
      expect(item.error).toMatch(/^apt-get failed: /);
      expect(item.error).toContain('it changed the host part way: ');
      expect(item.error).toContain(`${base} 1.0 installed`);
      expect(item.error).toContain(`${failing} 1.0 half-configured`);
      expect(isInstalled(base, '1.0')).toBe(true);
      expect(dpkgState(failing)?.status).toBe('half-configured');
    });
  },
);

describe('package lists and updates', () => {
  /** A stand-in apt-get for `update`: it notes its arguments and prints what ./output holds. */
  function standIn(): {
    path: string;
    args: string;
    output: (text: string, code?: number) => void;
  } {
    const bin = join(dir.path, `stand-in-${Math.random().toString(16).slice(2)}`);
    mkdirSync(bin);
    const script = join(bin, 'apt-get');
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s\\n' "$@" > "${bin}/args"\ncat "${bin}/stdout"\ncat "${bin}/stderr" >&2\nexit $(cat "${bin}/code")\n`,
      { mode: 0o755 },
    );
    return {
      path: `${bin}:${process.env.PATH}`,
      args: join(bin, 'args'),
      output: (text, code = 0) => {
        writeFileSync(join(bin, 'stdout'), code === 0 ? text : '');
        writeFileSync(join(bin, 'stderr'), code === 0 ? '' : text);
        writeFileSync(join(bin, 'code'), String(code));
      },
    };
  }

  it('update (a stand-in apt-get): changed when an index was fetched, not when all were current; never waits on a lock', async () => {
    const apt = standIn();
    await withPath(apt.path, async () => {
      apt.output(
        'Hit:1 http://deb.example/debian bookworm InRelease\nGet:2 http://deb.example/debian bookworm-updates InRelease [55.4 kB]\nReading package lists...\nW: http://deb.example/debian/dists/bookworm/InRelease: Key is stored in legacy trusted.gpg keyring\n',
      );
      const r = await post(sys, '/node/pk-01/package/update', {}, admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.results).toEqual([
        {
          hostname: 'pk-01',
          status: 'ok',
          changed: true,
          warnings: [
            'http://deb.example/debian/dists/bookworm/InRelease: Key is stored in legacy trusted.gpg keyring',
          ],
        },
      ]);
      expect(readFileSync(apt.args, 'utf8').split('\n')).toEqual(
        expect.arrayContaining(['update', 'DPkg::Lock::Timeout=0']),
      );

      apt.output('Hit:1 http://deb.example/debian bookworm InRelease\nReading package lists...\n');
      const same = await post(sys, '/node/_all/package/update', { max_concurrency: 1 }, admin);
      expect(byHost(same.body.results)).toEqual(
        HOSTS.map((h) => ({ hostname: h, status: 'ok', changed: false })),
      );

      apt.output(
        'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)\nE: Unable to lock directory /var/lib/apt/lists/\n',
        100,
      );
      const locked = await post(sys, '/node/pk-02/package/update', {}, admin);
      expect(locked.body.results).toEqual([
        {
          hostname: 'pk-02',
          status: 'failed',
          changed: false,
          error:
            'the package lists are locked by another apt run (pid 4242, apt-get); try again when it ends',
        },
      ]);
    });
  });

  it.skipIf(!CAN_CHANGE_PACKAGES)(
    'updates: the real apt-get simulation, read with a read token',
    async () => {
      const r = await request(sys, 'GET', '/node/pk-02/package/update', undefined, reader);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.results).toEqual([
        { hostname: 'pk-02', status: 'ok', updates: expect.any(Array) },
      ]);
      for (const u of r.body.results[0].updates) {
        expect(Object.keys(u).sort()).toEqual([
          'architecture',
          'current_version',
          'name',
          'new_version',
        ]);
      }
    },
  );
});

describe('refusals (nothing is sent to any agent)', () => {
  it.each([
    ['an upper-case name', { name: 'Curl' }, ['name']],
    ['a name read as an option', { name: '-y' }, ['name']],
    // Throwaway names: were the check ever lost, apt would "remove" a package that is not there.
    ['a name apt reads as "remove"', { name: `${throwawayName()}-` }, ['name']],
    ['a version apt reads as "remove"', { name: throwawayName(), version: '1.0-1-' }, ['version']],
    ['a name too long', { name: `a${'b'.repeat(128)}` }, ['name']],
    ['no name', { version: '1.0' }, ['name']],
    ['a version read as an option', { name: 'curl', version: '--force' }, ['version']],
    ['a version with a space', { name: 'curl', version: '1.0 2' }, ['version']],
    ['a relative path', { name: 'curl', path: 'curl.deb' }, ['path']],
    ['a path with ..', { name: 'curl', path: '/tmp/../etc/curl.deb' }, ['path']],
    ['a path that is not a .deb', { name: 'curl', path: '/tmp/curl.tar' }, ['path']],
    ['a path with a newline', { name: 'curl', path: '/tmp/a\n.deb' }, ['path']],
    ['a timeout above the maximum', { name: 'curl', timeout: 1801 }, ['timeout']],
    ['an unknown field', { name: 'curl', purge: true }, ['purge']],
  ])('install, %s: 400 naming the field', async (_what, body, fields) => {
    const r = await install('_all', body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.fields.map((f: { field: string }) => f.field)).toEqual(fields);
  });

  it('a bad name in the path: 400 naming it, for get and remove', async () => {
    for (const [method, path] of [
      ['GET', '/node/_all/package/Curl'],
      ['DELETE', '/node/_all/package/-rf'],
      ['DELETE', '/node/_all/package/a%0Ab'],
    ] as const) {
      const r = await request(sys, method, path, undefined, admin);
      expect(r.status, `${method} ${path} ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.fields.map((f: { field: string }) => f.field)).toEqual(['name']);
      expect(r.body.error).toMatch(/Debian package name/);
    }
    const extra = await request(sys, 'DELETE', '/node/_all/package/curl', { name: 'other' }, admin);
    expect(extra.status).toBe(400);
  });

  it('changes need package:write: a read token gets 403 naming it, reads are allowed', async () => {
    for (const [method, path, body] of [
      ['POST', '/node/_all/package', { name: 'curl' }],
      ['DELETE', '/node/_all/package/curl', undefined],
      ['POST', '/node/_all/package/update', {}],
    ] as const) {
      const r = await request(sys, method, path, body, reader);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.missing_permission).toBe('package:write');
    }
    const anon = await request(sys, 'GET', '/node/_all/package');
    expect(anon.status).toBe(401);
    const nobody = await request(
      sys,
      'GET',
      '/node/_all/package',
      undefined,
      await sys.token(['read'], ['node:read']),
    );
    expect(nobody.status).toBe(403);
    expect(nobody.body.missing_permission).toBe('package:read');
  });

  it('POST /job checks a package job as the route does', async () => {
    const bad = await post(
      sys,
      '/job',
      {
        operation: { type: 'package.install', data: { name: 'curl', path: 'relative.deb' } },
        target_hostname: 'pk-01',
      },
      admin,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('operation.data.path');
  });
});
