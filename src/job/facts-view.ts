// The API's view of every agent's facts (contract/facts.ts), kept by one
// follow of the agent-facts bucket: GET /agent shows them, GET /facts/keys
// lists the keys in use and fact targets compare them, without reading NATS
// per request. Each host's facts by key (`@fact.` keys) are worked out once,
// when they arrive.
import type { HostFacts } from '../contract/facts.js';
import type { Logger } from '../log/logger.js';
import { factValues } from './fact-refs.js';
import { followFacts, type JobStore } from './store.js';

export interface FactsView {
  get(hostname: string): HostFacts | undefined;
  /** A host's facts by key, as `@fact.<key>` names them. */
  values(hostname: string): Readonly<Record<string, string>> | undefined;
  /** Every host's facts by key. */
  allValues(): Array<Readonly<Record<string, string>>>;
  /** Resolves once the follow has read what the bucket held at start. */
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchFacts(store: JobStore, logger: Logger): Promise<FactsView> {
  const byHost = new Map<string, { facts: HostFacts; values: Record<string, string> }>();
  const follow = await followFacts(store, logger, (hostname, facts) => {
    if (facts) byHost.set(hostname, { facts, values: Object.fromEntries(factValues(facts)) });
    else byHost.delete(hostname);
  });
  return {
    get: (hostname) => byHost.get(hostname)?.facts,
    values: (hostname) => byHost.get(hostname)?.values,
    allValues: () => [...byHost.values()].map((e) => e.values),
    loaded: follow.loaded,
    stop: () => follow.stop(),
  };
}
