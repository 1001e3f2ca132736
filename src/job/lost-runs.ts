// Runs that can no longer end on their own. An agent that took a job and then
// died (kill -9, host down) or came back as a new process never stores a
// result; a live agent whose writes failed while NATS was away (a node lost)
// may never store one either. Without this the job would stay `processing`
// for ever and a waiting request would only end at its deadline. The API records such a run as failed, saying why; it never
// runs it again (the claim forbids that). The agent's own redelivery path
// (AGENT_STOPPED_MIDRUN) finds the result stored here and only acks. A host
// with a stored result is ended by that result (status.ts HostAnswer), with
// or without its closing event, so it is never taken for lost.
import type { NatsConnection } from '@nats-io/transport-node';
import { operationTimeoutS } from '../contract/operations.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from './clock.js';
import type { JobEntry, JobsView } from './jobs-view.js';
import type { AgentView, RegistryView } from './registry-view.js';
import { storeResponseOnce } from './response-once.js';
import type { DerivedStatus } from './status.js';
import { appendStatus, type JobStore, registryAnswers } from './store.js';

export interface LostRun {
  jobId: string;
  hostname: string;
  reason: string;
  /** When the agent started it, if it said so. */
  startedAt?: string;
}

export interface LostRunRules {
  now: Date;
  /** The registry TTL: a heartbeat older than this means the agent is gone. */
  ttlMs: number;
  /**
   * Since when this process has heard the registry without a break. Silence
   * while we were cut off from NATS, or JetStream was away (NATS down, a
   * cluster electing a leader), proves nothing, so an agent gets a whole TTL
   * from then to show itself.
   */
  listeningSince: Date;
}

const NOT_RUN_AGAIN = 'it was not run again, so that a command runs at most once';

/**
 * How long past its timeout a started run may take to store how it ended:
 * the agent's kill grace (TERM, then KILL 2 s later) and the result's write,
 * with room for a cluster electing a leader meanwhile.
 */
export const RUN_RESULT_GRACE_MS = 15_000;

/** The hosts of one job whose run can no longer end on its own. */
export function findLostRuns(
  entry: JobEntry,
  derived: DerivedStatus,
  agents: ReadonlyMap<string, AgentView>,
  rules: LostRunRules,
): LostRun[] {
  const out: LostRun[] = [];
  const now = rules.now.getTime();
  for (const [hostname, state] of Object.entries(derived.hosts)) {
    if (state.status !== 'pending' && state.status !== 'running') continue;
    const events = entry.events.filter((e) => e.hostname === hostname);
    // Only a host that took the job; one that never did is the deadline's (no_response).
    const taken = events.find((e) => e.event === 'acknowledged' || e.event === 'started');
    if (!taken) continue;
    const started = events.find((e) => e.event === 'started');
    const lastEvent = Math.max(0, ...events.map((e) => Date.parse(e.timestamp)));
    const agent = agents.get(hostname);
    const base = {
      jobId: entry.record.id,
      hostname,
      ...(started ? { startedAt: started.timestamp } : {}),
    };
    // Both instants come from the agent's own clock.
    if (agent && Date.parse(agent.info.started_at) > Date.parse(taken.timestamp)) {
      out.push({
        ...base,
        reason: `the agent restarted (at ${agent.info.started_at}) while this job was running on it; ${NOT_RUN_AGAIN}`,
      });
      continue;
    }
    // Silent: not Ready by the registry view's rule (which does not hold a
    // beat lost to a stall of the registry against an agent: registry-view.ts
    // isReady), and no event from it or from this process's follow since.
    const silent =
      !agent?.ready && now - Math.max(lastEvent, rules.listeningSince.getTime()) > rules.ttlMs;
    if (silent) {
      out.push({
        ...base,
        reason: agent
          ? `the agent stopped sending heartbeats (the last at ${agent.seenAt.toISOString()}) while this job was running on it; ${NOT_RUN_AGAIN}`
          : `the agent left the registry while this job was running on it; ${NOT_RUN_AGAIN}`,
      });
      continue;
    }
    // A live agent whose run has outlived its timeout and the grace never
    // stored how it ended (its writes failed while NATS was away, say): the
    // run is over on the host, since the agent kills it at its timeout.
    if (!started) continue;
    const { type, data } = entry.record.operation;
    const timeoutS = operationTimeoutS(type, data);
    // `started` is the agent's clock: moved onto ours by how far its last
    // heartbeat's own time was from when it reached the bucket, so an agent
    // whose clock runs behind is not judged before its run could end.
    const skew = agent ? clockSkewMs(agent) : 0;
    const endBy = Date.parse(started.timestamp) + skew + timeoutS * 1000 + RUN_RESULT_GRACE_MS;
    if (now <= endBy) continue;
    out.push({
      ...base,
      reason: `no result came ${timeoutS} s (its timeout) plus ${RUN_RESULT_GRACE_MS / 1000} s after the agent started it, though the agent is alive: it could not record how the run ended (NATS was away, or a cluster was electing a leader); ${NOT_RUN_AGAIN}`,
    });
  }
  return out;
}

/** How far behind (positive) or ahead an agent's clock is, from its last heartbeat; 0 when unknown. */
function clockSkewMs(agent: AgentView): number {
  const said = Date.parse(agent.info.registered_at);
  return Number.isFinite(said) ? agent.seenAt.getTime() - said : 0;
}

export interface LostRunWatch {
  /** One pass now (tests call it; the timer calls it every interval). */
  sweep(): Promise<LostRun[]>;
  stop(): void;
}

export interface LostRunWatchOptions {
  nc: NatsConnection;
  store: JobStore;
  jobs: JobsView;
  registry: RegistryView;
  clock: Clock;
  ttlMs: number;
  intervalMs: number;
  logger: Logger;
}

/** Looks for lost runs every interval and records each as failed, once. */
export function watchLostRuns(opts: LostRunWatchOptions): LostRunWatch {
  const log = opts.logger.child({ component: 'lost-runs' });
  let listeningSince = opts.clock.now();
  let connected = true;
  void (async () => {
    for await (const s of opts.nc.status()) {
      if (s.type === 'disconnect') connected = false;
      if (s.type === 'reconnect') {
        connected = true;
        listeningSince = opts.clock.now();
      }
    }
  })();

  let registryReadable = true;
  let running: Promise<LostRun[]> | null = null;
  const pass = async (): Promise<LostRun[]> => {
    if (!connected) return [];
    // Connected is not enough: while a cluster elects a new leader, or
    // JetStream is otherwise away, agents cannot heartbeat either. Ask the
    // registry's stream itself; once it answers again, agents get a TTL.
    try {
      await registryAnswers(opts.store);
    } catch {
      registryReadable = false;
      return [];
    }
    if (!registryReadable) {
      registryReadable = true;
      listeningSince = opts.clock.now();
    }
    // Nor is a readable registry enough: this process hears heartbeats through
    // its follow of the bucket, and while that is cut (its consumer was on a
    // node that died) every agent would look silent. Once it goes on, agents
    // get a TTL from then.
    const following = opts.registry.followingSince;
    if (following === null) return [];
    if (following.getTime() > listeningSince.getTime()) listeningSince = following;
    const now = opts.clock.now();
    const agents = new Map(opts.registry.agents().map((a) => [a.info.hostname, a]));
    const lost: LostRun[] = [];
    for (const entry of opts.jobs.list()) {
      if (opts.jobs.statusOf(entry) !== 'processing') continue;
      const derived = opts.jobs.derive(entry);
      lost.push(
        ...findLostRuns(entry, derived, agents, { now, ttlMs: opts.ttlMs, listeningSince }),
      );
    }
    const recorded: LostRun[] = [];
    for (const run of lost) {
      if (await record(opts.store, run, now)) {
        recorded.push(run);
        log.warn({ job_id: run.jobId, hostname: run.hostname }, run.reason);
      }
    }
    return recorded;
  };
  const sweep = () => {
    // One pass at a time; a tick during a slow pass joins it.
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => {
    sweep().catch((err: unknown) =>
      log.warn({ err: String(err) }, 'could not look for lost runs; trying again'),
    );
  }, opts.intervalMs);
  timer.unref();
  return {
    sweep,
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * The result first, only if none exists: whoever stores a result for this
 * (job, host) first, the agent or any API server, decides and writes the
 * closing event; the others add nothing (a second closing event would show
 * the host ending twice). Losing that race means this view had not yet
 * heard a result that was just stored.
 */
async function record(store: JobStore, run: LostRun, now: Date): Promise<boolean> {
  const stored = await storeResponseOnce(store, {
    job_id: run.jobId,
    hostname: run.hostname,
    status: 'failed',
    state: 'failed',
    data: null,
    error: run.reason,
    started_at: run.startedAt ?? now.toISOString(),
    finished_at: now.toISOString(),
  });
  if (stored) {
    await appendStatus(store, run.jobId, 'failed', run.hostname, {
      state: 'failed',
      error: run.reason,
    });
  }
  return stored;
}
