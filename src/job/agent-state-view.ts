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
  /**
   * What this server just wrote, at its revision: the view has it at once
   * (the bucket's follow brings it later, and an older entry never replaces
   * a newer one), so a request after a drain or an accept reads it here
   * however loaded the machine is.
   */
  wroteState(hostname: string, record: AgentStateRecord, revision: number): void;
  wroteDecision(hostname: string, record: EnrollmentRecord, revision: number): void;
  readonly loaded: Promise<void>;
  stop(): void;
}

/** An entry as last known, at its bucket revision; `record` absent once removed. */
interface Revised<T> {
  record: T | undefined;
  revision: number;
}

export async function watchAgentStates(store: JobStore, logger: Logger): Promise<AgentStateView> {
  const states = new Map<string, Revised<AgentStateRecord>>();
  const decisions = new Map<string, Revised<EnrollmentRecord>>();
  const into =
    <T>(map: Map<string, Revised<T>>) =>
    (hostname: string, record: T | null, revision: number) => {
      // A removal is kept as an empty entry at its revision, so an older write heard late stays out.
      if ((map.get(hostname)?.revision ?? 0) >= revision) return;
      map.set(hostname, { record: record ?? undefined, revision });
    };
  const [a, b] = await Promise.all([
    followAgentStates(store, logger, into(states)),
    followEnrollments(store, logger, into(decisions)),
  ]);
  return {
    get: (hostname) => states.get(hostname)?.record,
    drained: (hostname) => states.get(hostname)?.record?.drained === true,
    decision: (hostname) => decisions.get(hostname)?.record,
    enrollment: (info) => enrollmentOf(info, decisions.get(info.hostname)?.record),
    wroteState: into(states),
    wroteDecision: into(decisions),
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
