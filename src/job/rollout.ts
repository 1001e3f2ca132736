// Rate control for broadcasts, as SSM Run Command does it: how many hosts may
// run a job at once (`max_concurrency`) and how many may fail before no more
// start (`max_errors`), each a count or a percentage of the matching agents.
// This module holds the request fields and their arithmetic; the API's
// rollout (src/api/rollout.ts) applies them.
import type { RolloutRequest } from '../contract/rollout.js';

/** Resolved against the number of hosts: what the rollout enforces. */
export interface RolloutLimits {
  maxConcurrency: number;
  /** Failures tolerated; one more stops the rollout. */
  maxErrors: number;
}

export class RolloutError extends Error {
  override name = 'RolloutError';
  constructor(
    readonly field: 'max_concurrency' | 'max_errors',
    /** What is wrong with the field, without its name. */
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

function percent(field: RolloutError['field'], raw: string): number {
  const p = Number(raw.slice(0, -1));
  if (p > 100) throw new RolloutError(field, `expected a percentage from 0% to 100%, got "${raw}"`);
  return p;
}

/**
 * The limits for `hosts` matching agents, or null when the request asks for
 * none (everything starts at once, as without rate control). Percentages of
 * concurrency round up (at least one host runs), of errors round down.
 */
export function resolveRollout(req: RolloutRequest, hosts: number): RolloutLimits | null {
  const c = req.max_concurrency;
  const e = req.max_errors;
  if (c === undefined && e === undefined) return null;
  let maxConcurrency = hosts;
  if (typeof c === 'number') maxConcurrency = c;
  else if (typeof c === 'string') {
    const p = percent('max_concurrency', c);
    if (p === 0)
      throw new RolloutError(
        'max_concurrency',
        'expected at least 1% (or a number >= 1), got "0%"',
      );
    maxConcurrency = Math.ceil((hosts * p) / 100);
  }
  let maxErrors = hosts;
  if (typeof e === 'number') maxErrors = e;
  else if (typeof e === 'string') maxErrors = Math.floor((hosts * percent('max_errors', e)) / 100);
  return { maxConcurrency: Math.max(1, Math.min(maxConcurrency, Math.max(hosts, 1))), maxErrors };
}
