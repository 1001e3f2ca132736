// A rate-controlled broadcast: the job is stored once, then each host is told
// in turn (on its own host subject), never more than max_concurrency at a
// time; once more than max_errors hosts have failed, no more start and the
// rest are recorded `skipped`. A host's end is read from its status events
// (through the jobs view), so the next host never starts before the previous
// one's end is on record.
//
// The rollout's progress lives in NATS (`rollouts.<id>`, records.ts
// RolloutProgress), not in the process: which hosts were told, and which API
// server drives it. The driver writes it before it tells a host and again
// every third of its lease; each write is conditional on the revision it
// last wrote, so once another API server has taken over, the old driver's
// next write fails and it stops. Every API server follows the progress of
// all rollouts; one whose driver has not written for a lease (it died), or
// let go (a clean stop), is taken over by whichever API server writes first,
// and carried on from its progress: the hosts told and not ended are told
// again (the notification's message id, and past the stream's duplicate
// window the agent's claim, keep that from starting a host twice), the hosts
// never told start as places free up.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { JobsView } from '../job/jobs-view.js';
import type { KvFollow } from '../job/kv-follow.js';
import type { JobRecord, RolloutProgress } from '../job/records.js';
import type { RolloutLimits } from '../job/rollout.js';
import { isFinalHostState } from '../job/status.js';
import {
  appendStatus,
  createRolloutProgress,
  followRolloutProgress,
  type JobStore,
  notifyHost,
  readJobWithHosts,
  recordNotRun,
  saveRolloutProgress,
} from '../job/store.js';
import type { Logger } from '../log/logger.js';

/** How long a driver may go without writing its progress before another API server takes over. */
export const ROLLOUT_LEASE_MS = 5_000;

export interface RolloutDeps {
  store: JobStore;
  jobs: JobsView;
  logger: Logger;
  /** Default ROLLOUT_LEASE_MS; written into each rollout this server starts. */
  leaseMs?: number;
}

export interface RolloutPlan {
  job: JobRecord;
  /** The hosts in the order they start. */
  hosts: string[];
  limits: RolloutLimits;
  /** How long a told host may take to report its end before it counts as failed (no_response). */
  perHostMs: number;
}

/** A rollout's progress as last seen, and since when (on this process's clock) it has not changed. */
interface Seen {
  progress: RolloutProgress;
  revision: number;
  sinceMs: number;
}

interface Driving {
  /** Stops driving; with `release`, lets another API server take over at once. */
  stop(release: boolean): Promise<void>;
}

/** The rollouts this API server drives, and the watch that takes over those another left. */
export class Rollouts {
  readonly driverId: string;
  private readonly leaseMs: number;
  private readonly active = new Map<string, Driving | 'starting'>();
  private readonly seen = new Map<string, Seen>();
  private follow: KvFollow | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: RolloutDeps) {
    this.leaseMs = deps.leaseMs ?? ROLLOUT_LEASE_MS;
    // This API server's name in the progress it writes: a fresh one per process.
    this.driverId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  }

  /** Follows every rollout's progress, and takes over those whose driver is gone. */
  async watch(): Promise<void> {
    this.follow = await followRolloutProgress(this.deps.store, this.deps.logger, (id, p, rev) =>
      this.heard(id, p, rev),
    );
    // A quarter of a lease: a rollout left by its driver is taken over within 1.25 leases.
    this.timer = setInterval(() => this.takeOverLeft(), Math.max(50, this.leaseMs / 4));
    this.timer.unref();
  }

  /**
   * Stores a new rollout's progress, driven by this server, before its job
   * is: so no job with a rollout exists without progress another API server
   * could carry on. Returns the revision `start` needs.
   */
  prepare(jobId: string, perHostMs: number): Promise<number> {
    return createRolloutProgress(this.deps.store, jobId, {
      driver: this.driverId,
      lease_ms: this.leaseMs,
      per_host_ms: perHostMs,
      told: {},
      done: false,
    });
  }

  /** Starts telling hosts; resolves when every host has ended, been skipped or cancelled, or another server took over. */
  start(plan: RolloutPlan, revision: number): Promise<void> {
    const progress: RolloutProgress = {
      driver: this.driverId,
      lease_ms: this.leaseMs,
      per_host_ms: plan.perHostMs,
      told: {},
      done: false,
    };
    return this.drive(plan, { progress, revision });
  }

  /** Rollouts this server drives now. */
  get size(): number {
    return [...this.active.values()].filter((d) => d !== 'starting').length;
  }

  /** Stops the watch and lets go of every rollout, so another API server carries them on at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.follow?.stop();
    const driving = [...this.active.values()].filter((d): d is Driving => d !== 'starting');
    this.active.clear();
    await Promise.all(driving.map((d) => d.stop(true)));
  }

  private drive(plan: RolloutPlan, from: { progress: RolloutProgress; revision: number }) {
    return new Promise<void>((resolve) => {
      const driving = runRollout(this.deps, plan, from, () => {
        this.active.delete(plan.job.id);
        resolve();
      });
      this.active.set(plan.job.id, driving);
    });
  }

  private heard(id: string, progress: RolloutProgress | null, revision: number): void {
    if (!progress) {
      this.seen.delete(id);
      return;
    }
    // A finished rollout needs no watching.
    if (progress.done) {
      this.seen.delete(id);
      return;
    }
    const before = this.seen.get(id);
    if (before?.revision === revision) return;
    this.seen.set(id, { progress, revision, sinceMs: performance.now() });
  }

  /** Takes over every unfinished rollout whose driver let go or has not written for its lease. */
  private takeOverLeft(): void {
    if (this.stopped) return;
    const now = performance.now();
    for (const [id, s] of this.seen) {
      if (this.active.has(id)) continue;
      const left = s.progress.driver === null || now - s.sinceMs >= s.progress.lease_ms;
      if (!left) continue;
      const entry = this.deps.jobs.get(id);
      if (!entry?.record.rollout) {
        // Progress stored by a server that died before it stored the job:
        // nothing to drive. Forgotten once it is surely an orphan.
        if (now - s.sinceMs >= 10 * s.progress.lease_ms) this.seen.delete(id);
        continue;
      }
      if (this.deps.jobs.derive(entry).final) continue;
      this.active.set(id, 'starting');
      void this.takeOver(id, s).catch((err: unknown) => {
        this.active.delete(id);
        this.deps.logger.warn(
          { job_id: id, err: String(err) },
          'could not take over a rollout left by its API server; trying again',
        );
      });
    }
  }

  private async takeOver(id: string, s: Seen): Promise<void> {
    // The hosts are told with the signed job, which the jobs view does not keep.
    const record = await readJobWithHosts(this.deps.store, id);
    if (!record) throw new Error(`job ${id} is no longer stored`);
    const progress = { ...s.progress, driver: this.driverId };
    const revision = await saveRolloutProgress(this.deps.store, id, progress, s.revision);
    if (revision === null || this.stopped) {
      // Another server took it first (or this one is stopping).
      this.active.delete(id);
      return;
    }
    this.deps.logger.info(
      { job_id: id, left_by: s.progress.driver, told: Object.keys(s.progress.told).length },
      'carrying on a rollout its API server left',
    );
    const limits = record.rollout as NonNullable<JobRecord['rollout']>;
    void this.drive(
      {
        job: record,
        hosts: [...(record.expected_hosts ?? [])].sort(),
        limits: { maxConcurrency: limits.max_concurrency, maxErrors: limits.max_errors },
        perHostMs: progress.per_host_ms,
      },
      { progress, revision },
    );
  }
}

/** Thrown inside a step when another API server wrote the progress: this one no longer drives. */
class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/** Drives one rollout from its progress; `onDone` is called once, when it ends or stops. */
function runRollout(
  deps: RolloutDeps,
  plan: RolloutPlan,
  from: { progress: RolloutProgress; revision: number },
  onDone: () => void,
): Driving {
  const { job, limits } = plan;
  const log = deps.logger.child({ component: 'rollout', job_id: job.id });
  let { progress, revision } = from;
  const told = new Map<string, NodeJS.Timeout>();
  // Told in the progress, but the notification could not be sent yet.
  const unsent = new Set<string>();
  let failures = 0;
  /** No more hosts start (max_errors exceeded, cancelled, deleted). */
  let stopped = false;
  /** This server lets go of the rollout: no step runs any more. */
  let leaving = false;
  let finished = false;
  /** Set by a failed step, so an outage warns once, not at every renewal. */
  let failing = false;
  /** The job was in this server's view once (a new rollout's may not be yet). */
  let seenInView = false;

  // Hosts told before (by this server or the one it took over from) are in
  // flight until their end is on record; the rest wait their turn.
  const entry = deps.jobs.get(job.id);
  const hosts = entry ? deps.jobs.derive(entry).hosts : {};
  const queue: string[] = [];
  for (const h of plan.hosts) {
    const state = hosts[h]?.status;
    const ended = state !== undefined && isFinalHostState(state);
    if (h in progress.told) {
      if (!ended) {
        told.set(h, silentAfter(h));
        unsent.add(h);
      } else if (state !== 'succeeded') failures += 1;
    } else if (!ended) queue.push(h);
  }

  // Changes arrive as watch callbacks; handling them one at a time keeps the
  // counts and the queue consistent without locks.
  let chain = Promise.resolve();
  const serial = (step: () => Promise<void>) => {
    chain = chain
      .then(async () => {
        if (finished || leaving) return;
        await step();
        failing = false;
      })
      .catch((err: unknown) => {
        if (err instanceof LeaseLost) return;
        const line = 'rollout step failed; trying again at the next renewal';
        if (failing) log.debug({ err: String(err) }, line);
        else log.warn({ err: String(err) }, line);
        failing = true;
      });
  };

  function silentAfter(host: string): NodeJS.Timeout {
    return setTimeout(() => serial(() => silent(host)), plan.perHostMs);
  }

  /** Writes the progress if this server still drives the rollout; throws LeaseLost otherwise. */
  const save = async (next: RolloutProgress) => {
    const rev = await saveRolloutProgress(deps.store, job.id, next, revision);
    if (rev === null) {
      log.info('another API server drives this rollout now');
      end();
      throw new LeaseLost();
    }
    progress = next;
    revision = rev;
  };

  const end = () => {
    if (finished) return;
    finished = true;
    stopped = true;
    unsubscribe();
    clearInterval(renewal);
    for (const t of told.values()) clearTimeout(t);
    told.clear();
    onDone();
  };

  const finish = async () => {
    if (finished) return;
    await save({ ...progress, done: true }).catch((err: unknown) => {
      if (!(err instanceof LeaseLost)) log.debug({ err: String(err) }, 'could not mark done');
    });
    end();
  };

  /** Records hosts that will never run it, as a result and an event each. */
  const endUntold = (untold: string[], state: 'skipped' | 'cancelled', error: string) =>
    Promise.all(untold.map((h) => recordNotRun(deps.store, job.id, h, state, error)));

  const send = async () => {
    for (const host of [...unsent]) {
      await notifyHost(deps.store, job, host);
      unsent.delete(host);
    }
  };

  const fill = async () => {
    const batch: string[] = [];
    while (!stopped && told.size + batch.length < limits.maxConcurrency && queue.length > 0) {
      batch.push(queue.shift() as string);
    }
    if (batch.length > 0) {
      const at = deps.store.clock.now().toISOString();
      const next = { ...progress.told };
      for (const h of batch) next[h] = at;
      try {
        await save({ ...progress, told: next });
      } catch (err) {
        // Not recorded as told: they wait for the next try.
        if (!(err instanceof LeaseLost)) queue.unshift(...batch);
        throw err;
      }
      for (const h of batch) {
        told.set(h, silentAfter(h));
        unsent.add(h);
      }
    }
    await send();
    if (told.size === 0 && (queue.length === 0 || stopped)) await finish();
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
    unsent.delete(host);
    failures += 1;
    const error = `no answer within ${Math.round(plan.perHostMs / 1000)} s of being told to start`;
    await appendStatus(deps.store, job.id, 'failed', host, { state: 'no_response', error });
    await afterEnds();
  };

  const onChange = () =>
    serial(async () => {
      const current = deps.jobs.get(job.id);
      if (!current) {
        // Not in this server's view yet (just published): nothing to read.
        // Once seen and then gone, it was deleted: nothing left to tell.
        if (!seenInView) return;
        stopped = true;
        end();
        return;
      }
      seenInView = true;
      const d = deps.jobs.derive(current);
      let ended = 0;
      for (const [host, timer] of told) {
        const state = d.hosts[host]?.status;
        if (state && isFinalHostState(state)) {
          clearTimeout(timer);
          told.delete(host);
          unsent.delete(host);
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
  // Written every third of the lease, so other servers see this one alive;
  // each renewal also retries what failed (a notification, a step).
  const renewal = setInterval(
    () =>
      serial(async () => {
        await save({ ...progress });
        await afterEnds();
      }),
    Math.max(30, progress.lease_ms / 3),
  );
  renewal.unref();
  // A cancel, or failures past max_errors, already on record when taken
  // over apply before any host is told.
  onChange();
  serial(afterEnds);
  return {
    async stop(release) {
      if (finished) return;
      leaving = true;
      // Let the step under way end first: it may be writing the progress.
      await chain;
      if (finished) return;
      if (release) {
        await save({ ...progress, driver: null }).catch(() => {});
      }
      end();
    },
  };
}
