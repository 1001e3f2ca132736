// Accepting agents without an operator, where asked: with
// agent.enrollment.auto_accept, an agent presenting a key for a hostname no
// decision was made for is accepted; `osapi start` accepts its own agent
// (the key it read from its own state dir) before it takes a request. A
// changed key is never accepted by auto_accept: it waits for an operator
// (GET /agent/pending).
import type { AgentStateView } from '../job/agent-state-view.js';
import type { Clock } from '../job/clock.js';
import { UUID_PATTERN } from '../job/ids.js';
import type { AgentInfoRecord } from '../job/records.js';
import type { RegistryView } from '../job/registry-view.js';
import type { JobVerifier } from '../job/signing.js';
import {
  type JobStore,
  readAgentState,
  readEnrollment,
  readJob,
  readResponse,
  saveAgentState,
  saveEnrollment,
} from '../job/store.js';
import type { Logger } from '../log/logger.js';
import { pollUntil } from '../wait-at-most.js';

export interface AutoAcceptOptions {
  registry: RegistryView;
  states: AgentStateView;
  store: JobStore;
  clock: Clock;
  logger: Logger;
  /** agent.enrollment.auto_accept: every new agent. */
  all: boolean;
  /** How often the registry is looked at. */
  everyMs?: number;
}

/** Starts accepting as configured; returns the function that stops it. */
export function startAutoAccept(opts: AutoAcceptOptions): () => void {
  if (!opts.all) return () => {};
  return eachUndecidedAgent(opts, 'could not accept an agent; trying again', (info) => {
    const { hostname, fingerprint, public_key } = info;
    const record = {
      hostname,
      status: 'accepted' as const,
      public_key,
      fingerprint,
      machine_id: info.machine_id ?? '',
      decided_at: opts.clock.now().toISOString(),
      decided_by: 'auto_accept',
    };
    return (async () => {
      // Read again (the view may lag); created only if there is still none.
      if (await readEnrollment(opts.store, hostname)) return;
      if (await saveEnrollment(opts.store, record, 0)) {
        opts.logger.info({ hostname, fingerprint }, `agent accepted (${record.decided_by})`);
      }
    })();
  });
}

/** An agent's heartbeat that presents a key. */
type KeyedAgent = AgentInfoRecord & { fingerprint: string; public_key: string };

/**
 * Looks at the registry every `everyMs` (and at once) and calls `decide` for
 * each agent that presents a key no decision was made for, one call per
 * hostname at a time; `decide` returns the work it started, or null to pass
 * the agent over. Work that fails is logged with `failed` and tried again at
 * a later look. Returns the function that stops it.
 */
function eachUndecidedAgent(
  opts: Pick<AutoAcceptOptions, 'registry' | 'states' | 'logger' | 'everyMs'>,
  failed: string,
  decide: (agent: KeyedAgent) => Promise<unknown> | null,
): () => void {
  const busy = new Set<string>();
  const look = () => {
    for (const info of opts.registry.stored()) {
      const { hostname, fingerprint, public_key } = info;
      if (!fingerprint || !public_key || busy.has(hostname)) continue;
      // Never a hostname decided before: a changed key waits for an operator.
      if (opts.states.decision(hostname) !== undefined) continue;
      const work = decide({ ...info, fingerprint, public_key });
      if (!work) continue;
      busy.add(hostname);
      void work
        .catch((err: unknown) => opts.logger.warn({ hostname, err: String(err) }, failed))
        .finally(() => busy.delete(hostname));
    }
  };
  const timer = setInterval(look, opts.everyMs ?? 250);
  timer.unref();
  look();
  return () => clearInterval(timer);
}

/**
 * Accepts the agent `osapi start` runs beside this API before either takes a
 * request, so the quick start's first command finds it trusted: its key is
 * read from the same state dir. Resolves once this API's view has it.
 */
export async function acceptOwnAgent(
  opts: Pick<AutoAcceptOptions, 'states' | 'store' | 'clock' | 'logger'> & {
    own: { hostname: string; fingerprint: string; publicKey: string; machineId: string };
  },
): Promise<void> {
  const { own } = opts;
  const current = await readEnrollment(opts.store, own.hostname);
  const c = current?.record;
  if (c?.status !== 'accepted' || c.fingerprint !== own.fingerprint) {
    const record = {
      hostname: own.hostname,
      status: 'accepted' as const,
      public_key: own.publicKey,
      fingerprint: own.fingerprint,
      machine_id: own.machineId,
      decided_at: opts.clock.now().toISOString(),
      decided_by: 'osapi start (its own agent)',
    };
    const revision = await saveEnrollment(opts.store, record, current?.revision ?? 0);
    if (revision !== null) opts.states.wroteDecision(own.hostname, record, revision);
  }
  const seen = await pollUntil(
    () => opts.states.decision(own.hostname)?.fingerprint === own.fingerprint,
    5_000,
  );
  if (!seen)
    opts.logger.warn({ hostname: own.hostname }, 'its own agent is accepted, but not yet seen');
}

export interface RenameCarryOptions extends Omit<AutoAcceptOptions, 'all'> {
  /** Checks that a job record is one an API server signed. */
  verifier: JobVerifier;
}

/** Renames looked at and not carried, so each is read (and told) once; forgotten past this many. */
const REFUSED_RENAMES_MAX = 10_000;

/**
 * Carries an agent's acceptance over to the name node.hostname.update gave
 * its host. The agent registers under the new name saying which name it had
 * and which job renamed it (renamed_from); the new name is accepted, with the
 * same key, only when nothing was decided for it yet, the old name is
 * accepted with that very key, the job is one an API server signed asking for
 * this name, and the old name's signed result says the host took it. A
 * drained agent stays drained under its new name.
 */
export function startRenameCarry(opts: RenameCarryOptions): () => void {
  const refused = new Set<string>();
  return eachUndecidedAgent(
    opts,
    "could not carry a renamed agent's acceptance; trying again",
    (info) => {
      const { hostname, fingerprint, public_key, renamed_from: from } = info;
      if (!from) return null;
      const id = `${from.job_id}/${from.hostname}/${hostname}/${fingerprint}`;
      if (refused.has(id)) return null;
      return carry(
        opts,
        { hostname, fingerprint, public_key, machine_id: info.machine_id ?? '' },
        from,
      ).then((why) => {
        if (why === null) return;
        if (refused.size >= REFUSED_RENAMES_MAX) refused.clear();
        refused.add(id);
        opts.logger.warn(
          { hostname, renamed_from: from.hostname, job_id: from.job_id, reason: why },
          'an agent says a job renamed its host, but its acceptance is not carried over: accept it (POST /agent/{hostname}/accept) if it is yours',
        );
      });
    },
  );
}

/** Null when carried (or decided meanwhile), else why it is not. */
async function carry(
  opts: RenameCarryOptions,
  agent: { hostname: string; fingerprint: string; public_key: string; machine_id: string },
  from: { hostname: string; job_id: string },
): Promise<string | null> {
  const old = (await readEnrollment(opts.store, from.hostname))?.record;
  // The very key accepted for the old name (the registry view keeps only
  // entries whose fingerprint is their key's).
  if (old?.status !== 'accepted' || old.public_key !== agent.public_key) {
    return `${from.hostname} is not accepted with this agent's key`;
  }
  const job = UUID_PATTERN.test(from.job_id) ? await readJob(opts.store, from.job_id) : null;
  if (!job) return `job ${from.job_id} is not known`;
  if (!opts.verifier.check(job).ok) return `job ${from.job_id} is not signed by an API server`;
  const asked = job.operation.data as { hostname?: unknown } | null;
  if (job.operation.type !== 'node.hostname.update' || asked?.hostname !== agent.hostname) {
    return `job ${from.job_id} did not ask for the name ${agent.hostname}`;
  }
  const answer = await readResponse(opts.store, from.job_id, from.hostname);
  const set = answer?.data as { name?: unknown } | null | undefined;
  if (answer?.status !== 'completed' || set?.name !== agent.hostname) {
    return `${from.hostname} did not say it took the name ${agent.hostname}`;
  }
  // Read again (the view may lag); created only if there is still none.
  if (await readEnrollment(opts.store, agent.hostname)) return null;
  const record = {
    hostname: agent.hostname,
    status: 'accepted' as const,
    public_key: agent.public_key,
    fingerprint: agent.fingerprint,
    machine_id: agent.machine_id,
    decided_at: opts.clock.now().toISOString(),
    decided_by: `rename of ${from.hostname} (job ${from.job_id})`,
  };
  const drained = (await readAgentState(opts.store, from.hostname))?.record;
  if (drained?.drained) {
    await saveAgentState(
      opts.store,
      { hostname: agent.hostname, drained: true, timeline: drained.timeline },
      0,
    );
  }
  const revision = await saveEnrollment(opts.store, record, 0);
  if (revision !== null) {
    opts.states.wroteDecision(agent.hostname, record, revision);
    opts.logger.info(
      { hostname: agent.hostname, renamed_from: from.hostname, job_id: from.job_id },
      `agent accepted (${record.decided_by})`,
    );
  }
  return null;
}
