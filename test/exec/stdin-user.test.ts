import { access, chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunRequest, type RunResult, runCommand } from '../../src/exec/index.js';
import { environmentForAccount, parsePasswd, resolveRunAs } from '../../src/exec/run-as.js';
import { runsAsNobody } from '../support/nobody.js';
import { makeTempDir } from './helpers.js';

const base = { timeoutMs: 10_000, maxOutputBytes: 4 * 1024 * 1024 } as const;
const shell = (command: string, extra: Partial<RunRequest> = {}): Promise<RunResult> =>
  runCommand({ ...base, mode: 'shell', command, ...extra });
const isRoot = process.getuid?.() === 0;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => {
  await temp.remove();
});

describe('runCommand: stdin', () => {
  it('writes stdin to the command, then closes it', async () => {
    const result = await runCommand({
      ...base,
      mode: 'exec',
      command: 'cat',
      stdin: 'line one\nline two\n',
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.stdout).toBe('line one\nline two\n');
  });

  it('gives /dev/null without stdin, so a reader sees end of input at once', async () => {
    const result = await shell('cat; echo "done $?"');
    expect(result.stdout).toBe('done 0\n');
  });

  it('passes an empty stdin as end of input', async () => {
    const result = await shell('wc -c', { stdin: '' });
    expect(result.stdout.trim()).toBe('0');
  });

  it('passes input larger than a pipe buffer whole', async () => {
    const input = 'x'.repeat(1024 * 1024);
    const result = await shell('wc -c', { stdin: input });
    expect(result.stdout.trim()).toBe(String(input.length));
  });

  it('ends the run when the command exits without reading its input', async () => {
    const result = await shell('exit 4', { stdin: 'y'.repeat(1024 * 1024) });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 4 });
  });

  it('does not wait for a process outside the group that holds stdin unread', async () => {
    // setsid leaves the group, so the group kill cannot reach it; its stdin is let go with the run.
    const result = await shell('setsid sleep 5 & exit 0', {
      stdin: 'z'.repeat(1024 * 1024),
      timeoutMs: 4000,
    });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.durationMs).toBeLessThan(4000);
  });
});

describe('parsePasswd and environmentForAccount', () => {
  it('reads passwd lines and skips what is not an account', () => {
    const accounts = parsePasswd(
      [
        '# comment',
        'root:x:0:0:root:/root:/bin/bash',
        '+nisuser::::::',
        'web:x:33:33:Web,,,:/var/www:',
        'broken:x:notanumber:1::/:/bin/sh',
        'short:x:1',
        '',
      ].join('\n'),
    );
    expect(accounts).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
      { name: 'web', uid: 33, gid: 33, home: '/var/www', shell: '' },
    ]);
  });

  it('keeps only the locale, time zone, terminal and PATH of the environment', () => {
    expect(
      environmentForAccount({
        PATH: '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        LC_ALL: 'C',
        TZ: 'UTC',
        TERM: 'xterm',
        HOME: '/root',
        OSAPI_AGENT_NATS_AUTH_PASSWORD: 'secret',
        LD_PRELOAD: '/x.so',
      }),
    ).toEqual({ PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC', TERM: 'xterm' });
  });

  it('reports an unreadable passwd file as unknownUser, naming it', async () => {
    const missing = join(temp.path, 'passwd');
    expect(await resolveRunAs('root', missing)).toEqual({
      end: { kind: 'unknownUser', user: 'root' },
      error: `cannot run as "root": ${missing} cannot be read (ENOENT)`,
    });
  });
});

describe('runCommand: user', () => {
  it('reports an account that does not exist as unknownUser (125), running nothing', async () => {
    const result = await shell('echo ran', { user: 'osapi-no-such-user' });
    expect(result.end).toEqual({ kind: 'unknownUser', user: 'osapi-no-such-user' });
    expect(result.exitCode).toBe(125);
    expect(result.error).toBe(
      'cannot run as "osapi-no-such-user": no such user in /etc/passwd on this host',
    );
    expect(result.pid).toBeUndefined();
  });

  it('refuses a malformed name as a programming error', async () => {
    await expect(shell('true', { user: 'a:b' })).rejects.toThrow(/user must be/);
    await expect(shell('true', { user: '' })).rejects.toThrow(/user must be/);
  });

  it.runIf(isRoot)(
    'runs as the account, with its identity and home, and none of our environment',
    async () => {
      process.env.OSAPI_TEST_SECRET = 'agent-only';
      try {
        const result = await shell(
          'id -u; id -g; id -G; pwd; printf "%s|%s|%s|%s|%s" "$HOME" "$USER" "$LOGNAME" "$SHELL" "$OSAPI_TEST_SECRET"',
          { user: 'nobody' },
        );
        const nobody = parsePasswd(await readFile('/etc/passwd', 'utf8')).find(
          (a) => a.name === 'nobody',
        );
        expect(nobody).toBeDefined();
        const [uid, gid, groups, cwd, vars] = result.stdout.split('\n');
        expect(Number(uid)).toBe(nobody?.uid);
        expect(Number(gid)).toBe(nobody?.gid);
        // The primary group only: root's supplementary groups do not come along.
        expect(groups).toBe(String(nobody?.gid));
        // nobody's home (/nonexistent) does not exist: the default working directory is /.
        expect(cwd).toBe('/');
        expect(vars).toBe(`${nobody?.home}|nobody|nobody|${nobody?.shell}|`);
      } finally {
        delete process.env.OSAPI_TEST_SECRET;
      }
    },
  );

  it.runIf(isRoot)('lets env set what the account would otherwise set', async () => {
    const result = await shell('printf "%s|%s|%s" "$HOME" "$USER" "$GREETING"', {
      user: 'nobody',
      env: { HOME: '/tmp', GREETING: 'hi', PATH: '/usr/bin:/bin' },
    });
    expect(result.stdout).toBe('/tmp|nobody|hi');
  });

  it.runIf(isRoot)('runs in the working directory given, entered before switching', async () => {
    const result = await shell('pwd', { user: 'nobody', cwd: temp.path });
    expect(result.stdout.trim()).toBe(temp.path);
  });

  it('runs as its own account without switching, whoever it is', async () => {
    const own = parsePasswd(await readFile('/etc/passwd', 'utf8')).find(
      (a) => a.uid === process.getuid?.(),
    );
    if (!own) return; // an account known only through NSS: nothing to name
    const result = await shell('id -u', { user: own.name });
    expect(result.end).toEqual({ kind: 'exited', exitCode: 0 });
    expect(Number(result.stdout)).toBe(own.uid);
  });

  it.runIf(!isRoot || runsAsNobody)(
    'refuses another account when not root, before anything runs',
    async () => {
      // Run as root, the test drops to `nobody` to see what a non-root agent does.
      const marker = join(temp.path, 'ran');
      const script = join(temp.path, 'refuse.mts');
      const runner = resolve('src/exec/index.ts');
      // Readable and writable by `nobody`, so only the refusal keeps the marker from being made.
      await chmod(temp.path, 0o777);
      await writeFile(
        script,
        `import { runCommand } from ${JSON.stringify(runner)};
const r = await runCommand({ mode: 'exec', command: 'touch', args: [${JSON.stringify(marker)}],
  user: 'root', timeoutMs: 5000, maxOutputBytes: 65536 });
process.stdout.write(JSON.stringify(r));`,
      );
      const run: RunResult = isRoot
        ? JSON.parse(
            (
              await runCommand({
                ...base,
                mode: 'exec',
                command: process.execPath,
                args: ['--import', 'tsx', script],
                cwd: process.cwd(),
                user: 'nobody',
                env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: temp.path },
              })
            ).stdout,
          )
        : await runCommand({
            ...base,
            mode: 'exec',
            command: 'touch',
            args: [marker],
            user: 'root',
          });
      expect(run.end).toEqual({ kind: 'userRefused', user: 'root' });
      expect(run.exitCode).toBe(126);
      expect(run.error).toMatch(
        /^cannot run as "root": this agent runs as .*uid \d+\)?, not root, so it runs commands only as itself$/,
      );
      expect(run.pid).toBeUndefined();
      await expect(access(marker)).rejects.toThrow();
    },
  );
});
