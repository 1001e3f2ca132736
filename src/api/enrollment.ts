// Accepting agents without an operator, where asked: with
// agent.enrollment.auto_accept, an agent presenting a key for a hostname no
// decision was made for is accepted; `osapi start` accepts its own agent
// (the key it read from its own state dir) before it takes a request. A
// changed key is never accepted by auto_accept: it waits for an operator
// (GET /agent/pending).
import type { AgentStateView } from '../job/agent-state-view.js';
import type { Clock } from '../job/clock.js';
import type { RegistryView } from '../job/registry-view.js';
import { type JobStore, readEnrollment, saveEnrollment } from '../job/store.js';
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
  const busy = new Set<string>();
  const look = () => {
    for (const a of opts.registry.agents()) {
      const { hostname, fingerprint, public_key } = a.info;
      if (!fingerprint || !public_key || busy.has(hostname)) continue;
      // Never a hostname decided before: a changed key waits for an operator.
      if (opts.states.decision(hostname) !== undefined) continue;
      busy.add(hostname);
      const record = {
        hostname,
        status: 'accepted' as const,
        public_key,
        fingerprint,
        machine_id: a.info.machine_id ?? '',
        decided_at: opts.clock.now().toISOString(),
        decided_by: 'auto_accept',
      };
      void (async () => {
        // Read again (the view may lag); created only if there is still none.
        if (await readEnrollment(opts.store, hostname)) return;
        if (await saveEnrollment(opts.store, record, 0)) {
          opts.logger.info({ hostname, fingerprint }, `agent accepted (${record.decided_by})`);
        }
      })()
        .catch((err: unknown) =>
          opts.logger.warn(
            { hostname, err: String(err) },
            'could not accept an agent; trying again',
          ),
        )
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
