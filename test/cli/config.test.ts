// Config errors stop `osapi start` before it starts anything: exit code 2, a
// message naming the file or key, never a stack trace. Also --version and --help.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  STACK_LINE,
  tempDir,
  VERSION,
} from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tempDir('osapi-cli-config-');
});

afterAll(cleanup, 30_000);

/** Free ports, in case a broken config check lets `start` run: the run's timeout then stops it. */
function osapi(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return runOsapi(args, {
    env: childEnv(join(dir, 'state'), {
      OSAPI_API_SERVER_PORT: '0',
      OSAPI_NATS_SERVER_PORT: '0',
      ...extraEnv,
    }),
    timeoutMs: 15_000,
  });
}

function expectConfigFailure(r: RunResult): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toContain(STACK_LINE);
}

describe('config errors', () => {
  test('a missing named config file: exit 2 naming the file', async () => {
    const missing = join(dir, 'nonexistent.yaml');
    const r = await osapi(['-f', missing, 'start']);
    expectConfigFailure(r);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toMatch(/not found|no such file/i);
  });

  test('an unknown key in the file: exit 2 naming its path', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'api:\n  server:\n    prot: 1\n');
    const r = await osapi(['-f', file, 'start']);
    expectConfigFailure(r);
    expect(r.stderr).toContain('api.server.prot');
  });

  test('a bad value from the environment: exit 2 naming the key and the variable', async () => {
    const r = await osapi(['start'], { OSAPI_API_SERVER_PORT: 'abc' });
    expectConfigFailure(r);
    expect(r.stderr).toContain('api.server.port');
    expect(r.stderr).toContain('OSAPI_API_SERVER_PORT');
  });
});

describe('version and help', () => {
  test('--version prints the package.json version', async () => {
    const r = await osapi(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  test('client node command exec --help exits 0 and lists its flags', async () => {
    const r = await osapi(['client', 'node', 'command', 'exec', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--command', '--args', '--cwd', '--timeout', '--target', '--yes']) {
      expect(r.stdout).toContain(flag);
    }
  });
});
