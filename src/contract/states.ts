// Job and host states, output stream names and a command's result as the
// API reports them: the words a client sees in a job's status and each host's.
import { type Static, Type } from 'typebox';

/**
 * How a host's part of a job ended, as precise as SSM's: the `completed` and
 * `failed` events and a host's result carry one, so nobody has to guess it
 * from an exit code. `pending` and `running` are never stored, and
 * `no_response` mostly is not: src/job/status.ts derives them from what is (not) there.
 */
export const FINAL_HOST_STATES = [
  'succeeded',
  /** The command ran and exited non-zero, or the operation failed. */
  'failed',
  'timed_out',
  'cancelled',
  /** Never started: a broadcast's max_errors was exceeded first. */
  'skipped',
  /** Refused by the agent, nothing run: command policy or signature. */
  'refused',
  /** The agent received it after the job's start deadline: not run. */
  'no_response',
] as const;
export type FinalHostState = (typeof FINAL_HOST_STATES)[number];

export const JOB_STATUSES = [
  'submitted',
  'processing',
  'completed',
  'failed',
  'partial_failure',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Every state a host can be in for a job. */
export const HOST_STATES = ['pending', 'running', ...FINAL_HOST_STATES] as const;
export type HostState = (typeof HOST_STATES)[number];

/** The two output streams of a command, as live output and results name them. */
export const OUTPUT_STREAMS = ['stdout', 'stderr'] as const;
export type OutputStream = (typeof OUTPUT_STREAMS)[number];

/** What a command left on one host: the result of command.exec/shell.execute. */
export const CommandResult = Type.Object({
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Integer(),
  duration_ms: Type.Integer(),
  changed: Type.Boolean(),
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
  stdout_bytes: Type.Integer(),
  stderr_bytes: Type.Integer(),
  /** How the process ended: exited, signaled, timed_out, cancelled, not_found, permission_denied, bad_cwd, unknown_user, spawn_failed. */
  end: Type.String(),
});
export type CommandResult = Static<typeof CommandResult>;
