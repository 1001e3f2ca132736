// The API's view of what API servers decided of each agent, kept by one
// follow per bucket: whether operators drained it (agent-state), and which
// of its keys is accepted or rejected (agent-enrollment). Routes and job
// planning read it without asking NATS.
import type { AgentState } from '../contract/agent.js';
import type { Logger } from '../log/logger.js';
import type { AgentInfoRecord, AgentStateRecord, EnrollmentRecord } from './records.js';
import { followAgentStates, followEnrollments, type JobStore } from './store.js';

export type Enrollment = 'accepted' | 'pending' | 'rejected';

export interface AgentStateView {
  get(hostname: string): AgentStateRecord | undefined;
  /** True while an operator has the agent drained. */
  drained(hostname: string): boolean;
  /** The decision on an agent's key, if any was made. */
  decision(hostname: string): EnrollmentRecord | undefined;
  /** Whether the key this heartbeat presents is accepted, waits, or was rejected. */
  enrollment(info: Pick<AgentInfoRecord, 'hostname' | 'fingerprint'>): Enrollment;
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchAgentStates(store: JobStore, logger: Logger): Promise<AgentStateView> {
  const states = new Map<string, AgentStateRecord>();
  const decisions = new Map<string, EnrollmentRecord>();
  const into =
    <T>(map: Map<string, T>) =>
    (hostname: string, record: T | null) => {
      if (record) map.set(hostname, record);
      else map.delete(hostname);
    };
  const [a, b] = await Promise.all([
    followAgentStates(store, logger, into(states)),
    followEnrollments(store, logger, into(decisions)),
  ]);
  return {
    get: (hostname) => states.get(hostname),
    drained: (hostname) => states.get(hostname)?.drained === true,
    decision: (hostname) => decisions.get(hostname),
    enrollment: (info) => enrollmentOf(info, decisions.get(info.hostname)),
    loaded: Promise.all([a.loaded, b.loaded]).then(() => {}),
    stop: () => {
      a.stop();
      b.stop();
    },
  };
}

/** A key is trusted only as decided for that very key: a new one waits. */
export function enrollmentOf(
  info: Pick<AgentInfoRecord, 'fingerprint'>,
  decision: EnrollmentRecord | undefined,
): Enrollment {
  if (!info.fingerprint || !decision || decision.fingerprint !== info.fingerprint) return 'pending';
  return decision.status;
}

/**
 * An agent's state as the API shows it: Pending unless its key is accepted;
 * then Ready unless drained; drained, Cordoned once the agent says it is
 * idle, Draining until then.
 */
export function effectiveState(
  heartbeat: Pick<AgentInfoRecord, 'state'> | undefined,
  asked: AgentStateRecord | undefined,
  enrollment: Enrollment = 'accepted',
): AgentState {
  if (enrollment !== 'accepted') return 'Pending';
  if (!asked?.drained) return 'Ready';
  return heartbeat?.state === 'Cordoned' ? 'Cordoned' : 'Draining';
}
