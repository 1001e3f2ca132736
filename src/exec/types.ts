// The runner's vocabulary: what to run, and every way a run can end, as plain data the agent can
// report without knowing how the process was driven.

export interface RunRequest {
  /** 'exec': run `command` with `args` directly, no shell. 'shell': run `/bin/sh -c command`. */
  mode: 'exec' | 'shell';
  command: string;
  /** exec mode only; a non-empty list in shell mode is rejected (put the words in the command). */
  args?: string[];
  /** Default: process.cwd() at call time. */
  cwd?: string;
  /** Kill the process group after this many ms. */
  timeoutMs: number;
  /** Cap per stream (stdout and stderr separately); the head and the tail are kept. At most 256 MiB. */
  maxOutputBytes: number;
  /** Grace between SIGTERM and SIGKILL to the group. Default 2000. */
  killGraceMs?: number;
  /** Cancel: kills the group like a timeout does. */
  signal?: AbortSignal;
  /**
   * Replaces the environment (it is not merged). Default: process.env, or with `user`,
   * environmentForAccount(process.env).
   */
  env?: Record<string, string>;
  /**
   * Written to the command's standard input, which is then closed. Without it the command's stdin
   * is /dev/null.
   */
  stdin?: string;
  /**
   * Run as this account from /etc/passwd: its uid and primary gid (supplementary groups are
   * dropped), HOME, USER, LOGNAME and SHELL set where `env` does not set them, and its home as the
   * default working directory (`/` when the home is missing). Only root may name another account;
   * otherwise the run ends as 'userRefused' before anything starts.
   */
  user?: string;
  /**
   * Told of each piece of output as the process writes it, uncapped and in
   * order per stream, for whoever shows output live. Called synchronously: it
   * must not block, and what it throws is ignored (the run goes on).
   */
  onOutput?: OutputListener;
}

export type OutputListener = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

export type RunEnd =
  /** Normal exit, any code: a non-zero code is a result, not an error. */
  | { kind: 'exited'; exitCode: number }
  /** Killed by a signal that did not come from the runner. */
  | { kind: 'signaled'; signal: string }
  | { kind: 'timedOut'; timeoutMs: number }
  | { kind: 'cancelled' }
  /** The program (or /bin/sh in shell mode) does not exist. */
  | { kind: 'notFound' }
  /** The program exists but may not be executed. */
  | { kind: 'permissionDenied' }
  /** The working directory is missing, not a directory or not searchable. */
  | { kind: 'badCwd'; cwd: string }
  /** No account of that name in /etc/passwd. */
  | { kind: 'unknownUser'; user: string }
  /** This process is not root, so it may not run a command as another account. Nothing ran. */
  | { kind: 'userRefused'; user: string }
  /** The host could not start a process at all (EAGAIN, EMFILE, E2BIG...): `code` is the errno name. */
  | { kind: 'spawnFailed'; code: string };

export interface RunResult {
  end: RunEnd;
  /**
   * One number for every end: exited -> its code; signaled -> 128 + signo; timedOut -> 124;
   * cancelled -> 130; notFound -> 127; permissionDenied -> 126; badCwd -> 125; spawnFailed -> 126;
   * unknownUser -> 125; userRefused -> 126.
   */
  exitCode: number;
  /** A sentence for every end except 'exited'. */
  error?: string;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Total bytes the process wrote to each stream, even beyond the cap. */
  stdoutBytes: number;
  stderrBytes: number;
  /** Integer milliseconds. */
  durationMs: number;
  /** Set once a process was started. */
  pid?: number;
}
