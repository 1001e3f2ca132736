// The API's view of every agent's facts (contract/facts.ts), kept by one
// follow of the agent-facts bucket: GET /agent shows them and GET /facts/keys
// lists the keys in use, without reading NATS per request.
import type { HostFacts } from '../contract/facts.js';
import type { Logger } from '../log/logger.js';
import { followFacts, type JobStore } from './store.js';

export interface FactsView {
  get(hostname: string): HostFacts | undefined;
  all(): HostFacts[];
  /** Resolves once the follow has read what the bucket held at start. */
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchFacts(store: JobStore, logger: Logger): Promise<FactsView> {
  const byHost = new Map<string, HostFacts>();
  const follow = await followFacts(store, logger, (hostname, facts) => {
    if (facts) byHost.set(hostname, facts);
    else byHost.delete(hostname);
  });
  return {
    get: (hostname) => byHost.get(hostname),
    all: () => [...byHost.values()],
    loaded: follow.loaded,
    stop: () => follow.stop(),
  };
}
