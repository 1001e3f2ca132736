// Accepting agents without an operator, where the config asks for it: with
// agent.enrollment.auto_accept, an agent presenting a key for a hostname no
// decision was made for is accepted; `osapi start` accepts its own agent
// (the key it read from its own state dir). A changed key is never accepted
// this way: it waits for an operator (GET /agent/pending).
import type { AgentStateView } from '../job/agent-state-view.js';
import type { Clock } from '../job/clock.js';
import type { RegistryView } from '../job/registry-view.js';
import { type JobStore, readEnrollment, saveEnrollment } from '../job/store.js';
import type { Logger } from '../log/logger.js';

export interface AutoAcceptOptions {
  registry: RegistryView;
  states: AgentStateView;
  store: JobStore;
  clock: Clock;
  logger: Logger;
  /** agent.enrollment.auto_accept: every new agent. */
  all: boolean;
  /** The agent `osapi start` runs beside this API: accepted with this key. */
  own?: { hostname: string; fingerprint: string };
  /** How often the registry is looked at. */
  everyMs?: number;
}

/** Starts accepting as configured; returns the function that stops it. */
export function startAutoAccept(opts: AutoAcceptOptions): () => void {
  if (!opts.all && !opts.own) return () => {};
  const busy = new Set<string>();
  const look = () => {
    for (const a of opts.registry.agents()) {
      const { hostname, fingerprint, public_key } = a.info;
      if (!fingerprint || !public_key || busy.has(hostname)) continue;
      const decision = opts.states.decision(hostname);
      const own = opts.own?.hostname === hostname && opts.own.fingerprint === fingerprint;
      const wanted = own
        ? decision?.fingerprint !== fingerprint || decision.status !== 'accepted'
        : opts.all && decision === undefined;
      if (!wanted) continue;
      busy.add(hostname);
      const record = {
        hostname,
        status: 'accepted' as const,
        public_key,
        fingerprint,
        machine_id: a.info.machine_id ?? '',
        decided_at: opts.clock.now().toISOString(),
        decided_by: own ? 'osapi start (its own agent)' : 'auto_accept',
      };
      void (async () => {
        // The revision of what is there, read again: the view may lag.
        const current = await readEnrollment(opts.store, hostname);
        if (!own && current) return;
        if (await saveEnrollment(opts.store, record, current?.revision ?? 0)) {
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
