// What bench/scale/main.ts and its fleet processes agree on: the spec of
// one process's agents, the messages between them, and the agents' names and
// labels (which the measurements address).

export interface FleetSpec {
  /** Index of this process among the fleet's. */
  worker: number;
  /** Agent numbers this process hosts, [from, to). */
  from: number;
  to: number;
  natsServers: string[];
  namespace: string;
  stateDir: string;
  /** Dotted config overrides shared by every agent (replicas, TTLs...). */
  overrides: Record<string, unknown>;
}

export type FleetCommand =
  | { cmd: 'start' }
  | { cmd: 'stop' }
  /** Collects garbage, then reports the process's memory. */
  | { cmd: 'memory' }
  /** Profiles this process's CPU until `profile-stop`, which writes the profile to `dir`. */
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop'; dir: string };

export type FleetReport =
  | { type: 'loaded' }
  | { type: 'started'; ms: number; failed: number; firstError?: string }
  | { type: 'stopped' }
  | { type: 'memory'; rss: number; heapUsed: number }
  | { type: 'profiled'; file: string | null };

/** `agent-00042`: sorts as it counts. */
export function agentName(i: number): string {
  return `agent-${String(i).padStart(5, '0')}`;
}

/** A tenth of the fleet shares each `group` value; `group:g3` reaches a tenth. */
export function agentLabels(i: number): Record<string, string> {
  return { group: `g${i % 10}.r${i % 3}` };
}
