// The npm package: `npm pack` of the built checkout, installed with
// `npm install -g` into a temp prefix (its dependencies from npm's cache where
// it has them, else the registry), gives an `osapi` on that prefix's PATH that prints its version,
// runs an agent that an operator accepts and that runs a command sent
// through the API (also as `osapi-agent`, under its own node options), and
// an API server that serves the console.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NATIVE_SPAWN_PATH } from '../../src/exec/direct-spawn.js';
import { C_COMPILER, EXPECTED_COMMAND_SPAWN } from '../support/native-spawn.js';
import { startTestSystem, type TestSystem } from '../support/system.js';
import {
  agentRunsACommand,
  apiServesTheConsole,
  cleanup,
  hostEnv,
  ROOT,
  requireBuilt,
  run,
  tempDir,
  VERSION,
} from './helpers.js';

const execFileAsync = promisify(execFile);

let host: string;
let home: string;
let prefix: string;
let osapi: string;
let packed: string[];
let sys: TestSystem;

beforeAll(async () => {
  requireBuilt();
  const out = tempDir('osapi-pack-');
  // What prepack builds is already built: the tests pack dist/ as it is.
  const pack = await execFileAsync(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', out],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  const [info] = JSON.parse(pack.stdout) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  if (!info) throw new Error(`npm pack printed no package: ${pack.stdout}`);
  packed = info.files.map((f) => f.path);
  host = tempDir('osapi-npm-host-');
  home = join(host, 'home');
  mkdirSync(home);
  prefix = join(host, 'prefix');
  await execFileAsync(
    'npm',
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(out, info.filename),
    ],
    { cwd: host, maxBuffer: 64 * 1024 * 1024 },
  );
  osapi = join(prefix, 'bin', 'osapi');
  sys = await startTestSystem({ overrides: { 'agent.enrollment.auto_accept': false } });
}, 120_000);

afterAll(async () => {
  await cleanup();
  await sys?.stop();
}, 30_000);

describe('the npm package, installed with npm install -g', () => {
  test('carries the command, the compiled code and the console, not the executables', () => {
    expect(packed).toContain('bin/osapi');
    expect(packed).toContain('bin/osapi-agent');
    expect(packed).toContain('dist/cli/main.js');
    expect(packed).toContain('dist/ui/index.html');
    // The agent's posix_spawn module, built by prepack wherever a C compiler is (scripts/build-native.mjs).
    if (C_COMPILER) expect(packed).toContain(NATIVE_SPAWN_PATH);
    expect(packed.filter((p) => p.startsWith('dist/release/'))).toEqual([]);
    expect(
      existsSync(join(prefix, 'lib', 'node_modules', 'osapi', 'dist', 'ui', 'index.html')),
    ).toBe(true);
  });

  test('puts osapi on the prefix PATH, which prints the version', async () => {
    const env = hostEnv(home, { PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
    const r = await run('osapi', ['--version'], env, host);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('an agent started from it is accepted by its fingerprint, then runs a command sent through the API', async () => {
    await agentRunsACommand(osapi, host, home, sys, undefined, (agent) => {
      expect(agent.ready.command_spawn).toBe(EXPECTED_COMMAND_SPAWN);
    });
  }, 60_000);

  test('`osapi-agent` runs the agent in lite mode with a collection of its own, without a word from V8 on stderr', async () => {
    const agentStart = { program: join(prefix, 'bin', 'osapi-agent'), args: [] };
    await agentRunsACommand(osapi, host, home, sys, agentStart, (agent) => {
      const nodeArgs = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').split('\0');
      expect(nodeArgs).toContain('--lite-mode');
      // Its collection once idle (src/agent/idle-collect.ts) needs it.
      expect(nodeArgs).toContain('--expose-gc');
      expect(nodeArgs).toContain('--max-semi-space-size=1');
      // Only the agent's JSON log lines (none at this level), no V8 warning.
      expect(agent.stderr()).not.toMatch(/warning/i);
    });
  }, 60_000);

  test('`api server start` serves the API and the console on the test NATS', async () => {
    await apiServesTheConsole(osapi, host, home, sys);
  }, 60_000);
});
