// Starts a command through posix_spawn (native/direct-spawn.c, built into
// dist/native by scripts/build-native.mjs) rather than Node's spawn, which
// forks the whole agent first: on a virtual machine the fork alone took
// several milliseconds per command, most of a command's round trip
// (bench/RESULTS.md). What it hands back behaves as the part of a
// ChildProcess that run-command.ts uses, so the run is supervised the same
// either way. Node's spawn is used where the module was not built (no C
// compiler at setup) or cannot be loaded, or is turned off
// (`agent.direct_spawn`), in a worker thread, for a run as another user, and
// for a program looked up on a PATH of more than PATH_ENTRIES_MAX entries.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { PACKAGE_ROOT } from '../package-root.js';
import { executableAsset, isSingleExecutable, NATIVE_SPAWN_ASSET } from '../single-executable.js';

/**
 * The part of a started process run-command.ts supervises, a ChildProcess
 * among them: its events are a ChildProcess's 'exit', 'close' and 'error'.
 */
export interface StartedProcess extends EventEmitter {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

export interface StartOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A pipe to write to, or /dev/null. */
  stdin: 'pipe' | 'ignore';
  /** Run as this uid and gid: only Node's spawn can, so it is used. */
  uid?: number;
  gid?: number;
}

interface NativeSpawn {
  spawn(
    file: string,
    argv: string[],
    env: string[],
    cwd: string | null,
    stdinPipe: boolean,
    onExit: (code: number | null, signo: number | null) => void,
  ): { pid: number; stdin: number; stdout: number; stderr: number };
}

/**
 * The most PATH entries searched here: the search runs on the agent's
 * thread, each entry a look at the file system and each program found
 * that cannot run a spawn; a longer PATH goes to Node's spawn, whose child
 * searches it.
 */
const PATH_ENTRIES_MAX = 64;

/** Where the built module is, from the package's root (scripts/build-native.mjs builds it there). */
export const NATIVE_SPAWN_PATH = join('dist', 'native', 'direct-spawn.node');

/** How commands start: posix_spawn through the module, or Node's spawn (a fork, then exec). */
export type CommandSpawn = 'posix_spawn' | 'fork';

let native: NativeSpawn | null | undefined;
let enabled = true;

/**
 * The built module, or null when there is none to load here. Not in a worker
 * thread: a child still running when its worker ends would be waited for on
 * behalf of an environment that is gone.
 */
function nativeSpawn(): NativeSpawn | null {
  if (native === undefined) {
    try {
      if (!isMainThread) throw new Error('a worker thread');
      native = isSingleExecutable()
        ? fromExecutable()
        : (createRequire(import.meta.url)(join(PACKAGE_ROOT, NATIVE_SPAWN_PATH)) as NativeSpawn);
    } catch {
      native = null;
    }
  }
  return native;
}

/** The module from the single executable's assets, or null when it has none. */
function fromExecutable(): NativeSpawn | null {
  const bytes = executableAsset(NATIVE_SPAWN_ASSET);
  return bytes ? loadSharedObject<NativeSpawn>(bytes) : null;
}

/**
 * Loads a shared object given as bytes. One is loaded from a file, so it is
 * written into a directory only this user can enter (mkdtemp: mode 0700),
 * loaded, and removed at once (the loaded copy stays mapped). Throws where
 * the temp directory cannot hold a loadable file (mounted noexec, say).
 */
export function loadSharedObject<T>(bytes: Uint8Array, parent = tmpdir()): T {
  const dir = mkdtempSync(join(parent, 'osapi-native-'));
  try {
    const file = join(dir, 'module.node');
    writeFileSync(file, bytes, { mode: 0o500, flag: 'wx' });
    const module = { exports: {} as T };
    process.dlopen(module, file);
    return module.exports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Turns posix_spawn off (or back on): the agent's `agent.direct_spawn`, and tests. */
export function useDirectSpawn(on: boolean): void {
  enabled = on;
}

/** How commands start here now (a run as another user, or on a very long PATH, always forks). */
export function spawnMode(): CommandSpawn {
  return enabled && nativeSpawn() ? 'posix_spawn' : 'fork';
}

/**
 * Starts `file` with `args` in a session of its own (the group run-command
 * signals), stdout and stderr piped. Throws, as Node's spawn can, an errno
 * error (ENOENT, EACCES, E2BIG...) when nothing started.
 */
export function startProcess(file: string, args: string[], opts: StartOptions): StartedProcess {
  const direct = enabled && opts.uid === undefined ? nativeSpawn() : null;
  if (!direct || (!file.includes('/') && pathEntries(opts.env) > PATH_ENTRIES_MAX)) {
    return startWithNode(file, args, opts);
  }
  const env: string[] = [];
  for (const [key, value] of Object.entries(opts.env)) {
    if (value !== undefined) env.push(`${key}=${value}`);
  }
  // C strings end at a NUL: refused, as Node's spawn refuses them, rather than cut short.
  for (const [what, values] of [
    ['file', [file]],
    ['args', args],
    ['env', env],
    ['cwd', [opts.cwd]],
  ] as const) {
    if (values.some((v) => v.includes('\0'))) {
      throw new TypeError(`startProcess: ${what} must not contain a NUL byte`);
    }
  }
  let started: DirectProcess | undefined;
  // Called on a later turn of the event loop, never before `started` is set.
  const fds = direct.spawn(
    file,
    [file, ...args],
    env,
    opts.cwd,
    opts.stdin === 'pipe',
    (code, signo) => started?.ended(code, signo),
  );
  started = new DirectProcess(fds);
  return started;
}

function pathEntries(env: NodeJS.ProcessEnv): number {
  const path = env.PATH;
  return path === undefined ? 2 : path.split(':').length;
}

function startWithNode(file: string, args: string[], opts: StartOptions): ChildProcess {
  return spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    detached: true,
    stdio: [opts.stdin, 'pipe', 'pipe'],
  });
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * A process started by posix_spawn, told as a ChildProcess tells: 'exit'
 * when it ends, 'close' once it has ended and its output sockets have closed.
 */
class DirectProcess extends EventEmitter implements StartedProcess {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  private end: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private openPipes = 2;
  private closed = false;

  constructor(fds: { pid: number; stdin: number; stdout: number; stderr: number }) {
    super();
    this.pid = fds.pid;
    this.stdin = fds.stdin >= 0 ? new Socket({ fd: fds.stdin, readable: false }) : null;
    this.stdout = new Socket({ fd: fds.stdout, writable: false });
    this.stderr = new Socket({ fd: fds.stderr, writable: false });
    for (const pipe of [this.stdout, this.stderr]) {
      pipe.once('close', () => {
        this.openPipes--;
        this.closeIfDone();
      });
    }
  }

  /** The child has ended and been reaped: both null when it was reaped elsewhere (not ours to tell). */
  ended(code: number | null, signo: number | null): void {
    const signal = signo === null ? null : (SIGNAL_NAMES.get(signo) ?? null);
    this.end = { code, signal };
    this.emit('exit', code, signal);
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (this.closed || !this.end || this.openPipes > 0) return;
    this.closed = true;
    this.emit('close', this.end.code, this.end.signal);
  }
}
