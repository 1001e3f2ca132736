// `osapi client node command exec|shell` with --group, --async and --follow,
// end to end against one `osapi start` child (one agent: grouping of several
// hosts is tested in group-output.test.ts, following several in follow.test.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

const CMD = ['client', 'node', 'command'];
const JOB_LINE = /^Job ID: ([0-9a-f-]{36})$/;

let sys: StartedOsapi;
let host: string;

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-group-'));
  host = sys.ready.hostname;
}, 30_000);

afterAll(cleanup, 30_000);

function osapi(args: string[]): Promise<RunResult> {
  return runOsapi(args, { env: childEnv(sys.stateDir) });
}

describe.concurrent('--group and the summary line', () => {
  test('-T _all --yes --group prints one block headed by the host, then the summary', async () => {
    const r = await osapi([
      ...CMD,
      'shell',
      '--command',
      'echo hi; echo warn >&2',
      '-T',
      '_all',
      '--yes',
      '--group',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(JOB_LINE);
    const head = `${host} (1 host)`;
    const rule = '-'.repeat(Math.max(head.length, 16));
    expect(r.stdout).toContain(`\n${rule}\n${head}\n${rule}\nhi\n[stderr]\nwarn\n[exit 0]\n`);
    expect(lines.at(-2)).toBe('1 ok');
    expect(lines.at(-1)).toBe('');
    expect(r.stdout).not.toContain('HOSTNAME'); // no table with --group
  });

  test('the table output ends with the summary too, naming a non-zero exit', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'sh', '--args', '-c,exit 3']);
    // A host that did not succeed fails the run, as pdsh -S and clush -S do.
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('HOSTNAME');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`0 ok, 1 failed: ${host} (exit 3)`);
  });

  test('--group: a non-zero exit makes the CLI exit 1, after the block and the summary', async () => {
    const r = await osapi([...CMD, 'shell', '--command', 'echo out; exit 4', '--group']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('out\n[exit 4]\n');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`0 ok, 1 failed: ${host} (exit 4)`);
  });

  test('an error is named by its kind in the summary, and the CLI exits 1', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'no-such-program-xyz', '--group']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[error: program not found');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`0 ok, 1 failed: ${host} (not found)`);
  });

  test('-j prints the JSON body only, with no summary', async () => {
    const r = await osapi([...CMD, 'shell', '--command', 'echo hi', '--group', '-j']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.results[0]).toMatchObject({ hostname: host, stdout: 'hi\n' });
    expect(r.stdout).not.toContain('1 ok');
  });
});

describe.concurrent('--async', () => {
  test('prints the Job ID at once and exits 0; the job then completes', async () => {
    const r = await osapi([
      ...CMD,
      'shell',
      '--command',
      'echo later',
      '-T',
      '_all',
      '-y',
      '--async',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Job ID: [0-9a-f-]{36}\n$/);
    expect(r.stderr).toContain(`Sent to ${host}`);
    const id = JOB_LINE.exec(r.stdout.trim())?.[1] ?? '';

    let detail: { status: string; responses: Record<string, { data: { stdout: string } }> } = {
      status: '',
      responses: {},
    };
    let last: RunResult | undefined;
    // Each `job get` is a process: poll them one after another, bounded.
    const end = Date.now() + 10_000;
    while (detail.status !== 'completed' && Date.now() < end) {
      last = await osapi(['client', 'job', 'get', '--job-id', id, '-j']);
      if (last.code === 0) detail = JSON.parse(last.stdout);
    }
    expect(detail.status, last?.stderr).toBe('completed');
    expect(detail.responses[host]?.data.stdout).toBe('later\n');
  });

  test('-j prints the 202 body: no results yet, the hosts it went to', async () => {
    const r = await osapi([
      ...CMD,
      'exec',
      '--command',
      'true',
      '-T',
      '_all',
      '-y',
      '--async',
      '-j',
    ]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({ results: [], expected_hosts: [host] });
    expect(body.job_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('--async with --group is a usage error', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'true', '--async', '--group']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--group');
    expect(r.stdout).toBe('');
  });
});

describe.concurrent('rate control and cancel', () => {
  test('--max-concurrency and --max-errors go into the body; each result has its state', async () => {
    const r = await osapi([
      ...CMD,
      'shell',
      '--command',
      'echo one',
      '-T',
      '_all',
      '-y',
      '--max-concurrency',
      '1',
      '--max-errors',
      '10%',
      '-j',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.results[0]).toMatchObject({ hostname: host, state: 'succeeded', stdout: 'one\n' });
    const job = JSON.parse(
      (await osapi(['client', 'job', 'get', '--job-id', body.job_id, '-j'])).stdout,
    );
    expect(job.timeline[0].message).toMatch(/max_concurrency 1, max_errors 0/);
  });

  test.each([
    ['--max-concurrency', '0'],
    ['--max-concurrency', 'x'],
    ['--max-errors', '101%'],
    ['--max-errors', '-1'],
  ])('%s %s is a usage error naming the flag', async (flag, value) => {
    const r = await osapi([...CMD, 'shell', '--command', 'true', flag, value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stdout).toBe('');
  });

  test('client job cancel stops a running job; a second cancel fails saying it ended', async () => {
    const sent = await osapi([
      ...CMD,
      'shell',
      '--command',
      'echo partial; sleep 60',
      '--timeout',
      '120',
      '--async',
      '-j',
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    const id = JSON.parse(sent.stdout).job_id as string;
    // Cancel once it runs (a cancel before it starts is tested against the API).
    const end = Date.now() + 10_000;
    let state = '';
    while (state !== 'running' && Date.now() < end) {
      const j = await osapi(['client', 'job', 'get', '--job-id', id, '-j']);
      state = JSON.parse(j.stdout).agent_states?.[host]?.status ?? '';
    }
    expect(state).toBe('running');
    const c = await osapi(['client', 'job', 'cancel', '--job-id', id]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain(`Job ID: ${id}`);
    expect(c.stdout).toMatch(new RegExp(`${host}[\\s│|]+cancelled`));
    expect(c.stdout).toContain('partial');
    const again = await osapi(['client', 'job', 'cancel', '--job-id', id]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already ended/);
  });
});

describe.concurrent('--follow', () => {
  test('prints host: line on stdout and stderr as they come, then the summary; no colour when piped', async () => {
    const r = await osapi([
      ...CMD,
      'shell',
      '--command',
      'echo one; echo two >&2; printf three',
      '-T',
      '_all',
      '-y',
      '--follow',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(JOB_LINE);
    expect(lines.slice(1)).toEqual([`${host}: one`, `${host}: three`, '1 ok', '']);
    expect(r.stderr).toBe(`${host}: two\n`);
  });

  test('a host that could not run the command makes it exit 1, named in the summary', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'no-such-program-xyz', '--follow']);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`0 ok, 1 failed: ${host} (not found)`);
  });

  test('a non-zero exit makes it exit 1 after every line, named in the summary', async () => {
    const r = await osapi([...CMD, 'shell', '--command', 'echo before; exit 5', '--follow']);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(JOB_LINE);
    expect(lines.slice(1)).toEqual([`${host}: before`, `0 ok, 1 failed: ${host} (exit 5)`, '']);
    // `job get` shows the record: it exits 0 whatever its hosts did.
    const id = JOB_LINE.exec(lines[0] ?? '')?.[1] ?? '';
    const got = await osapi(['client', 'job', 'get', '--job-id', id, '-j']);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).agent_states[host].status).toBe('failed');
  });

  test('-j with a non-zero exit: every event printed, then exit 1', async () => {
    const r = await osapi([...CMD, 'shell', '--command', 'echo j; exit 6', '--follow', '-j']);
    expect(r.code, r.stderr).toBe(1);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; data: { exit_code?: number } });
    expect(events.map((e) => e.event)).toEqual(['output', 'result', 'end']);
    expect(events[1]?.data.exit_code).toBe(6);
  });

  test('-j prints one JSON event per line, ending with end', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'echo', '--args', 'j', '--follow', '-j']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['output', 'result', 'end']);
  });

  test('--follow with --async or --group is a usage error', async () => {
    for (const other of ['--async', '--group']) {
      const r = await osapi([...CMD, 'exec', '--command', 'true', '--follow', other]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(other);
    }
  });
});
