// `osapi client node command exec|shell` with --env, --stdin, --stdin-file and
// --user, end to end against one `osapi start` child. One at a time: each
// starts the CLI, and several at once on a busy machine hit the CLI timeout.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseEnvFlag } from '../../src/cli/run-flags.js';
import { STDIN_MAX_CHARS } from '../../src/contract/command.js';
import {
  BIN,
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

const CMD = ['client', 'node', 'command'];

let sys: StartedOsapi;
let work: string;

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-env-'));
  work = tempDir('osapi-cli-env-work-');
}, 30_000);

afterAll(cleanup, 30_000);

const osapi = (args: string[]): Promise<RunResult> =>
  runOsapi([...CMD, ...args], { env: childEnv(sys.stateDir) });

/** Runs osapi with `input` on its stdin. */
function osapiWithInput(args: string[], input: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...CMD, ...args], {
      env: childEnv(sys.stateDir),
      cwd: work,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input);
  });
}

function results(r: RunResult): Array<{ stdout: string; exit_code: number; error?: string }> {
  try {
    return (JSON.parse(r.stdout) as { results: [] }).results;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

describe('parseEnvFlag', () => {
  test('splits at the first =, keeps an empty value, and the last of a name given twice', () => {
    let env = parseEnvFlag('A=1');
    env = parseEnvFlag('B=x=y', env);
    env = parseEnvFlag('C=', env);
    env = parseEnvFlag('A=2', env);
    expect(env).toEqual({ A: '2', B: 'x=y', C: '' });
  });

  test('refuses a value without a name', () => {
    expect(() => parseEnvFlag('NOVALUE')).toThrow('--env: expected NAME=VALUE, got "NOVALUE"');
    expect(() => parseEnvFlag('=x')).toThrow(/expected NAME=VALUE/);
  });
});

describe('run flags', () => {
  test('--env sets variables, repeatable', async () => {
    const r = await osapi([
      'shell',
      '-j',
      '--command',
      'printf "%s|%s" "$ONE" "$TWO"',
      '--env',
      'ONE=first value',
      '--env',
      'TWO=a=b',
    ]);
    expect(r.code).toBe(0);
    expect(results(r)[0]?.stdout).toBe('first value|a=b');
  });

  test('--stdin passes text; --stdin-file a file; --stdin-file - this stdin', async () => {
    const text = await osapi(['exec', '-j', '--command', 'cat', '--stdin', 'from flag']);
    expect(results(text)[0]?.stdout).toBe('from flag');
    const file = join(work, 'input.txt');
    writeFileSync(file, 'from file\n');
    const fromFile = await osapi(['exec', '-j', '--command', 'cat', '--stdin-file', file]);
    expect(results(fromFile)[0]?.stdout).toBe('from file\n');
    const piped = await osapiWithInput(
      ['shell', '-j', '--command', 'tr a-z A-Z', '--stdin-file', '-'],
      'piped in',
    );
    expect(piped.code).toBe(0);
    expect(results(piped)[0]?.stdout).toBe('PIPED IN');
  });

  test('--user names the account; an unknown one fails on the host', async () => {
    const r = await osapi(['exec', '-j', '--command', 'id', '--user', 'osapi-no-such-user']);
    expect(r.code).toBe(1);
    expect(results(r)[0]).toMatchObject({
      exit_code: 125,
      error: 'cannot run as "osapi-no-such-user": no such user in /etc/passwd on this host',
    });
  });

  test('usage errors name the flag, and nothing is sent', async () => {
    const both = await osapi(['shell', '--command', 'cat', '--stdin', 'a', '--stdin-file', '-']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--stdin and --stdin-file cannot both be given/);
    const noEq = await osapi(['shell', '--command', 'true', '--env', 'JUSTNAME']);
    expect(noEq.code).not.toBe(0);
    expect(noEq.stderr).toMatch(/--env: expected NAME=VALUE, got "JUSTNAME"/);
    const missing = await osapi(['shell', '--command', 'cat', '--stdin-file', join(work, 'nope')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/--stdin-file: cannot read .*nope/);
    const big = join(work, 'big.txt');
    writeFileSync(big, 'x'.repeat(STDIN_MAX_CHARS + 1));
    const tooBig = await osapi(['shell', '--command', 'wc -c', '--stdin-file', big]);
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toMatch(
      new RegExp(`--stdin-file: .*big.txt is longer than the ${STDIN_MAX_CHARS} characters`),
    );
  });

  test('a bad env name is the API 400, naming the field', async () => {
    const r = await osapi(['shell', '--command', 'true', '--env', '1BAD=x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/400.*env\.1BAD is not a valid name/);
  });
});
