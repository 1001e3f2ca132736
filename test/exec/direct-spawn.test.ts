// Commands started with posix_spawn (src/exec/direct-spawn.ts) against the
// same commands started with Node's spawn: what the child is given (its
// session, signals, descriptors, environment, program lookup) and how a
// failed start is told. test/exec/run-command-node-spawn.test.ts runs the
// runner's whole suite both ways.
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  loadSharedObject,
  NATIVE_SPAWN_PATH,
  spawnMode,
  startProcess,
  useDirectSpawn,
} from '../../src/exec/direct-spawn.js';
import { type RunRequest, runCommand } from '../../src/exec/index.js';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { C_COMPILER, NATIVE_SPAWN_BUILT } from '../support/native-spawn.js';
import { makeTempDir } from './helpers.js';

const base = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 } as const;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => {
  await temp.remove();
});
afterAll(() => useDirectSpawn(true));

/** The same request run both ways, pid and duration left out. */
async function bothWays(req: RunRequest) {
  const results = [];
  for (const on of [true, false]) {
    useDirectSpawn(on);
    // Two ways indeed: otherwise both results would match for nothing.
    expect(spawnMode()).toBe(on ? 'posix_spawn' : 'fork');
    const { pid: _pid, durationMs: _ms, ...rest } = await runCommand(req);
    results.push(rest);
  }
  useDirectSpawn(true);
  return { direct: results[0], node: results[1] };
}

describe('posix_spawn', () => {
  it('is built wherever setup found a C compiler, and used', () => {
    if (C_COMPILER)
      expect(NATIVE_SPAWN_BUILT, `npm run setup builds ${NATIVE_SPAWN_PATH}`).toBe(true);
    expect(spawnMode()).toBe(NATIVE_SPAWN_BUILT ? 'posix_spawn' : 'fork');
    useDirectSpawn(false);
    expect(spawnMode()).toBe('fork');
    useDirectSpawn(true);
  });

  describe.skipIf(!NATIVE_SPAWN_BUILT)('where the module is built', () => {
    it('gives the child a session of its own, default signals and nothing blocked', async () => {
      for (const on of [true, false]) {
        useDirectSpawn(on);
        expect(spawnMode()).toBe(on ? 'posix_spawn' : 'fork');
        // The child's own pid, process group and session (fields 1, 5 and 6).
        const ids = await runCommand({
          ...base,
          mode: 'exec',
          command: 'awk',
          args: ['{ print $1, $5, $6 }', '/proc/self/stat'],
        });
        const [pid, group, session] = ids.stdout.trim().split(' ');
        expect(pid).toBe(String(ids.pid));
        expect(group).toBe(pid);
        expect(session).toBe(pid);
        const signals = await runCommand({
          ...base,
          mode: 'exec',
          command: 'grep',
          args: ['-E', '^Sig(Blk|Ign):', '/proc/self/status'],
        });
        // Node ignores SIGPIPE itself: the child must not inherit that.
        expect(signals.stdout).toMatch(/^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
      }
      useDirectSpawn(true);
    });

    it('passes only the three standard descriptors', async () => {
      const { direct, node } = await bothWays({
        ...base,
        mode: 'exec',
        command: 'ls',
        args: ['/proc/self/fd'],
      });
      // The same as Node's: the three, ls's own directory, and whatever this
      // process holds without close-on-exec (none of the pipes made for a run).
      expect(direct).toEqual(node);
      expect(direct?.stdout).toMatch(/^0\n1\n2\n/);
    });

    it('gives exactly the environment asked for, and looks the program up on its PATH', async () => {
      const bin = join(temp.path, 'bin');
      await mkdir(bin);
      await writeFile(join(bin, 'osapitest-prog'), '#!/bin/sh\necho "ran $0 $FOO"\nenv | sort\n');
      await chmod(join(bin, 'osapitest-prog'), 0o755);
      const env = { PATH: `/nonexistent:${bin}:/usr/bin:/bin`, FOO: 'a b=c' };
      const { direct, node } = await bothWays({
        ...base,
        mode: 'exec',
        command: 'osapitest-prog',
        env,
      });
      expect(direct).toEqual(node);
      expect(direct?.stdout).toBe(
        `ran ${join(bin, 'osapitest-prog')} a b=c\nFOO=a b=c\nPATH=${env.PATH}\nPWD=${process.cwd()}\n`,
      );
    });

    it('passes over a program on PATH that may not be run, as execvp does', async () => {
      const first = join(temp.path, 'first');
      const second = join(temp.path, 'second');
      await mkdir(first);
      await mkdir(second);
      await writeFile(join(first, 'osapitest-prog'), '#!/bin/sh\necho first\n', { mode: 0o644 });
      await writeFile(join(second, 'osapitest-prog'), '#!/bin/sh\necho second\n', { mode: 0o755 });
      const run = (path: string) =>
        bothWays({ ...base, mode: 'exec', command: 'osapitest-prog', env: { PATH: path } });
      const both = await run(`${first}:${second}`);
      expect(both.direct).toEqual(both.node);
      expect(both.direct?.stdout).toBe('second\n');
      const only = await run(first);
      expect(only.direct).toEqual(only.node);
      // Root may read a file of mode 644, but not run it.
      expect(only.direct?.end).toEqual({ kind: 'permissionDenied' });
      const none = await run(second.replace('second', 'third'));
      expect(none.direct).toEqual(none.node);
      expect(none.direct?.end).toEqual({ kind: 'notFound' });
    });

    it('runs a script without a #! line with /bin/sh, by path and on PATH, as Node does', async () => {
      const script = join(temp.path, 'osapitest-noshebang');
      await writeFile(script, 'echo "no line $1"\n', { mode: 0o755 });
      for (const req of [
        { ...base, mode: 'exec', command: script, args: ['a'] },
        {
          ...base,
          mode: 'exec',
          command: 'osapitest-noshebang',
          args: ['b'],
          env: { PATH: temp.path },
        },
      ] as RunRequest[]) {
        const { direct, node } = await bothWays(req);
        expect(direct).toEqual(node);
        expect(direct?.stdout).toBe(`no line ${req.args?.[0]}\n`);
      }
    });

    it("looks relative and empty PATH entries up from the job's working directory", async () => {
      const cwd = join(temp.path, 'job');
      await mkdir(join(cwd, 'bin'), { recursive: true });
      await writeFile(join(cwd, 'bin', 'osapitest-rel'), '#!/bin/sh\necho "rel $0"\n', {
        mode: 0o755,
      });
      await writeFile(join(cwd, 'osapitest-here'), '#!/bin/sh\necho "here $0"\n', { mode: 0o755 });
      for (const [command, PATH, said] of [
        ['osapitest-rel', 'bin:/usr/bin', 'rel bin/osapitest-rel\n'],
        ['osapitest-here', ':/usr/bin', 'here osapitest-here\n'],
        ['osapitest-here', '/usr/bin:', 'here osapitest-here\n'],
      ] as const) {
        const { direct, node } = await bothWays({
          ...base,
          mode: 'exec',
          command,
          cwd,
          env: { PATH },
        });
        expect(direct).toEqual(node);
        expect(direct?.stdout).toBe(said);
      }
    });

    it('searches /bin:/usr/bin without a PATH, stops at a looping entry, and takes a long PATH as Node does', async () => {
      const loop = join(temp.path, 'loop');
      await symlink(loop, loop);
      const long = Array.from({ length: 100 }, () => temp.path).join(':');
      for (const env of [
        {},
        { PATH: `${loop}:/usr/bin:/bin` },
        { PATH: `${long}:/usr/bin:/bin` },
      ] as Array<Record<string, string>>) {
        const { direct, node } = await bothWays({ ...base, mode: 'exec', command: 'true', env });
        expect(direct).toEqual(node);
      }
    });

    it('tells a missing working directory and a missing program apart, as Node does', async () => {
      const cwd = join(temp.path, 'gone');
      const missingCwd = await bothWays({ ...base, mode: 'exec', command: 'true', cwd });
      expect(missingCwd.direct).toEqual(missingCwd.node);
      expect(missingCwd.direct?.end).toEqual({ kind: 'badCwd', cwd });
      const missing = await bothWays({ ...base, mode: 'exec', command: '/nonexistent/osapitest' });
      expect(missing.direct).toEqual(missing.node);
      expect(missing.direct?.end).toEqual({ kind: 'notFound' });
    });

    it('loads from bytes (as the single executable does) through a private directory it removes', async () => {
      const bytes = readFileSync(join(PACKAGE_ROOT, NATIVE_SPAWN_PATH));
      const loaded = loadSharedObject<{ spawn: unknown }>(bytes, temp.path);
      expect(typeof loaded.spawn).toBe('function');
      expect(readdirSync(temp.path)).toEqual([]);
    });

    it('throws an errno error as Node does when nothing started, and refuses a NUL byte', () => {
      const opts = { cwd: '/', env: {}, stdin: 'ignore' } as const;
      let thrown: unknown;
      try {
        startProcess('/nonexistent/osapitest', [], opts);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({
        code: 'ENOENT',
        errno: -2,
        syscall: 'spawn /nonexistent/osapitest',
      });
      expect(() => startProcess('echo', ['a\0b'], opts)).toThrow(TypeError);
      expect(() => startProcess('echo', [], { ...opts, env: { A: 'x\0y' } })).toThrow(TypeError);
    });

    it('tells an exit, a signal and standard input as Node does', async () => {
      for (const req of [
        { ...base, mode: 'shell', command: 'exit 3' },
        { ...base, mode: 'shell', command: 'kill -USR1 $$' },
        { ...base, mode: 'exec', command: 'cat', stdin: 'from stdin' },
        { ...base, mode: 'shell', command: 'head -c 300000 /dev/zero | tr "\\0" x; echo err >&2' },
      ] as RunRequest[]) {
        const { direct, node } = await bothWays(req);
        expect(direct).toEqual(node);
      }
    });
  });
});
