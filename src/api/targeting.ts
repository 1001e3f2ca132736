// Which Ready agents a target reaches, as the API decides it: the registry
// for hostnames, labels, `_all` and `_any`, and each agent's facts for a fact
// comparison (`fact:os.family=debian`), which the agents cannot route
// themselves: the API sends such a job where `_all` goes, with the signed
// list of the hosts it picked, and only those run it.
import type { FactsView } from '../job/facts-view.js';
import type { AgentView, RegistryView } from '../job/registry-view.js';
import { factCompares, type Target } from '../job/target.js';

export function reachedBy(
  deps: { registry: RegistryView; facts: FactsView },
  target: Target,
): AgentView[] {
  if (target.kind !== 'fact') return deps.registry.matching(target);
  return deps.registry.matching({ kind: 'all' }).filter((a) => {
    const values = deps.facts.values(a.info.hostname);
    // Own keys only: `constructor` names no fact.
    const actual = values && Object.hasOwn(values, target.key) ? values[target.key] : undefined;
    return factCompares(target, actual);
  });
}
