// Runs an installed osapi (the single executable, or the package installed
// from its tarball) as child processes, the way a host runs it: its own temp
// dir, an empty HOME, no OSAPI_* variable but those a test gives. Every child
// and temp dir made here is tracked so that `cleanup()` (in each file's
// afterAll) kills and removes them even when a test failed.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { waitFor } from '../api/helpers.js';
import type { TestSystem } from '../support/system.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VERSION: string = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Both are made from dist/: the compiled CLI and the console. */
export function requireBuilt(): void {
  for (const file of [join('dist', 'cli', 'main.js'), join('dist', 'ui', 'index.html')]) {
    if (!existsSync(join(ROOT, file))) {
      throw new Error(
        `test/release packs the built osapi, but ${file} is missing: run \`npm run build\` first.`,
      );
    }
  }
}

const liveChildren = new Set<ChildProcess>();
const tempDirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function cleanup(): Promise<void> {
  await Promise.all(
    [...liveChildren].map(
      (child) =>
        new Promise<void>((res) => {
          child.once('exit', () => res());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A host's environment: PATH (for nats-server and tools) and an empty HOME, nothing else. */
export function hostEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1', ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnTracked(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Spawned {
  const child = spawn(program, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => {
    child.once('close', (code) => {
      liveChildren.delete(child);
      res(code);
    });
    // A program that could not be started (not installed): no exit code, the reason on stderr.
    child.once('error', (err) => {
      liveChildren.delete(child);
      stderr += `${err.message}\n`;
      res(null);
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `program ARGS` to completion; fails when it takes longer than `timeoutMs`. */
export async function run(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs = 20_000,
): Promise<RunResult> {
  const p = spawnTracked(program, args, env, cwd);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

export interface Started {
  /** The JSON the command printed once ready (with -j). */
  ready: Record<string, unknown>;
  pid: number;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, and the exit code once it has stopped. */
  stop(): Promise<number | null>;
}

/** Starts a long-running command (`osapi -j agent start`, `osapi -j start`) and waits for its ready JSON. */
export function startReady(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  readyWithinMs = 30_000,
): Promise<Started> {
  const p = spawnTracked(program, args, env, cwd);
  const stop = async () => {
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
    const code = await p.exited;
    clearTimeout(t);
    return code;
  };
  return new Promise((resolvePromise, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      p.child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} ${why}\nstderr: ${p.stderr()}`));
    };
    const timer = setTimeout(() => fail(`was not ready within ${readyWithinMs} ms`), readyWithinMs);
    void p.exited.then((code) => fail(`exited (${code}) before it was ready`));
    p.child.stdout?.on('data', () => {
      try {
        const ready = JSON.parse(p.stdout()) as Record<string, unknown>;
        clearTimeout(timer);
        resolvePromise({ ready, stop, pid: p.child.pid ?? -1, stderr: p.stderr });
      } catch {
        // Not the whole object yet.
      }
    });
  });
}

/**
 * The agent's config on a new host, as docs/deployment.md writes it: the
 * test system's NATS and namespace, and the API's public job-signing key
 * (copied beside the config, as an operator copies it to the host).
 */
export function writeAgentConfig(dir: string, sys: TestSystem, hostname: string): string {
  const verifyKey = join(dir, 'job-signing.pub');
  writeFileSync(verifyKey, readFileSync(join(sys.config.state_dir, 'job-signing.pub')));
  const file = join(dir, 'osapi.yaml');
  writeFileSync(
    file,
    stringify({
      state_dir: join(dir, 'state'),
      agent: {
        hostname,
        nats: { servers: [sys.nats.url], namespace: sys.config.agent.nats.namespace },
        security: { job_verify_key_file: verifyKey },
      },
    }),
    { mode: 0o600 },
  );
  return file;
}

/** The environment of the installed osapi acting as a client of the test system's API. */
export function clientEnv(home: string, sys: TestSystem, token: string): NodeJS.ProcessEnv {
  return hostEnv(home, {
    OSAPI_API_CLIENT_URL: sys.url,
    OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
  });
}

/**
 * The three commands of docs/deployment.md's "Add a host" on `host`: the
 * agent config written, the agent started from `osapi`, then accepted by an
 * operator by its key's fingerprint; then a command sent through the API
 * (by `osapi` as a client) runs on it.
 */
export async function agentRunsACommand(
  osapi: string,
  host: string,
  home: string,
  sys: TestSystem,
  /** How the agent is started: `osapi agent start`, or a command that means it (osapi-agent). */
  agentStart: { program: string; args: string[] } = { program: osapi, args: ['agent', 'start'] },
  /** Checks on the running agent, beyond running a command. */
  check: (agent: Started) => void = () => {},
): Promise<void> {
  const hostname = `osapitest-${crypto.randomUUID().slice(0, 8)}`;
  const config = writeAgentConfig(host, sys, hostname);
  const agent = await startReady(
    agentStart.program,
    ['-j', '-f', config, ...agentStart.args],
    hostEnv(home),
    host,
  );
  try {
    expect(agent.ready.hostname).toBe(hostname);
    check(agent);
    const client = clientEnv(home, sys, await sys.token());
    const fingerprint = await run(
      osapi,
      ['-f', config, 'agent', 'key', 'fingerprint'],
      hostEnv(home),
      host,
    );
    expect(fingerprint.code).toBe(0);
    await waitFor(
      `${hostname} to be pending`,
      () => sys.api.registry.agents().some((a) => a.info.hostname === hostname),
      10_000,
      50,
    );
    const accepted = await run(
      osapi,
      [
        'client',
        'agent',
        'accept',
        '--hostname',
        hostname,
        '--fingerprint',
        fingerprint.stdout.trim(),
      ],
      client,
      host,
    );
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toContain(`${hostname} accepted with key`);
    const exec = await run(
      osapi,
      [
        '-j',
        'client',
        'node',
        'command',
        'exec',
        '-T',
        hostname,
        '--command',
        'echo',
        '--args',
        'hello,host',
      ],
      client,
      host,
    );
    expect(exec.stderr).toBe('');
    const body = JSON.parse(exec.stdout) as {
      results: Array<{ hostname: string; stdout: string }>;
    };
    expect(body.results).toEqual([expect.objectContaining({ hostname, stdout: 'hello host\n' })]);
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}

/**
 * `osapi api server start` on the test system's NATS (a namespace of its
 * own) answers /health and /openapi.json and serves the console.
 */
export async function apiServesTheConsole(
  osapi: string,
  host: string,
  home: string,
  sys: TestSystem,
): Promise<void> {
  const dir = mkdtempSync(join(host, 'api-'));
  const env = hostEnv(home, {
    OSAPI_STATE_DIR: dir,
    OSAPI_API_SERVER_HOST: '127.0.0.1',
    OSAPI_API_SERVER_PORT: '0',
    OSAPI_API_SERVER_NATS_SERVERS: sys.nats.url,
    OSAPI_API_SERVER_NATS_NAMESPACE: `t${crypto.randomUUID().slice(0, 8)}`,
    OSAPI_API_SERVER_SECURITY_SIGNING_KEY: `test-key-${crypto.randomUUID()}`,
  });
  const api = await startReady(osapi, ['-j', 'api', 'server', 'start'], env, host);
  try {
    const url = api.ready.api_url as string;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // The OpenAPI document is made from the operations' declarations, in the code.
    const openapi = await fetch(`${url}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { info: { version: string } }).info.version).toBe(VERSION);
    const page = await fetch(`${url}/ui/`);
    expect(page.status).toBe(200);
    const script = /(app-[A-Z0-9]+\.js)/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${url}/ui/${script}`);
    expect(js.status).toBe(200);
    expect(Buffer.from(await js.arrayBuffer())).toEqual(
      readFileSync(join(ROOT, 'dist', 'ui', script as string)),
    );
  } finally {
    expect(await api.stop()).toBe(0);
  }
}
