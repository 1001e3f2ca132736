// The records the job protocol stores in NATS KV. Anything read back from NATS
// is validated against these schemas before use: a NATS message is input too.
import { type Static, type TSchema, Type } from 'typebox';
import { AgentState, TimelineEvent } from '../contract/agent.js';
import { NodeCondition } from '../contract/conditions.js';
import { OPERATION_TYPES } from '../contract/operations.js';
import { FINAL_HOST_STATES, type FinalHostState } from '../contract/states.js';
import { STATUS_EVENTS } from '../names/names.js';
import { validatorOf } from './schema-check.js';

export {
  CommandResult,
  FINAL_HOST_STATES,
  type FinalHostState,
} from '../contract/states.js';

const STATUS_EVENTS_SCHEMA = Type.Enum(STATUS_EVENTS);

const FinalHostStateSchema = Type.Enum(FINAL_HOST_STATES);

/** How a result ended for its host: its `state`, or from its status when it carries none. */
export function finalStateOf(r: {
  status: 'completed' | 'failed';
  state?: FinalHostState;
}): FinalHostState {
  return r.state ?? (r.status === 'completed' ? 'succeeded' : 'failed');
}

export function isFinalHostStateName(s: string | undefined): s is FinalHostState {
  return (FINAL_HOST_STATES as readonly string[]).includes(s ?? '');
}

export const JobRecord = Type.Object({
  id: Type.String({ format: 'uuid' }),
  operation: Type.Object({
    type: Type.Enum(OPERATION_TYPES),
    data: Type.Unknown(),
  }),
  category: Type.Union([Type.Literal('query'), Type.Literal('modify')]),
  /** The target as the user wrote it: `_any`, `_all`, a hostname or `key:value`. */
  target_hostname: Type.String(),
  created: Type.String(),
  /** The token subject of whoever asked. */
  created_by: Type.String(),
  /** After this instant an agent that has not started the job must not start it. */
  deadline: Type.String(),
  /**
   * Agents the API expected to answer a broadcast, from the registry at submit
   * time. Stored under its own key (names.ts `expectedKey`), not in the signed
   * definition agents read; the API's jobs view puts it back here.
   */
  expected_hosts: Type.Optional(Type.Array(Type.String())),
  /**
   * For a broadcast (`_all` or a label): the SHA-256 (hex) of the sorted
   * expected hosts (signing.ts `expectedDigest`). Signed with the rest, so an
   * agent runs a broadcast only when the list it holds, carried beside the
   * notification or read from `expected.<id>`, is the one the API signed and
   * names it.
   */
  expected_digest: Type.Optional(Type.String()),
  /**
   * The requester's command policy (auth/command-policy.ts), for the agent to
   * enforce. `true` for a mode: any command line of it. Without `users`,
   * `env` or `cwd`: none of them may be used.
   */
  command_policy: Type.Optional(
    Type.Object({
      exec: Type.Union([Type.Literal(true), Type.Array(Type.String())]),
      shell: Type.Union([Type.Literal(true), Type.Array(Type.String())]),
      users: Type.Optional(Type.Array(Type.String())),
      env: Type.Optional(Type.Array(Type.String())),
      cwd: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  /** A rate-controlled broadcast's limits, resolved to host counts (rollout.ts). */
  rollout: Type.Optional(
    Type.Object({ max_concurrency: Type.Integer(), max_errors: Type.Integer() }),
  ),
  /** Which API key signed it, and the Ed25519 signature over everything else (signing.ts). */
  key_id: Type.Optional(Type.String()),
  signature: Type.Optional(Type.String()),
});
export type JobRecord = Static<typeof JobRecord>;

export const JobResponse = Type.Object({
  job_id: Type.String(),
  hostname: Type.String(),
  status: Type.Union([Type.Literal('completed'), Type.Literal('failed')]),
  /**
   * The operation's result (its declared result schema, src/contract/
   * operations.ts; CommandResult for commands) or null. Its shape depends on the job's type, so whoever reads it
   * checks it against that type's schema before use.
   */
  data: Type.Unknown(),
  error: Type.Optional(Type.String()),
  state: Type.Optional(FinalHostStateSchema),
  started_at: Type.String(),
  finished_at: Type.String(),
  /** Live output chunks the agent sent for the run (agent/live-output.ts), for followers. */
  output_chunks: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type JobResponse = Static<typeof JobResponse>;

export const StatusEventRecord = Type.Object({
  timestamp: Type.String(),
  event: STATUS_EVENTS_SCHEMA,
  hostname: Type.String(),
  message: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  /** On `completed` and `failed`: how the host's part ended. */
  state: Type.Optional(FinalHostStateSchema),
});
export type StatusEventRecord = Static<typeof StatusEventRecord>;

export const AgentInfoRecord = Type.Object({
  hostname: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  started_at: Type.String(),
  registered_at: Type.String(),
  version: Type.String(),
  os_info: Type.Object({ distribution: Type.String(), version: Type.String() }),
  uptime: Type.String(),
  load_average: Type.Object({
    '1min': Type.Number(),
    '5min': Type.Number(),
    '15min': Type.Number(),
  }),
  memory: Type.Object({ total: Type.Integer(), free: Type.Integer(), used: Type.Integer() }),
  max_jobs: Type.Integer(),
  /** Its conditions as last evaluated (absent from agents that evaluate none). */
  conditions: Type.Optional(Type.Array(NodeCondition)),
  /** Its public key (Ed25519, raw, base64) and that key's fingerprint (agent/identity.ts). */
  public_key: Type.Optional(Type.String({ maxLength: 64 })),
  fingerprint: Type.Optional(Type.String({ maxLength: 64 })),
  /** The host's /etc/machine-id, empty where there is none. */
  machine_id: Type.Optional(Type.String({ maxLength: 64 })),
  /** Ready, Draining or Cordoned, as the agent knows itself (absent from older agents). */
  state: Type.Optional(AgentState),
  /** Its own recent events (started, draining, cordoned, conditions), oldest first. */
  timeline: Type.Optional(Type.Array(TimelineEvent, { maxItems: 50 })),
  /**
   * Set by an agent that took a new name after node.hostname.update renamed
   * its host: the name it had and that job. API servers carry the old name's
   * acceptance (and drained state) over once they checked the job asked for
   * this name and the old name's signed result says it was set.
   */
  renamed_from: Type.Optional(
    Type.Object({
      hostname: Type.String({ minLength: 1, maxLength: 253 }),
      job_id: Type.String({ maxLength: 36 }),
    }),
  ),
});
export type AgentInfoRecord = Static<typeof AgentInfoRecord>;

export class RecordError extends Error {
  override name = 'RecordError';
}

/** Builds a parser that checks a JSON payload against a schema. */
export function recordParser<T extends TSchema>(
  schema: T,
  what: string,
): (raw: Uint8Array | string) => Static<T> {
  return (raw) => {
    // Compiled at the first record parsed, not when the module loads.
    const check = validatorOf(schema);
    let value: unknown;
    try {
      value = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
    } catch {
      throw new RecordError(`${what}: not valid JSON`);
    }
    if (!check.Check(value)) {
      const first = [...check.Errors(value)][0];
      throw new RecordError(
        `${what}: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`,
      );
    }
    return value as Static<T>;
  };
}

/**
 * The value under `rollouts.<id>` (names.ts rolloutKey): how far a
 * rate-controlled broadcast got, so whichever API server drives it next
 * carries on where the last one stopped (src/api/rollout.ts).
 */
export const RolloutProgress = Type.Object({
  /** The API server driving it; null once it let go (a clean stop). */
  driver: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  /** How long the driver may go without writing before another takes over. */
  lease_ms: Type.Integer({ minimum: 100 }),
  /** How long a told host may take to report its end before it counts as no_response. */
  per_host_ms: Type.Integer({ minimum: 1 }),
  /** The hosts told to start, and when. */
  told: Type.Record(Type.String(), Type.String()),
  /** Every host has ended, been skipped or cancelled: nothing left to drive. */
  done: Type.Boolean(),
});
export type RolloutProgress = Static<typeof RolloutProgress>;

/**
 * An agent's entry in the agent-state bucket (under its hostname): what
 * operators asked of it, written by API servers only.
 */
export const AgentStateRecord = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  /** Drained: it takes nothing new until undrained. */
  drained: Type.Boolean(),
  /** The operators' requests, oldest first (the last 50). */
  timeline: Type.Array(TimelineEvent, { maxItems: 50 }),
});
export type AgentStateRecord = Static<typeof AgentStateRecord>;

/**
 * An agent's entry in the agent-enrollment bucket: the key an operator (or
 * auto_accept) accepted or rejected for that hostname. Only a heartbeat with
 * that very key is trusted.
 */
export const EnrollmentRecord = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
  public_key: Type.String({ maxLength: 64 }),
  fingerprint: Type.String({ maxLength: 64 }),
  machine_id: Type.String({ maxLength: 64 }),
  decided_at: Type.String(),
  /** The token subject that decided, or `auto_accept`. */
  decided_by: Type.String(),
});
export type EnrollmentRecord = Static<typeof EnrollmentRecord>;

/** The value under `expected.<id>`: the hostnames a broadcast was sent to. */
export const ExpectedHosts = Type.Array(Type.String());
export type ExpectedHosts = Static<typeof ExpectedHosts>;

export const parseJobRecord = recordParser(JobRecord, 'job record');
export const parseEnrollment = recordParser(EnrollmentRecord, 'agent enrollment');
export const parseAgentState = recordParser(AgentStateRecord, 'agent state');
export const parseRolloutProgress = recordParser(RolloutProgress, 'rollout progress');
export const parseExpectedHosts = recordParser(ExpectedHosts, 'expected hosts');
export const parseJobResponse = recordParser(JobResponse, 'job response');
export const parseStatusEvent = recordParser(StatusEventRecord, 'status event');
export const parseAgentInfo = recordParser(AgentInfoRecord, 'agent registry entry');
