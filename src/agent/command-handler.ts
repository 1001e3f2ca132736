// Runs a command job (exec or shell) through the process runner and turns how
// the process ended into the result the API returns for this host.

import { CommandJobData } from '../contract/command.js';
import {
  environmentForAccount,
  type OutputListener,
  type RunEnd,
  type RunResult,
  runCommand,
} from '../exec/index.js';
import type { CommandResult, FinalHostState } from '../job/records.js';
import { validatorOf } from '../job/schema-check.js';

/** Whether job data is a command job's, as the API made it. */
function isCommandJobData(data: unknown): data is CommandJobData {
  return validatorOf(CommandJobData).Check(data);
}

/**
 * The agent's own settings (`OSAPI_*`: NATS credentials, the token, keys'
 * paths) are configuration for the agent, never for the commands it runs.
 */
const AGENT_SETTING = /^OSAPI_/;

/**
 * The command's environment: its `env` over the agent's own (without the
 * agent's OSAPI_* settings), or, with `user`, over the reset one that account
 * gets.
 */
function commandEnvironment(data: CommandJobData): Record<string, string> {
  const base = data.user !== undefined ? environmentForAccount(process.env) : agentEnvironment();
  return { ...base, ...data.env };
}

let agentEnvironmentRead: Record<string, string> | undefined;
/**
 * The agent's environment without its OSAPI_* settings, read once: every read of process.env is a
 * call into the C++ side: copying it for each command was a few per cent of an agent's CPU
 * under load. The agent never changes its environment once started.
 */
function agentEnvironment(): Record<string, string> {
  if (!agentEnvironmentRead) {
    agentEnvironmentRead = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !AGENT_SETTING.test(k)) agentEnvironmentRead[k] = v;
    }
  }
  return agentEnvironmentRead;
}

export interface CommandLimits {
  maxOutputBytes: number;
  /** Live output: told of each piece as the command writes it. */
  onOutput?: OutputListener;
}

export interface HandlerOutcome {
  status: 'completed' | 'failed';
  data: CommandResult | null;
  error?: string;
  state: FinalHostState;
}

/** A non-zero exit is a `completed` result whose state is `failed`, as operators count it. */
function stateOf(r: RunResult): FinalHostState {
  switch (r.end.kind) {
    case 'exited':
      return r.exitCode === 0 ? 'succeeded' : 'failed';
    case 'timedOut':
      return 'timed_out';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'failed';
  }
}

const END_NAMES: Record<RunEnd['kind'], string> = {
  exited: 'exited',
  signaled: 'signaled',
  timedOut: 'timed_out',
  cancelled: 'cancelled',
  notFound: 'not_found',
  permissionDenied: 'permission_denied',
  badCwd: 'bad_cwd',
  unknownUser: 'unknown_user',
  userRefused: 'user_refused',
  spawnFailed: 'spawn_failed',
};

export function commandResult(r: RunResult): CommandResult {
  return {
    stdout: r.stdout,
    stderr: r.stderr,
    exit_code: r.exitCode,
    duration_ms: r.durationMs,
    // A command that started may have changed the host; one that never ran did not.
    changed: r.pid !== undefined,
    stdout_truncated: r.stdoutTruncated,
    stderr_truncated: r.stderrTruncated,
    stdout_bytes: r.stdoutBytes,
    stderr_bytes: r.stderrBytes,
    end: END_NAMES[r.end.kind],
  };
}

export async function runCommandJob(
  mode: 'exec' | 'shell',
  data: unknown,
  limits: CommandLimits,
  signal: AbortSignal,
): Promise<HandlerOutcome> {
  if (!isCommandJobData(data)) {
    const first = [...validatorOf(CommandJobData).Errors(data)][0];
    return {
      status: 'failed',
      state: 'failed',
      data: null,
      error: `invalid job data: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`,
    };
  }
  let result: RunResult;
  const env = commandEnvironment(data);
  try {
    result = await runCommand({
      mode,
      command: data.command,
      ...(mode === 'exec' ? { args: data.args } : {}),
      ...(data.cwd !== undefined ? { cwd: data.cwd } : {}),
      env,
      ...(data.stdin !== undefined ? { stdin: data.stdin } : {}),
      ...(data.user !== undefined ? { user: data.user } : {}),
      timeoutMs: data.timeout * 1000,
      maxOutputBytes: limits.maxOutputBytes,
      ...(limits.onOutput ? { onOutput: limits.onOutput } : {}),
      signal,
    });
  } catch (err) {
    // The runner refuses what the schema lets through (a blank command, a NUL
    // byte in the command, an argument or cwd): still a result, never a job
    // left without an answer.
    return {
      status: 'failed',
      state: 'failed',
      data: null,
      error: `cannot run this command: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (result.end.kind === 'userRefused') {
    // Refused like a command outside the policy: nothing ran, and the job says why.
    return {
      status: 'failed',
      data: null,
      error: `refused, not run: ${result.error}`,
      state: 'refused',
    };
  }
  const out = commandResult(result);
  const state = stateOf(result);
  // A non-zero exit is a result; only a command that could not run to its end is a failure.
  return result.end.kind === 'exited'
    ? { status: 'completed', state, data: out }
    : { status: 'failed', state, data: out, ...(result.error ? { error: result.error } : {}) };
}
