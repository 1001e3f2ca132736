// The API's view of what operators asked of each agent (the agent-state
// bucket: drained or not, and when), kept by one follow: routes and job
// planning read it without asking NATS.
import type { AgentState } from '../contract/agent.js';
import type { Logger } from '../log/logger.js';
import type { AgentInfoRecord, AgentStateRecord } from './records.js';
import { followAgentStates, type JobStore } from './store.js';

export interface AgentStateView {
  get(hostname: string): AgentStateRecord | undefined;
  /** True while an operator has the agent drained. */
  drained(hostname: string): boolean;
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchAgentStates(store: JobStore, logger: Logger): Promise<AgentStateView> {
  const byHost = new Map<string, AgentStateRecord>();
  const follow = await followAgentStates(store, logger, (hostname, record) => {
    if (record) byHost.set(hostname, record);
    else byHost.delete(hostname);
  });
  return {
    get: (hostname) => byHost.get(hostname),
    drained: (hostname) => byHost.get(hostname)?.drained === true,
    loaded: follow.loaded,
    stop: () => follow.stop(),
  };
}

/**
 * An agent's state as the API shows it: Ready unless drained; drained, it is
 * Cordoned once the agent says it is idle, Draining until then.
 */
export function effectiveState(
  heartbeat: Pick<AgentInfoRecord, 'state'> | undefined,
  asked: AgentStateRecord | undefined,
): AgentState {
  if (!asked?.drained) return 'Ready';
  return heartbeat?.state === 'Cordoned' ? 'Cordoned' : 'Draining';
}
