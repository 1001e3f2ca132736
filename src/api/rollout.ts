// A rate-controlled broadcast, driven by the API that accepted it: the job is
// stored once, then each host is told in turn (on its own host subject), never
// more than max_concurrency at a time; once more than max_errors hosts have
// failed, no more start and the rest are recorded `skipped`. A host's end is
// read from its status events (through the jobs view), so the next host never
// starts before the previous one's end is on record.
//
// If this API process stops mid-rollout, the hosts it had not told yet stay
// pending and show as no_response after the job's start deadline.
import type { JobsView } from '../job/jobs-view.js';
import type { JobRecord } from '../job/records.js';
import type { RolloutLimits } from '../job/rollout.js';
import { isFinalHostState } from '../job/status.js';
import { appendStatus, type JobStore, notifyHost, storeResponse } from '../job/store.js';
import type { Logger } from '../log/logger.js';

export interface RolloutDeps {
  store: JobStore;
  jobs: JobsView;
  logger: Logger;
}

export interface RolloutPlan {
  job: JobRecord;
  /** The hosts in the order they start. */
  hosts: string[];
  limits: RolloutLimits;
  /** How long a told host may take to report its end before it counts as failed (no_response). */
  perHostMs: number;
}

/** The rollouts this API process drives, so it can stop them when it stops. */
export class Rollouts {
  private readonly active = new Map<string, () => void>();
  constructor(private readonly deps: RolloutDeps) {}

  /** Starts telling hosts; resolves when every host has ended, been skipped or cancelled. */
  start(plan: RolloutPlan): Promise<void> {
    return new Promise((resolve) => {
      const stop = runRollout(this.deps, plan, () => {
        this.active.delete(plan.job.id);
        resolve();
      });
      this.active.set(plan.job.id, stop);
    });
  }

  get size(): number {
    return this.active.size;
  }

  stopAll(): void {
    for (const stop of this.active.values()) stop();
    this.active.clear();
  }
}

/** Returns a function that abandons the rollout (the API is stopping). */
function runRollout(deps: RolloutDeps, plan: RolloutPlan, onDone: () => void): () => void {
  const { job, limits } = plan;
  const log = deps.logger.child({ component: 'rollout', job_id: job.id });
  const queue = [...plan.hosts];
  const told = new Map<string, NodeJS.Timeout>();
  let failures = 0;
  let stopped = false;
  let finished = false;
  // Changes arrive as watch callbacks; handling them one at a time keeps the
  // counts and the queue consistent without locks.
  let chain = Promise.resolve();
  const serial = (step: () => Promise<void>) => {
    chain = chain.then(step).catch((err: unknown) => {
      log.error({ err: String(err) }, 'rollout step failed; the hosts not yet told stay pending');
    });
  };

  const finish = () => {
    if (finished) return;
    finished = true;
    unsubscribe();
    for (const t of told.values()) clearTimeout(t);
    told.clear();
    onDone();
  };

  /** Records hosts that will never run it, as a result and an event each. */
  const endUntold = async (hosts: string[], state: 'skipped' | 'cancelled', error: string) => {
    const now = deps.store.clock.now().toISOString();
    await Promise.all(
      hosts.map(async (hostname) => {
        await storeResponse(deps.store, {
          job_id: job.id,
          hostname,
          status: 'failed',
          data: null,
          error,
          state,
          started_at: now,
          finished_at: now,
        });
        await appendStatus(deps.store, job.id, 'failed', hostname, { state, error });
      }),
    );
  };

  const fill = async () => {
    while (!stopped && told.size < limits.maxConcurrency && queue.length > 0) {
      const host = queue.shift() as string;
      told.set(
        host,
        setTimeout(() => serial(() => silent(host)), plan.perHostMs),
      );
      await notifyHost(deps.store, job, host);
    }
    if (told.size === 0 && (queue.length === 0 || stopped)) finish();
  };

  const afterEnds = async () => {
    if (!stopped && failures > limits.maxErrors) {
      stopped = true;
      const rest = queue.splice(0);
      log.info({ failures, skipped: rest.length }, 'max_errors exceeded; no more hosts start');
      await endUntold(
        rest,
        'skipped',
        `not started: ${failures} hosts failed, more than max_errors ${limits.maxErrors}`,
      );
    }
    await fill();
  };

  /** A told host that never reported its end: counted as failed, the rollout goes on. */
  const silent = async (host: string) => {
    if (!told.has(host)) return;
    told.delete(host);
    failures += 1;
    const error = `no answer within ${Math.round(plan.perHostMs / 1000)} s of being told to start`;
    await appendStatus(deps.store, job.id, 'failed', host, { state: 'no_response', error });
    await afterEnds();
  };

  const onChange = () =>
    serial(async () => {
      if (finished) return;
      const entry = deps.jobs.get(job.id);
      if (!entry) {
        // Deleted: nothing left to tell.
        stopped = true;
        finish();
        return;
      }
      const d = deps.jobs.derive(entry);
      let ended = 0;
      for (const [host, timer] of told) {
        const state = d.hosts[host]?.status;
        if (state && isFinalHostState(state)) {
          clearTimeout(timer);
          told.delete(host);
          ended += 1;
          if (state !== 'succeeded') failures += 1;
        }
      }
      if (d.cancelled && !stopped) {
        stopped = true;
        await endUntold(
          queue.splice(0),
          'cancelled',
          'cancelled before this host started it: not run',
        );
      }
      if (ended > 0 || stopped) await afterEnds();
    });

  const unsubscribe = deps.jobs.onChange(job.id, onChange);
  serial(fill);
  return () => {
    stopped = true;
    finish();
  };
}
