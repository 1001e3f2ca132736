// An agent: registers itself, listens for job notifications, runs each job
// at most once on this host (up to max_jobs at a time) and stores the result.
// It acknowledges a notification only after the result is stored.
import type { NatsConnection } from '@nats-io/transport-node';
import { checkCommand, commandLine } from '../auth/command-policy.js';
import type { Clock } from '../job/clock.js';
import { UUID_PATTERN } from '../job/ids.js';
import type { InfraNames } from '../job/names.js';
import { isNodeOperation } from '../job/node-operations.js';
import type { JobRecord, JobResponse } from '../job/records.js';
import { storeResponseOnce } from '../job/response-once.js';
import type { JobVerifier } from '../job/signing.js';
import {
  appendStatus,
  carriedJob,
  claimHolder,
  claimJob,
  type JobStore,
  openJobStore,
  readJob,
  storeResponse,
} from '../job/store.js';
import type { Logger } from '../log/logger.js';
import { kvSubject } from '../nats/subjects.js';
import type { ConsumerSettings } from './consumers.js';
import { commandOutcome, type HandlerOutcome, runJob } from './handlers/index.js';
import { type JobNotice, type ListenSettings, startListener } from './listener.js';
import type { RunObserver } from './metrics.js';
import { type Heartbeat, startHeartbeat } from './registry.js';
import { Semaphore } from './semaphore.js';

export interface AgentOptions {
  nc: NatsConnection;
  names: InfraNames;
  hostname: string;
  labels: Record<string, string>;
  maxJobs: number;
  maxOutputBytes: number;
  /** The resolver file DNS jobs use where systemd-resolved does not run (agent.dns.resolv_conf). */
  resolvConfPath?: string;
  consumer: ConsumerSettings;
  /** Catch-up after a start or a reconnect (agent.listen); defaults as in the config. */
  listen?: ListenSettings;
  heartbeatMs?: number;
  /** Told of each command run and how it ended (the agent's metrics). */
  observeRun?: RunObserver;
  /** Checks that the API signed a job before anything of it runs. */
  verifier: JobVerifier;
  clock: Clock;
  logger: Logger;
}

export interface Agent {
  readonly hostname: string;
  /** Jobs running now, for tests and metrics. */
  readonly running: number;
  /** Notifications handled to their end, for tests and metrics. */
  readonly settled: number;
  /** Resolves once the jobs missed before this start were read back and handed over. */
  readonly caughtUp: Promise<void>;
  /** Stops taking jobs, cancels running ones (their results say so), deregisters. */
  stop(): Promise<void>;
}

export const AGENT_STOPPED_MIDRUN =
  'the agent stopped while this command was running; it was not run again, so that a command runs at most once';

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const log = opts.logger.child({ component: 'agent', hostname: opts.hostname });
  const store = await openJobStore(opts.nc, opts.names, opts.clock);
  const slots = new Semaphore(opts.maxJobs);
  const stopping = new AbortController();
  const runningHere = new Map<string, AbortController>();
  const inFlight = new Set<Promise<void>>();

  const notStarted = new Set<string>();
  const handle = (notice: JobNotice, shared: boolean): Promise<void> => {
    const p = handleNotification(notice, shared, {
      notStarted,
      store,
      opts,
      slots,
      runningHere,
      log,
      stopping: stopping.signal,
    });
    // Handled to its end: no later attempt may take the claim as its own.
    void p.then(() => notStarted.delete(notice.string().trim())).catch(() => {});
    const tracked = p.catch(() => {});
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
    // A rejection means NATS failed on the way: the listener hands the
    // notification over again, and the claim keeps the command from running twice.
    return p;
  };

  const listener = await startListener({
    nc: opts.nc,
    store,
    names: opts.names,
    hostname: opts.hostname,
    labels: opts.labels,
    consumer: opts.consumer,
    listen: opts.listen ?? { catch_up: 10 * 60_000, jitter: 5_000 },
    slots,
    clock: opts.clock,
    logger: log,
    handle,
  });

  let heartbeat: Heartbeat;
  try {
    heartbeat = await startHeartbeat({
      registry: store.registry,
      publishQuietly: (key, value) =>
        opts.nc.publish(kvSubject(opts.names.registryBucket, key), value),
      hostname: opts.hostname,
      labels: opts.labels,
      maxJobs: opts.maxJobs,
      intervalMs: opts.heartbeatMs ?? 10_000,
      clock: opts.clock,
      logger: log,
    });
  } catch (err) {
    listener.stop();
    throw err;
  }
  log.debug('agent listening');

  return {
    hostname: opts.hostname,
    get running() {
      return runningHere.size;
    },
    get settled() {
      return listener.settled;
    },
    caughtUp: listener.caughtUp,
    async stop() {
      stopping.abort();
      listener.stop();
      for (const ac of runningHere.values()) ac.abort();
      await Promise.allSettled([...inFlight]);
      await heartbeat.stop();
    },
  };
}

interface HandleContext {
  /**
   * Jobs this agent claimed (or tried to) and has not started: a second
   * attempt after NATS failed on the way (a timeout during a failover, say)
   * finds its own claim and may still run the job, since this process knows
   * it never started it. After a restart the set is empty, and a claim
   * without a result is then reported instead (answerRedelivery).
   */
  notStarted: Set<string>;
  store: JobStore;
  opts: AgentOptions;
  slots: Semaphore;
  runningHere: Map<string, AbortController>;
  log: Logger;
  stopping: AbortSignal;
}

/**
 * `shared` says the notification came on the `_any` consumer: the claim is
 * then one per job, not one per host. Knowing it from the consumer lets the
 * claim and the read of the job go out together.
 */
async function handleNotification(
  msg: JobNotice,
  shared: boolean,
  ctx: HandleContext,
): Promise<void> {
  const { store, opts, log } = ctx;
  const host = opts.hostname;
  const id = msg.string().trim();
  if (!UUID_PATTERN.test(id)) {
    log.warn({ subject: msg.subject }, 'notification body is not a job id; dropped');
    msg.term('not a job id');
    return;
  }
  if (ctx.runningHere.has(id)) {
    // Redelivered while still running here: the run in progress will ack.
    msg.working();
    return;
  }

  const scope = shared ? ({ any: true } as const) : { hostname: host };
  let carried: JobRecord | undefined;
  try {
    carried = carriedJob(msg.headers, id);
  } catch (err) {
    log.warn({ job_id: id, err: String(err) }, 'job record is invalid; dropped');
    msg.term('invalid job record');
    return;
  }
  // A query changes nothing on the host, so running it twice is harmless: one
  // sent to this host needs no claim. `_any` still does (one agent answers).
  const claimNeeded = shared || carried?.category !== 'query';
  // An earlier attempt here claimed it (or tried) and never started it.
  const ours = ctx.notStarted.has(id);
  if (claimNeeded) ctx.notStarted.add(id);
  const [read, claimedNow] = await Promise.all([
    carried
      ? { job: carried }
      : readJob(store, id).then(
          (job) => ({ job }),
          (err: unknown) => ({ err }),
        ),
    claimNeeded ? claimJob(store, id, scope, host) : true,
  ]);
  if ('err' in read) {
    log.warn({ job_id: id, err: String(read.err) }, 'job record is invalid; dropped');
    msg.term('invalid job record');
    return;
  }
  const job = read.job;
  if (!job) {
    log.warn({ job_id: id }, 'job record not found (expired or deleted); dropped');
    msg.ack();
    return;
  }
  const trusted = opts.verifier.check(job);
  if (!trusted.ok) {
    // Someone who can write to NATS but is not the API: run nothing, and say
    // so where operators look. Terminated, so it is not redelivered.
    log.error({ job_id: id, subject: msg.subject }, `refused a job: ${trusted.reason}`);
    await appendStatus(store, id, 'failed', host, { error: `refused, not run: ${trusted.reason}` });
    msg.term(trusted.reason);
    return;
  }
  const claimed = claimedNow || (ours && (await claimHolder(store, id, scope)) === opts.hostname);
  if (!claimed) {
    await answerRedelivery(msg, ctx, job, scope);
    return;
  }
  // Status events are written alongside the work, not before it: they are
  // ordered by their keys, and are awaited before the job's end is recorded.
  const events: Array<Promise<void>> = [];
  const event = (p: Promise<void>) => {
    // Handled where awaited below; this keeps an early failure from counting
    // as an unhandled rejection in the meantime.
    p.catch(() => {});
    events.push(p);
  };
  // A query ends within milliseconds: its final event is the whole story,
  // and a broadcast to thousands of agents does not write thousands more.
  const quiet = job.category === 'query';
  if (!quiet) {
    event(
      appendStatus(store, id, 'acknowledged', host, {
        message: msg.info.redelivered
          ? `redelivered (delivery ${msg.info.deliveryCount})`
          : 'received',
      }),
    );
  }

  const startedAt = opts.clock.now();
  if (startedAt.getTime() > Date.parse(job.deadline)) {
    await settle(events, log, id);
    await finish(msg, ctx, job, startedAt, {
      status: 'failed',
      data: null,
      error: `not run: the job had to start by ${job.deadline}, and this agent received it at ${startedAt.toISOString()}`,
    });
    return;
  }

  const ac = new AbortController();
  ctx.runningHere.set(id, ac);
  // Keep the notification from being redelivered while it waits or runs
  // (only the shared consumer redelivers).
  const keepAlive = shared
    ? setInterval(() => msg.working(), Math.max(500, Math.floor(opts.consumer.ack_wait / 3)))
    : undefined;
  try {
    await ctx.slots.acquire();
    try {
      if (ctx.stopping.aborted) ac.abort();
      if (!quiet) event(appendStatus(store, id, 'started', host));
      const type = job.operation.type;
      const refusal = policyRefusal(job);
      if (refusal) {
        // Checked again here, from the signed job: the API is not the only guard.
        await settle(events, log, id);
        await finish(msg, ctx, job, startedAt, { status: 'failed', data: null, error: refusal });
        return;
      }
      // The run metrics are about commands; node queries are not counted as runs.
      // From here on the command may have run: no later attempt runs it again.
      ctx.notStarted.delete(id);
      const runEnded = isNodeOperation(type) ? undefined : opts.observeRun?.();
      const outcome = await runJob(type, job.operation.data, {
        hostname: host,
        labels: opts.labels,
        maxOutputBytes: opts.maxOutputBytes,
        signal: ac.signal,
        ...(opts.resolvConfPath ? { resolvConfPath: opts.resolvConfPath } : {}),
      }).catch((err: unknown) => {
        runEnded?.(undefined);
        throw err;
      });
      runEnded?.(commandOutcome(outcome));
      await settle(events, log, id);
      await finish(msg, ctx, job, startedAt, outcome);
    } finally {
      ctx.slots.release();
    }
  } finally {
    clearInterval(keepAlive);
    ctx.runningHere.delete(id);
  }
}

async function finish(
  msg: JobNotice,
  ctx: HandleContext,
  job: JobRecord,
  startedAt: Date,
  outcome: HandlerOutcome,
  /** Store only if no result exists yet; resolves false (and acks) when one did. */
  once = false,
): Promise<boolean> {
  const host = ctx.opts.hostname;
  const response: JobResponse = {
    job_id: job.id,
    hostname: host,
    status: outcome.status,
    data: outcome.data,
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    started_at: startedAt.toISOString(),
    finished_at: ctx.opts.clock.now().toISOString(),
  };
  if (!once) await persist(() => storeResponse(ctx.store, response), ctx.stopping);
  else if (!(await persist(() => storeResponseOnce(ctx.store, response), ctx.stopping))) {
    msg.ack();
    return false;
  }
  // Acked only now that the result is stored: a crash before this point
  // leaves a claim without a result, which a redelivery reports as such.
  // A query's result is the record of its end (its headers say how it
  // ended), so a broadcast query costs one write per agent, not two.
  await Promise.all([
    job.category === 'query'
      ? undefined
      : appendStatus(ctx.store, job.id, outcome.status, host, {
          ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          ...(outcome.message !== undefined ? { message: outcome.message } : {}),
        }),
    msg.ackAck().catch(() => msg.ack()),
  ]);
  return true;
}

/**
 * Waits for the job's status events before its end is recorded (their keys
 * order them), without letting one that failed lose the result: an event
 * is part of the story, the result is what was asked for.
 */
async function settle(events: Array<Promise<void>>, log: Logger, id: string): Promise<void> {
  for (const r of await Promise.allSettled(events)) {
    if (r.status === 'rejected') {
      log.warn({ job_id: id, err: String(r.reason) }, 'a status event was not stored');
    }
  }
}

/**
 * Stores a result, trying again for about a minute when NATS does not answer
 * (a cluster electing new leaders after losing a node): the job has run, and
 * its result is worth the wait, while a later attempt could only report it
 * as lost.
 */
async function persist<T>(write: () => Promise<T>, stopping: AbortSignal): Promise<T> {
  for (let attempt = 1, wait = 500; ; attempt++, wait *= 2) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= PERSIST_ATTEMPTS || stopping.aborted) throw err;
      await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
    }
  }
}

const PERSIST_ATTEMPTS = 8;

/** The claim exists: someone (maybe this host, before a crash) already took the job. */
async function answerRedelivery(
  msg: JobNotice,
  ctx: HandleContext,
  job: JobRecord,
  scope: { any: true } | { hostname: string },
): Promise<void> {
  const { store, log } = ctx;
  const host = ctx.opts.hostname;
  const holder = await claimHolder(store, job.id, scope);
  if (holder !== host) {
    // `_any` job taken by another agent: nothing for us to do.
    msg.ack();
    return;
  }
  // An agent's NATS user may not read results, so no read first: the failure
  // is stored only if the run before the crash left no result.
  const recorded = await finish(
    msg,
    ctx,
    job,
    ctx.opts.clock.now(),
    { status: 'failed', data: null, error: AGENT_STOPPED_MIDRUN },
    true,
  );
  if (recorded) {
    log.warn(
      { job_id: job.id },
      'redelivered job was started before and has no result; not running it again',
    );
  }
}

/** Why the job's own signed command policy refuses it, or null. */
function policyRefusal(job: JobRecord): string | null {
  const policy = job.command_policy;
  const type = job.operation.type;
  if (!policy || (type !== 'command.exec.execute' && type !== 'command.shell.execute')) return null;
  const data = job.operation.data as { command?: unknown; args?: unknown };
  if (typeof data.command !== 'string') return null;
  const args = Array.isArray(data.args) ? data.args.map(String) : [];
  const mode = type === 'command.exec.execute' ? 'exec' : 'shell';
  const refusal = checkCommand(
    policy,
    mode,
    mode === 'exec' ? commandLine(data.command, args) : data.command,
  );
  return refusal ? `refused, not run: ${refusal}` : null;
}
