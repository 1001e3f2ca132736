// `osapi client node command exec|shell` end to end against one `osapi start`
// child shared by the whole file. The CLI finds the API URL and its token in
// the state dir by itself: no --url, no token in the environment, unless a
// test is about them. The tests are independent (each its own marker file) and
// run concurrently.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  runOsapiOnTty,
  STACK_LINE,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

interface CommandBody {
  job_id: string;
  results: Array<{
    hostname: string;
    stdout: string;
    stderr: string;
    exit_code: number;
    duration_ms: number;
    changed: boolean;
    error?: string;
  }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CMD = ['client', 'node', 'command'];

let sys: StartedOsapi;
let work: string;

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-cmd-'));
  work = tempDir('osapi-cli-work-');
}, 30_000);

afterAll(cleanup, 30_000);

function osapi(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return runOsapi(args, { env: childEnv(sys.stateDir, extraEnv) });
}

function parseBody(r: RunResult): CommandBody {
  try {
    return JSON.parse(r.stdout) as CommandBody;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** A path in the work dir, unique per call. */
let n = 0;
const marker = () => join(work, `ran-${++n}`);
const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

describe.concurrent('exec and shell', () => {
  test('exec prints the Job ID line and the result table', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'echo', '--args', 'hello,world']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^Job ID: [0-9a-f-]{36}$/);
    expect(out[0]?.slice('Job ID: '.length)).toMatch(UUID);
    const header = out.find((l) => l.includes('HOSTNAME'));
    expect(header).toBeDefined();
    const cells = (header ?? '').split('│').map((c) => c.trim());
    for (const col of ['HOSTNAME', 'CHANGED', 'STDOUT', 'STDERR', 'EXIT CODE', 'DURATION']) {
      expect(cells).toContain(col);
    }
    expect(cells.indexOf('HOSTNAME')).toBeLessThan(cells.indexOf('DURATION'));
    const row = out.find((l) => l.includes('hello world'));
    expect(row, r.stdout).toBeDefined();
    const rowCells = (row ?? '').split('│').map((c) => c.trim());
    expect(rowCells[cells.indexOf('HOSTNAME')]).toBe(sys.ready.hostname);
    expect(rowCells[cells.indexOf('STDOUT')]).toBe('hello world');
    expect(rowCells[cells.indexOf('EXIT CODE')]).toBe('0');
    expect(rowCells[cells.indexOf('DURATION')]).toMatch(/^\d+(\.\d+)?m?s$/);
  });

  test('-j prints exactly the API JSON body and nothing else on stdout', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'echo', '--args', 'hello,world', '-j']);
    expect(r.code).toBe(0);
    const body = parseBody(r);
    expect(body.job_id).toMatch(UUID);
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({
      hostname: sys.ready.hostname,
      stdout: 'hello world\n',
      stderr: '',
      exit_code: 0,
    });
    expect(Number.isInteger(body.results[0]?.duration_ms)).toBe(true);
    expect(r.stdout).not.toContain('Job ID:');
  });

  test('shell -j: a non-zero exit code fails the run (exit 1), the JSON still whole', async () => {
    const r = await osapi([...CMD, 'shell', '--command', 'echo a; exit 3', '-j']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const body = parseBody(r);
    expect(body.job_id).toMatch(UUID);
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({ stdout: 'a\n', exit_code: 3 });
    expect(body.results[0]?.error).toBeUndefined();
  });

  test('long output is cut short in the table and whole in --json', async () => {
    const long = `${'x'.repeat(300)}END`;
    const script = `printf '%s\\n' ${long}`;
    const [table, json] = await Promise.all([
      osapi([...CMD, 'shell', '--command', script]),
      osapi([...CMD, 'shell', '--command', script, '-j']),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('xxxxxxxxxx');
    expect(table.stdout).toContain('…');
    expect(table.stdout).not.toContain('END');
    for (const line of table.stdout.split('\n')) expect(line.length).toBeLessThan(200);
    expect(json.code).toBe(0);
    expect(parseBody(json).results[0]?.stdout).toBe(`${long}\n`);
  });
});

describe.concurrent('-T _all confirmation', () => {
  test('stdin not a terminal and no --yes: refuses, runs nothing; --yes runs it', async () => {
    const f = marker();
    const refused = await osapi([...CMD, 'shell', '--command', `echo ran >> ${f}`, '-T', '_all']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/refus/i);
    expect(refused.stderr).toMatch(/--yes/);
    expect(refused.stdout).toBe('');
    expect(existsSync(f)).toBe(false);

    const yes = await osapi([
      ...CMD,
      'shell',
      '--command',
      `echo ran >> ${f}`,
      '-T',
      '_all',
      '--yes',
    ]);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain(sys.ready.hostname);
    // Exactly once: the refused call never reached the API.
    expect(lines(f)).toBe('ran\n');
  });

  test('exec -T _all --yes runs on every host', async () => {
    const f = marker();
    const r = await osapi([...CMD, 'exec', '--command', 'touch', '--args', f, '-T', '_all', '-y']);
    expect(r.code).toBe(0);
    expect(existsSync(f)).toBe(true);
  });

  // The prompt needs a terminal: `script` gives osapi a pseudo-terminal, and the
  // answer is typed only once the prompt shows.
  const EXEC_PROMPT = 'This will execute command on ALL hosts. Continue? [y/N]';
  const SHELL_PROMPT = 'This will execute shell command on ALL hosts. Continue? [y/N]';
  test.each([
    { kind: 'exec', answer: 'y', runs: true },
    { kind: 'exec', answer: 'n', runs: false },
    { kind: 'shell', answer: 'y', runs: true },
    { kind: 'shell', answer: 'n', runs: false },
  ])('on a terminal, $kind asks and answer $answer runs: $runs', async ({ kind, answer, runs }) => {
    const f = marker();
    const args =
      kind === 'exec'
        ? [...CMD, 'exec', '--command', 'touch', '--args', f, '-T', '_all']
        : [...CMD, 'shell', '--command', `echo ran >> ${f}`, '-T', '_all'];
    const prompt = kind === 'exec' ? EXEC_PROMPT : SHELL_PROMPT;
    const r = await runOsapiOnTty(args, {
      env: childEnv(sys.stateDir),
      waitFor: '[y/N]',
      answer,
    });
    expect(r.prompted, r.output).toBe(true);
    expect(r.output).toContain(prompt);
    expect(existsSync(f)).toBe(runs);
    if (runs) {
      expect(r.code).toBe(0);
      expect(r.output).toContain('Job ID:');
    } else {
      expect(r.code).not.toBe(0);
      expect(r.output).not.toContain('Job ID:');
    }
  });
});

describe.concurrent('errors', () => {
  test('--timeout 0 and --timeout abc: non-zero exit and a message naming timeout', async () => {
    const [zero, abc] = await Promise.all([
      osapi([...CMD, 'exec', '--command', 'true', '--timeout', '0']),
      osapi([...CMD, 'exec', '--command', 'true', '--timeout', 'abc']),
    ]);
    for (const r of [zero, abc]) {
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(/timeout/);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain(STACK_LINE);
    }
  });

  test('a bad target: non-zero exit and the API message', async () => {
    const r = await osapi([...CMD, 'exec', '--command', 'true', '-T', 'a b']);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/400/);
    expect(r.stderr).toMatch(/target/i);
    expect(r.stderr).toContain('a b');
    expect(r.stderr).not.toContain(STACK_LINE);
  });

  test('an unreachable API: non-zero exit and a message saying so', async () => {
    // A port that was free a moment ago: nothing listens, the connection is refused.
    const closedPort = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    const urls = ['http://127.0.0.1:1', `http://127.0.0.1:${closedPort}`];
    // --url is a flag of `client`; it is accepted after the subcommand too.
    const results = await Promise.all([
      osapi([...CMD, 'exec', '--command', 'true', '--url', urls[0] as string]),
      osapi(['client', '--url', urls[1] as string, ...CMD.slice(1), 'exec', '--command', 'true']),
    ]);
    results.forEach((r, i) => {
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(/cannot reach/i);
      expect(r.stderr).toContain(urls[i]);
      expect(r.stderr).not.toContain(STACK_LINE);
    });
  });
});

describe.concurrent('tokens from `osapi token generate` against the running API', () => {
  async function generate(roles: string): Promise<string> {
    const r = await osapi(['token', 'generate', '-r', roles, '-u', `${roles}@example.com`]);
    expect(r.code).toBe(0);
    const token = /^Token: (\S+)$/m.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    return token ?? '';
  }

  test('a read token is refused with 403 naming command:execute', async () => {
    const token = await generate('read');
    const f = marker();
    const r = await osapi([...CMD, 'exec', '--command', 'touch', '--args', f], {
      OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
    });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/403/);
    expect(r.stderr).toContain('command:execute');
    expect(existsSync(f)).toBe(false);
  });

  test('an admin token is accepted', async () => {
    const token = await generate('admin');
    const r = await osapi([...CMD, 'exec', '--command', 'echo', '--args', 'ok', '-j'], {
      OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
    });
    expect(r.code).toBe(0);
    expect(parseBody(r).results[0]?.stdout).toBe('ok\n');
  });

  test('a token signed with another key is refused with 401', async () => {
    const r0 = await osapi(['token', 'generate', '-r', 'admin', '-u', 'x@example.com'], {
      OSAPI_API_SERVER_SECURITY_SIGNING_KEY: 'some-other-key',
    });
    const token = /^Token: (\S+)$/m.exec(r0.stdout)?.[1] ?? '';
    expect(token).not.toBe('');
    const r = await osapi([...CMD, 'exec', '--command', 'true'], {
      OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
    });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/401/);
  });
});
