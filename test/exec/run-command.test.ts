import { existsSync, readFileSync } from 'node:fs';
import { chmod, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunRequest, type RunResult, runCommand } from '../../src/exec/index.js';
import { isAlive, killQuietly, makeTempDir, waitUntil } from './helpers.js';

const base = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 } as const;
const shell = (command: string, extra: Partial<RunRequest> = {}): Promise<RunResult> =>
  runCommand({ ...base, mode: 'shell', command, ...extra });

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => {
  await temp.remove();
});

describe('runCommand: running commands', () => {
  it('passes shell metacharacters literally in exec mode', async () => {
    const result = await runCommand({
      ...base,
      mode: 'exec',
      command: 'echo',
      args: ['a|b', '>x', '*'],
      cwd: temp.path,
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.stdout).toBe('a|b >x *\n');
    expect(await readdir(temp.path)).toEqual([]);
  });

  it('runs /bin/sh -c in shell mode', async () => {
    const result = await shell('echo hi | tr a-z A-Z');
    expect(result.stdout).toBe('HI\n');
    expect(result.exitCode).toBe(0);
  });

  it('runs in the requested working directory', async () => {
    const result = await runCommand({ ...base, mode: 'exec', command: 'pwd', cwd: temp.path });
    expect(result.stdout.trim()).toBe(await realpath(temp.path));
  });

  it('defaults the working directory to process.cwd()', async () => {
    const result = await runCommand({ ...base, mode: 'exec', command: 'pwd' });
    expect(result.stdout.trim()).toBe(await realpath(process.cwd()));
  });

  it('replaces the environment when env is given', async () => {
    // HOME is set in the test's own environment; it must not leak through.
    const result = await shell('printf "%s|%s" "$OSAPI_TEST_VAR" "$HOME"', {
      env: { OSAPI_TEST_VAR: 'x y', PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    expect(result.stdout).toBe('x y|');
  });

  it('keeps stdout and stderr apart', async () => {
    const result = await shell('echo out; echo err >&2');
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toBe('err\n');
    expect(result.stdoutBytes).toBe(4);
    expect(result.stderrBytes).toBe(4);
  });

  it('reports a non-zero exit as a result, not an error', async () => {
    const result = await runCommand({
      ...base,
      mode: 'exec',
      command: 'sh',
      args: ['-c', 'exit 3'],
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 3 });
    expect(result.exitCode).toBe(3);
    expect(result.error).toBeUndefined();
    expect(result.pid).toBeTypeOf('number');
    expect(Number.isInteger(result.durationMs)).toBe(true);
  });
});

describe('runCommand: commands that cannot start', () => {
  it('reports a missing program as notFound (127)', async () => {
    const result = await runCommand({ ...base, mode: 'exec', command: 'osapi-no-such-program' });
    expect(result.end).toEqual({ kind: 'notFound' });
    expect(result.exitCode).toBe(127);
    expect(result.error).toBe('program not found: osapi-no-such-program');
    expect(result.pid).toBeUndefined();
  });

  it('reports a file without the exec bit as permissionDenied (126)', async () => {
    const script = join(temp.path, 'script.sh');
    await writeFile(script, '#!/bin/sh\necho never\n');
    await chmod(script, 0o644);
    const result = await runCommand({ ...base, mode: 'exec', command: script });
    expect(result.end).toEqual({ kind: 'permissionDenied' });
    expect(result.exitCode).toBe(126);
    expect(result.error).toBe(`permission denied: ${script} is not executable`);
  });

  it('reports a missing working directory as badCwd (125)', async () => {
    const cwd = join(temp.path, 'nope');
    const result = await runCommand({ ...base, mode: 'exec', command: 'pwd', cwd });
    expect(result.end).toEqual({ kind: 'badCwd', cwd });
    expect(result.exitCode).toBe(125);
    expect(result.error).toBe(`working directory does not exist: ${cwd}`);
    expect(result.pid).toBeUndefined();
  });

  it('reports a working directory that is a file as badCwd', async () => {
    const cwd = join(temp.path, 'file');
    await writeFile(cwd, '');
    const result = await runCommand({ ...base, mode: 'shell', command: 'pwd', cwd });
    expect(result.end).toEqual({ kind: 'badCwd', cwd });
    expect(result.error).toBe(`working directory is not a directory: ${cwd}`);
  });
});

describe('runCommand: stopping commands', () => {
  it('kills the whole process group on timeout and keeps the output so far', async () => {
    const result = await shell('sleep 300 & echo $!; sleep 300', {
      timeoutMs: 1000,
      killGraceMs: 500,
    });
    expect(result.end).toEqual({ kind: 'timedOut', timeoutMs: 1000 });
    expect(result.exitCode).toBe(124);
    expect(result.error).toBe('timed out after 1 s; the process group was killed');
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    const background = Number(result.stdout.trim());
    expect(background).toBeGreaterThan(1);
    const main = result.pid ?? 0;
    await waitUntil(() => !isAlive(main) && !isAlive(background), 'both sleeps are dead');
  });

  it('sends SIGKILL after the grace when the group ignores SIGTERM', async () => {
    // The timeout leaves the shell time to set its trap, even on a loaded machine.
    const result = await shell("trap '' TERM; sleep 300 & echo $!; sleep 300", {
      timeoutMs: 1000,
      killGraceMs: 300,
    });
    expect(result.end.kind).toBe('timedOut');
    expect(result.durationMs).toBeGreaterThanOrEqual(1300);
    const background = Number(result.stdout.trim());
    expect(background).toBeGreaterThan(1);
    await waitUntil(() => !isAlive(background), 'the background sleep is dead');
  });

  it('cancels through an AbortSignal like a timeout', async () => {
    const controller = new AbortController();
    // Late enough that the shell has started its background sleep and said its pid.
    const trigger = setTimeout(() => controller.abort(), 1000);
    try {
      const result = await shell('sleep 300 & echo $!; sleep 300', {
        signal: controller.signal,
        killGraceMs: 500,
      });
      expect(result.end).toEqual({ kind: 'cancelled' });
      expect(result.exitCode).toBe(130);
      expect(result.error).toBe('cancelled; the process group was killed');
      const background = Number(result.stdout.trim());
      expect(background).toBeGreaterThan(1);
      await waitUntil(() => !isAlive(background), 'the background sleep is dead');
    } finally {
      clearTimeout(trigger);
    }
  });

  it('keeps output the command wrote before it was cancelled, even when it was never read before the kill', async () => {
    const said = join(temp.path, 'said');
    const heard: string[] = [];
    const controller = new AbortController();
    // The shell writes `begun` to its stdout pipe, then its pid to a file (written to a temp name
    // and renamed, so the file is never seen half written).
    const run = shell(
      `echo begun; echo $$ > '${said}.tmp'; mv '${said}.tmp' '${said}'; sleep 300`,
      {
        signal: controller.signal,
        killGraceMs: 500,
        onOutput: (_stream, chunk) => heard.push(chunk.toString()),
      },
    );
    // No await from the spawn to the kill: the event loop never turns, so the runner cannot have
    // read a byte of the pipe when the group is killed. The shell's pid in the file means `begun`
    // was already written.
    const pid = Number(blockUntil(() => readIfExists(said), 'the shell wrote its pid'));
    controller.abort();
    // The group is dead (the shell only waits to be reaped) before the runner reads anything.
    blockUntil(() => !isAlive(pid), 'the shell is dead');
    expect(heard).toEqual([]);
    const result = await run;
    expect(result.end).toEqual({ kind: 'cancelled' });
    expect(result.pid).toBe(pid);
    expect(result.stdout).toBe('begun\n');
    expect(heard.join('')).toBe('begun\n');
  });

  it('does not start a command whose signal is already aborted', async () => {
    const result = await shell('echo never', { signal: AbortSignal.abort() });
    expect(result.end).toEqual({ kind: 'cancelled' });
    expect(result.error).toBe('cancelled before the process started');
    expect(result.pid).toBeUndefined();
    expect(result.stdout).toBe('');
  });

  it('reports a signal from outside as signaled (128 + signo)', async () => {
    const result = await shell('kill -TERM $$');
    expect(result.end).toEqual({ kind: 'signaled', signal: 'SIGTERM' });
    expect(result.exitCode).toBe(143);
    expect(result.error).toBe('killed by signal SIGTERM');
  });
});

/** Waits without letting the event loop turn (so no pipe is read meanwhile); bounded. */
function blockUntil<T>(check: () => T | false | undefined, what: string, withinMs = 10_000): T {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = check();
    if (value !== false && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    Atomics.wait(pause, 0, 0, 2);
  }
}

const readIfExists = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8') : undefined;

describe('runCommand: leftover background processes', () => {
  it('does not wait for background children that hold the pipes, and kills them', async () => {
    const result = await shell('sleep 300 & echo $!');
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.durationMs).toBeLessThan(3000);
    const background = Number(result.stdout.trim());
    await waitUntil(() => !isAlive(background), 'the background sleep is dead');
  });

  it('kills background children that closed the pipes', async () => {
    const result = await shell('sleep 300 >/dev/null 2>&1 & echo $!');
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    const background = Number(result.stdout.trim());
    await waitUntil(() => !isAlive(background), 'the background sleep is dead');
  });

  it('lets go of pipes held by a process that left the group with setsid', async () => {
    // The escapee writes its pid once it has left the group; the main process waits for that.
    const result = await shell(
      "setsid sh -c 'echo $$ > escaped; exec sleep 30' & while [ ! -s escaped ]; do sleep 0.01; done; echo done",
      { cwd: temp.path, timeoutMs: 5000 },
    );
    const escapee = Number((await readFile(join(temp.path, 'escaped'), 'utf8')).trim());
    try {
      expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
      expect(result.stdout).toBe('done\n');
      expect(result.durationMs).toBeLessThan(3000);
      expect(isAlive(escapee)).toBe(true);
    } finally {
      killQuietly(escapee);
    }
  });
});

describe('runCommand: output cap', () => {
  it('keeps memory and text bounded when a command floods its output', async () => {
    const cap = 1024 * 1024;
    const result = await shell("head -c 100000000 /dev/zero | tr '\\0' a", {
      maxOutputBytes: cap,
      timeoutMs: 12_000,
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.stdoutTruncated).toBe(true);
    expect(result.stdoutBytes).toBe(100_000_000);
    const marker = `\n[… ${100_000_000 - cap} bytes omitted …]\n`;
    expect(result.stdout.length).toBe(cap + marker.length);
    expect(result.stdout.slice(cap / 2, cap / 2 + marker.length)).toBe(marker);
    expect(result.stdout.startsWith('aaaa')).toBe(true);
    expect(result.stdout.endsWith('aaaa')).toBe(true);
  });

  it('keeps the head and the tail', async () => {
    const result = await shell("printf HEAD; head -c 10000 /dev/zero | tr '\\0' x; printf TAIL", {
      maxOutputBytes: 100,
    });
    expect(result.stdout).toBe(
      `HEAD${'x'.repeat(46)}\n[… 9908 bytes omitted …]\n${'x'.repeat(46)}TAIL`,
    );
    expect(result.stdoutTruncated).toBe(true);
    expect(result.stdoutBytes).toBe(10_008);
  });

  it('caps stderr separately from stdout', async () => {
    const result = await shell('head -c 5000 /dev/zero >&2; echo small', { maxOutputBytes: 1000 });
    expect(result.stderrTruncated).toBe(true);
    expect(result.stderrBytes).toBe(5000);
    expect(result.stdout).toBe('small\n');
    expect(result.stdoutTruncated).toBe(false);
  });

  it('does not truncate output of exactly the cap', async () => {
    const result = await shell("head -c 100 /dev/zero | tr '\\0' z", { maxOutputBytes: 100 });
    expect(result.stdout).toBe('z'.repeat(100));
    expect(result.stdoutTruncated).toBe(false);
  });
});

describe('runCommand: live output', () => {
  it('tells onOutput of each piece while the command still runs', async () => {
    const go = join(temp.path, 'go');
    const heard: Array<[string, string]> = [];
    let settled = false;
    const run = shell(
      `echo first; echo oops >&2; while [ ! -e '${go}' ]; do sleep 0.02; done; echo second`,
      { onOutput: (stream, chunk) => heard.push([stream, chunk.toString()]) },
    ).finally(() => {
      settled = true;
    });
    await waitUntil(
      () => heard.some(([s, t]) => s === 'stdout' && t.includes('first')),
      'the first line is heard',
    );
    await waitUntil(() => heard.some(([s]) => s === 'stderr'), 'stderr is heard');
    // The command waits for the file: what was heard came before its end.
    expect(settled).toBe(false);
    await writeFile(go, '');
    const result = await run;
    const joined = (stream: string) =>
      heard
        .filter(([s]) => s === stream)
        .map(([, t]) => t)
        .join('');
    expect(joined('stdout')).toBe('first\nsecond\n');
    expect(joined('stderr')).toBe('oops\n');
    expect(result.stdout).toBe('first\nsecond\n');
  });

  it('hears output beyond the cap; the result stays capped', async () => {
    let heardBytes = 0;
    const result = await shell("head -c 5000 /dev/zero | tr '\\0' y", {
      maxOutputBytes: 100,
      onOutput: (_stream, chunk) => {
        heardBytes += chunk.length;
      },
    });
    expect(heardBytes).toBe(5000);
    expect(result.stdoutTruncated).toBe(true);
  });

  it('runs on when the listener throws', async () => {
    const result = await shell('echo a; echo b', {
      onOutput: () => {
        throw new Error('listener broke');
      },
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.stdout).toBe('a\nb\n');
  });
});

describe('runCommand: programming errors', () => {
  it.each<[string, Partial<RunRequest>]>([
    ['an empty command', { command: '' }],
    ['a blank command', { command: '  ' }],
    ['args in shell mode', { mode: 'shell', args: ['x'] }],
    ['an unknown mode', { mode: 'ssh' as RunRequest['mode'] }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['a timeout beyond what timers allow', { timeoutMs: 2 ** 31 }],
    ['a negative cap', { maxOutputBytes: -1 }],
    ['a fractional cap', { maxOutputBytes: 1.5 }],
    ['a negative grace', { killGraceMs: -1 }],
    ['a NUL byte in an argument', { args: ['a\0b'] }],
    ['an output listener that is not a function', { onOutput: 'x' as unknown as undefined }],
  ])('rejects %s', async (_name, change) => {
    await expect(
      runCommand({ ...base, mode: 'exec', command: 'echo', ...change }),
    ).rejects.toThrow();
  });
});
