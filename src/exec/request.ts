// Checks a request once, up front, and fills in defaults: a malformed request is the caller's bug and
// rejects, so that everything after this point is about the command itself.
import type { OutputListener, RunRequest } from './types.js';

export const DEFAULT_KILL_GRACE_MS = 2000;
// setTimeout fires at once for larger delays, which would turn a long timeout into an instant one.
const MAX_TIMER_MS = 2_147_483_647;
// The text must fit in one JavaScript string (about 512 Mi UTF-16 units); keep well below that.
export const MAX_OUTPUT_CAP_BYTES = 256 * 1024 * 1024;

export interface ResolvedRequest {
  /** The file handed to spawn: the program itself, or /bin/sh in shell mode. */
  file: string;
  args: string[];
  /** How the program is named in messages. */
  program: string;
  cwd: string;
  timeoutMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
  signal: AbortSignal | undefined;
  /** Undefined: process.env, or with `user`, environmentForAccount(process.env). */
  env: Record<string, string> | undefined;
  stdin: string | undefined;
  user: string | undefined;
  /** Whether the caller chose the cwd; with `user`, the default is that account's home. */
  cwdGiven: boolean;
  onOutput: OutputListener | undefined;
}

export function resolveRequest(req: RunRequest): ResolvedRequest {
  if (typeof req !== 'object' || req === null) {
    throw new TypeError('runCommand: request must be an object');
  }
  const { mode, command, args = [] } = req;
  if (mode !== 'exec' && mode !== 'shell') {
    throw new TypeError(`runCommand: mode must be 'exec' or 'shell', got ${String(mode)}`);
  }
  if (typeof command !== 'string' || command.trim() === '') {
    throw new TypeError('runCommand: command must be a non-empty string');
  }
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
    throw new TypeError('runCommand: args must be an array of strings');
  }
  if (mode === 'shell' && args.length > 0) {
    throw new TypeError('runCommand: args are not used in shell mode; put them in the command');
  }
  checkDelay('timeoutMs', req.timeoutMs, 1);
  const killGraceMs = req.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  checkDelay('killGraceMs', killGraceMs, 0);
  if (
    !Number.isSafeInteger(req.maxOutputBytes) ||
    req.maxOutputBytes < 0 ||
    req.maxOutputBytes > MAX_OUTPUT_CAP_BYTES
  ) {
    throw new RangeError(
      `runCommand: maxOutputBytes must be an integer from 0 to ${MAX_OUTPUT_CAP_BYTES}, got ${req.maxOutputBytes}`,
    );
  }
  if (req.cwd !== undefined && (typeof req.cwd !== 'string' || req.cwd === '')) {
    throw new TypeError('runCommand: cwd must be a non-empty string when given');
  }
  if (req.stdin !== undefined && typeof req.stdin !== 'string') {
    throw new TypeError('runCommand: stdin must be a string when given');
  }
  // A name that cannot be a passwd entry's: it would never match, or match the wrong field.
  if (req.user !== undefined && (typeof req.user !== 'string' || !/^[^:\s\0]+$/.test(req.user))) {
    throw new TypeError('runCommand: user must be a non-empty name without ":", spaces or NUL');
  }
  if (req.onOutput !== undefined && typeof req.onOutput !== 'function') {
    throw new TypeError('runCommand: onOutput must be a function when given');
  }
  const shell = mode === 'shell';
  return {
    file: shell ? '/bin/sh' : command,
    args: shell ? ['-c', command] : [...args],
    program: shell ? '/bin/sh' : command,
    cwd: req.cwd ?? process.cwd(),
    timeoutMs: req.timeoutMs,
    maxOutputBytes: req.maxOutputBytes,
    killGraceMs,
    signal: req.signal,
    env: req.env,
    stdin: req.stdin,
    user: req.user,
    cwdGiven: req.cwd !== undefined,
    onOutput: req.onOutput,
  };
}

function checkDelay(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new RangeError(
      `runCommand: ${name} must be a number from ${min} to ${MAX_TIMER_MS}, got ${String(value)}`,
    );
  }
}
