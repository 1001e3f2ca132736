// What a command does once it reaches an agent, seen through the API: exec
// without a shell, shell with one, cwd, exit codes, errors the agent reports,
// timeouts that kill the whole process group, and the output cap.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startTestSystem, type TestSystem } from '../support/system.js';
import { isDead, type TempDir, tempDir, waitFor } from './helpers.js';

let sys: TestSystem;
let token: string;
let dir: TempDir;

const HOST = 'exec-01';
const CAPPED = 'capped-01';

beforeAll(async () => {
  // The margin must cover the kill grace (2 s): where init does not reap
  // orphans, a timed-out group only empties at the grace's end.
  sys = await startTestSystem({ resultMarginMs: 5000 });
  await sys.startAgent(HOST);
  await sys.startAgent(CAPPED, {}, { max_output_bytes: 1000 });
  await sys.waitForAgents([HOST, CAPPED]);
  token = await sys.token();
  dir = tempDir('execution');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

async function run(kind: 'exec' | 'shell', body: Record<string, unknown>, host = HOST) {
  const r = await post(sys, `/node/${host}/command/${kind}`, body, token);
  expect(r.status).toBe(202);
  expect(r.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.body.results).toHaveLength(1);
  const result = r.body.results[0];
  expect(result.hostname).toBe(host);
  return result;
}

describe('exec and shell', () => {
  it('exec passes shell metacharacters literally, running no shell', async () => {
    const cwd = join(dir.path, 'meta');
    await run('shell', { command: `mkdir ${cwd}` });
    const r = await run('exec', { command: 'echo', args: ['a|b', '>x', '*'], cwd });
    expect(r).toMatchObject({
      stdout: 'a|b >x *\n',
      stderr: '',
      exit_code: 0,
      status: 'completed',
    });
    expect(r.error).toBeUndefined();
    // A shell would have made a file named x.
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('exec passes $VARS and quotes literally', async () => {
    const r = await run('exec', { command: 'printf', args: ['%s|', '$HOME', "'q'", '`id`'] });
    expect(r.stdout).toBe("$HOME|'q'|`id`|");
  });

  it('shell runs pipes', async () => {
    const r = await run('shell', { command: 'echo hi | tr a-z A-Z' });
    expect(r).toMatchObject({ stdout: 'HI\n', exit_code: 0, status: 'completed', changed: true });
    expect(r.error).toBeUndefined();
  });

  it('shell keeps stderr apart from stdout', async () => {
    const r = await run('shell', { command: 'echo out; echo err >&2' });
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('cwd sets the working directory (exec and shell)', async () => {
    expect((await run('exec', { command: 'pwd', cwd: dir.path })).stdout).toBe(`${dir.path}\n`);
    expect((await run('shell', { command: 'pwd', cwd: dir.path })).stdout).toBe(`${dir.path}\n`);
  });

  it('a non-zero exit is a result, not an error', async () => {
    const r = await run('shell', { command: 'echo partial; exit 3' });
    expect(r).toMatchObject({ exit_code: 3, stdout: 'partial\n', status: 'completed' });
    expect(r.error).toBeUndefined();
    expect(r.duration_ms).toEqual(expect.any(Number));
  });

  it('a missing program is a result with an error and exit code 127', async () => {
    const r = await run('exec', { command: 'osapi-no-such-program-4711', args: ['x'] });
    expect(r.exit_code).toBe(127);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/osapi-no-such-program-4711/);
    expect(r.changed).toBe(false);
  });

  it('a missing cwd is a result with an error and exit code 125', async () => {
    const missing = join(dir.path, 'does', 'not', 'exist');
    for (const kind of ['exec', 'shell'] as const) {
      const r = await run(kind, { command: 'pwd', cwd: missing });
      expect(r.exit_code).toBe(125);
      expect(r.status).toBe('failed');
      expect(r.error).toContain(missing);
      expect(r.stdout).toBe('');
    }
  });

  it('a cwd that is a file is a bad cwd too', async () => {
    const file = join(dir.path, 'plain-file');
    await run('shell', { command: `touch ${file}` });
    const r = await run('exec', { command: 'pwd', cwd: file });
    expect(r.exit_code).toBe(125);
    expect(r.error).toMatch(/not a directory/);
  });

  it.each([
    ['exec', { command: '   ' }],
    ['shell', { command: '   ' }],
    ['exec', { command: 'ec\u0000ho' }],
    ['shell', { command: 'echo a\u0000b' }],
    ['exec', { command: 'echo', args: ['a\u0000b'] }],
    ['exec', { command: 'pwd', cwd: '/tm\u0000p' }],
  ] as const)(
    'a blank command or a NUL byte is refused with 400 before any job: %s %j',
    async (kind, body) => {
      const r = await post(sys, `/node/${HOST}/command/${kind}`, { ...body, timeout: 1 }, token);
      expect(r.status).toBe(400);
      expect(r.body.reason).toBe('invalid_request');
      expect(r.body.error).toMatch(
        /command must not be blank or contain NUL bytes|(args\[0\]|cwd) must not contain NUL bytes/,
      );
    },
  );

  it('the agent survives the failures above and still runs commands', async () => {
    const r = await run('exec', { command: 'echo', args: ['still here'] });
    expect(r.stdout).toBe('still here\n');
  });
});

describe('timeout', () => {
  it('kills the whole process group, grandchildren included, and keeps partial output', async () => {
    const started = Date.now();
    const r = await run('shell', {
      command: "sh -c 'echo $$; sleep 300 & echo $!; sleep 300'",
      timeout: 1,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/timed out after 1 s/);
    expect(r.exit_code).toBe(124);
    // The pids of the inner shell and of its background sleep, printed before
    // the timeout, are kept.
    expect(r.stdout).toMatch(/^\d+\n\d+\n$/);
    const pids = r.stdout.trim().split('\n').map(Number);
    for (const pid of pids) expect(pid).toBeGreaterThan(1);
    expect(isDead(process.pid)).toBe(false); // the probe can tell a live process
    await waitFor(`pids ${pids.join(', ')} to be gone`, () => pids.every(isDead), 5000);
  });

  it('an exec command past its timeout is killed too', async () => {
    const r = await run('exec', { command: 'sleep', args: ['300'], timeout: 1 });
    expect(r.error).toMatch(/timed out/);
    expect(r.exit_code).toBe(124);
  });
});

describe('output cap', () => {
  it('keeps the head and tail within the cap and marks the stream truncated', async () => {
    // 100000 bytes: a head of 'h', a middle of 'm' and a tail of 't'.
    const command =
      "head -c 1000 /dev/zero | tr '\\0' h; head -c 98000 /dev/zero | tr '\\0' m; head -c 1000 /dev/zero | tr '\\0' t; echo oops >&2";
    const r = await run('shell', { command }, CAPPED);
    expect(r.exit_code).toBe(0);
    expect(r.stdout_truncated).toBe(true);
    expect(r.stderr_truncated).toBe(false);
    expect(r.stderr).toBe('oops\n');
    expect(r.stdout.length).toBeGreaterThanOrEqual(1000);
    expect(r.stdout.length).toBeLessThan(1100);
    expect(r.stdout).toContain('99000 bytes omitted');
    expect(r.stdout.startsWith('h'.repeat(500))).toBe(true);
    expect(r.stdout.endsWith('t'.repeat(500))).toBe(true);
    expect(r.stdout).not.toContain('mm');
  });

  it('output under the cap is whole and not marked', async () => {
    const r = await run('shell', { command: "head -c 900 /dev/zero | tr '\\0' a" }, CAPPED);
    expect(r.stdout).toBe('a'.repeat(900));
    expect(r.stdout_truncated).toBe(false);
  });

  it('the default cap (1 MiB) leaves 100000 bytes whole', async () => {
    const r = await run('shell', { command: "head -c 100000 /dev/zero | tr '\\0' a" });
    expect(r.stdout.length).toBe(100000);
    expect(r.stdout_truncated).toBe(false);
  });

  it('the capped agent is still alive afterwards', async () => {
    const r = await run('exec', { command: 'echo', args: ['ok'] }, CAPPED);
    expect(r.stdout).toBe('ok\n');
  });
});
