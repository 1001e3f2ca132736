// Runs the real compiled `bin/osapi` as child processes for the CLI end-to-end
// tests. Every child and temp dir made here is tracked so that `cleanup()` (in
// each file's afterAll) kills and removes them even when a test failed.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'osapi');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

// The suite's pretest builds dist/; running these files alone needs it too.
if (!existsSync(MAIN)) {
  throw new Error(
    `test/cli runs the compiled CLI, but ${MAIN} is missing: run \`npm run build\` (or \`npm run setup\`) first.`,
  );
}

export const VERSION: string = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** A stack trace line as Node prints it. */
export const STACK_LINE = '    at ';

const liveChildren = new Set<ChildProcess>();
const startedSystems = new Set<StartedOsapi>();
const tempDirs: string[] = [];

export function tempDir(prefix = 'osapi-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * The environment of every child: this process's environment without any
 * OSAPI_* variable, a private state dir (so nothing touches the real home),
 * then `extra`.
 */
export function childEnv(stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OSAPI_')) env[k] = v;
  }
  return { ...env, NO_COLOR: '1', OSAPI_STATE_DIR: stateDir, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the child and fail when it has not exited by then. */
  timeoutMs?: number;
}

/** Kills a child that may be `osapi start`: TERM first, so it can stop its nats-server. */
function terminate(child: ChildProcess, graceMs: number): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  child.once('exit', () => clearTimeout(t));
}

function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Runs `osapi ARGS` to completion (stdin is /dev/null: not a terminal). */
export function runOsapi(args: string[], opts: RunOptions): Promise<RunResult> {
  return runProgram(process.execPath, [BIN, ...args], opts);
}

function runProgram(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      env: opts.env,
      cwd: opts.cwd ?? tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      terminate(child, 3000);
      reject(
        new Error(
          `${[file, ...args].join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface TtyRunResult {
  code: number | null;
  /** Everything the terminal showed (stdout and stderr of osapi, and the echo of the answer). */
  output: string;
  /** Whether the text we waited for appeared before we answered. */
  prompted: boolean;
}

/**
 * Runs `osapi ARGS` on a pseudo-terminal through `script`, waits until the
 * output shows `waitFor`, then types `answer` and a newline.
 */
export function runOsapiOnTty(
  args: string[],
  opts: RunOptions & { waitFor: string; answer: string },
): Promise<TtyRunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const command = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: opts.env,
      cwd: opts.cwd ?? tmpdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: false,
    });
    track(child);
    let output = '';
    let prompted = false;
    const onData = (d: string) => {
      output += d;
      if (!prompted && output.includes(opts.waitFor)) {
        prompted = true;
        child.stdin?.write(`${opts.answer}\n`);
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => {
      terminate(child, 3000);
      reject(new Error(`osapi on a tty did not exit within ${timeoutMs} ms\noutput: ${output}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      child.stdin?.destroy();
      resolvePromise({ code, output, prompted });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes, through /proc.

/** Pids of the direct children of `pid` (every thread's children file). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return [...new Set(out)];
}

/** The program name of a pid (`/proc/PID/comm`), or null when it is gone. */
export function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * True when the process no longer runs. A zombie counts as gone: it has exited
 * and only waits to be reaped, which this machine's PID 1 does not do.
 */
export function isGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // "PID (comm) STATE ...": comm may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

// ---------------------------------------------------------------------------------------------
// `osapi start` as a child.

export interface ReadyInfo {
  status: string;
  api_url: string;
  nats_url: string;
  hostname: string;
  version: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartedOsapi {
  child: ChildProcess;
  pid: number;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  ready: ReadyInfo;
  /** Children of the osapi process right after it was ready (nats-server among them). */
  childrenAtReady: number[];
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

/**
 * Spawns `osapi -j start` on free ports with `stateDir` and resolves with the
 * ready JSON once it appears on stdout; fails if it exits or takes longer
 * than `readyTimeoutMs`.
 */
export function startOsapi(
  stateDir: string,
  opts: {
    readyTimeoutMs?: number;
    env?: Record<string, string>;
    /** Start it with this open-files limit (soft and hard), as `ulimit -n` would. */
    fdLimit?: number;
  } = {},
): Promise<StartedOsapi> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const env = childEnv(stateDir, {
    OSAPI_API_SERVER_PORT: '0',
    OSAPI_NATS_SERVER_PORT: '0',
    ...opts.env,
  });
  const argv = [process.execPath, BIN, '-j', 'start'];
  // `exec` keeps the pid: the child is osapi itself, as without a limit.
  const [file, ...args] =
    opts.fdLimit === undefined
      ? argv
      : ['/bin/sh', '-c', 'ulimit -n "$0" && exec "$@"', String(opts.fdLimit), ...argv];
  const child = spawn(file ?? process.execPath, args, {
    env,
    cwd: stateDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  track(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<Exit>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      terminate(child, 5000);
      reject(new Error(`osapi start ${why}\nstdout: ${stdout}\nstderr: ${stderr}`));
    };
    const timer = setTimeout(
      () => fail(`printed no ready JSON within ${readyTimeoutMs} ms`),
      readyTimeoutMs,
    );
    child.once('error', (err) => fail(`could not be spawned: ${err.message}`));
    void exited.then((e) => fail(`exited before it was ready (${e.code ?? e.signal})`));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (settled) return;
      let ready: ReadyInfo;
      try {
        ready = JSON.parse(stdout) as ReadyInfo;
      } catch {
        return; // Not the whole object yet.
      }
      settled = true;
      clearTimeout(timer);
      const started: StartedOsapi = {
        child,
        pid: child.pid ?? -1,
        stateDir,
        env,
        ready,
        childrenAtReady: childPids(child.pid ?? -1),
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
      };
      startedSystems.add(started);
      resolvePromise(started);
    });
  });
}

/** Sends `signal` and waits at most `boundMs` for the exit; SIGKILL and fail after that. */
export async function stopOsapi(
  s: StartedOsapi,
  signal: NodeJS.Signals = 'SIGTERM',
  boundMs = 10_000,
): Promise<Exit & { elapsedMs: number }> {
  const t0 = Date.now();
  s.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((res) => {
    timer = setTimeout(() => res(null), boundMs);
  });
  const exit = await Promise.race([s.exited, timedOut]);
  clearTimeout(timer);
  if (exit === null) {
    s.child.kill('SIGKILL');
    killLeftovers(s);
    throw new Error(`osapi start did not exit within ${boundMs} ms of ${signal}`);
  }
  startedSystems.delete(s);
  return { ...exit, elapsedMs: Date.now() - t0 };
}

function killLeftovers(s: StartedOsapi): void {
  for (const pid of s.childrenAtReady) {
    if (!isGone(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

/** Polls `check` every 50 ms until it is true or `boundMs` passed; returns its last value. */
export async function pollUntil(check: () => boolean, boundMs: number): Promise<boolean> {
  const end = Date.now() + boundMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** For afterAll: stops every `osapi start` still running, kills every other child, removes temp dirs. */
export async function cleanup(): Promise<void> {
  await Promise.all(
    [...startedSystems].map(async (s) => {
      try {
        await stopOsapi(s, 'SIGTERM', 10_000);
      } catch {
        // Killed hard by stopOsapi.
      }
      killLeftovers(s);
    }),
  );
  // TERM first: a child that is unexpectedly a server must get to stop its own children.
  await Promise.all(
    [...liveChildren].map(
      (child) =>
        new Promise<void>((res) => {
          if (child.exitCode !== null || child.signalCode !== null) return res();
          child.once('exit', () => res());
          terminate(child, 5000);
        }),
    ),
  );
  liveChildren.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
