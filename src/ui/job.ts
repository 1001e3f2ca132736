// Reading a job as the console shows it: whether it can still change, each
// host's command result, and the summary line. Pure: no DOM.
import { commandModeOf } from '../contract/command.js';
import type { CommandResult, HostState, JobStatus } from '../contract/states.js';
import type { JobDetail } from '../sdk/client.js';
import { plural, tally } from './format.js';

const ACTIVE_HOST_STATES: ReadonlySet<string> = new Set([
  'pending',
  'running',
] satisfies HostState[]);
const ACTIVE_JOB_STATUSES: ReadonlySet<string> = new Set([
  'submitted',
  'processing',
] satisfies JobStatus[]);

/** Every host has ended and the job has a final status: nothing will change. */
export function isFinal(job: JobDetail): boolean {
  return (
    !ACTIVE_JOB_STATUSES.has(job.status) &&
    Object.values(job.agent_states).every((s) => !ACTIVE_HOST_STATES.has(s.status))
  );
}

export function isActiveHostState(state: string): boolean {
  return ACTIVE_HOST_STATES.has(state);
}

export type HostResult = Pick<
  CommandResult,
  'stdout' | 'stderr' | 'exit_code' | 'duration_ms' | 'stdout_truncated' | 'stderr_truncated'
>;

/** A host's command result, when its response holds one. */
export function commandResult(job: JobDetail, host: string): HostResult | null {
  const data = job.responses[host]?.data as Partial<CommandResult> | null | undefined;
  if (!data || typeof data !== 'object') return null;
  if (typeof data.stdout !== 'string' || typeof data.stderr !== 'string') return null;
  return {
    stdout: data.stdout,
    stderr: data.stderr,
    exit_code: typeof data.exit_code === 'number' ? data.exit_code : -1,
    duration_ms: typeof data.duration_ms === 'number' ? data.duration_ms : 0,
    stdout_truncated: data.stdout_truncated === true,
    stderr_truncated: data.stderr_truncated === true,
  };
}

/** Hostnames of a job: those with a state and those that answered, sorted. */
export function jobHosts(job: JobDetail): string[] {
  return [...new Set([...Object.keys(job.agent_states), ...Object.keys(job.responses)])].sort();
}

/** "3 hosts: 2 succeeded, 1 failed", or while it runs "3 hosts: 1 running, 2 pending". */
export function summary(job: JobDetail): string {
  const hosts = jobHosts(job);
  if (hosts.length === 0) return 'Waiting for an agent to take the job…';
  const states = hosts.map((h) => job.agent_states[h]?.status ?? 'pending');
  return `${plural(hosts.length, 'host')}: ${tally(states)}`;
}

export interface CommandLine {
  mode: 'exec' | 'shell' | null;
  text: string;
}

/** What a job ran, as a person would type it: `uname -a`, or the operation type. */
export function describeOperation(job: JobDetail): CommandLine {
  const { type, data } = job.operation;
  const d = (data ?? {}) as { command?: unknown; args?: unknown };
  const mode = commandModeOf(type);
  if (mode && typeof d.command === 'string') {
    const args = Array.isArray(d.args)
      ? d.args.filter((a): a is string => typeof a === 'string')
      : [];
    const quoted = args.map((a) =>
      /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`,
    );
    return {
      mode,
      text: [d.command, ...quoted].join(' '),
    };
  }
  return { mode: null, text: type };
}

/** The job statuses the list can be filtered by, with words for people. */
export const JOB_STATUS_LABELS: Record<JobStatus, string> = {
  submitted: 'Submitted',
  processing: 'Processing',
  completed: 'Completed',
  failed: 'Failed',
  partial_failure: 'Partial failure',
};
