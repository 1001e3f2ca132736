// An agent: registers itself, listens for job notifications, runs each job
// at most once on this host (up to max_jobs at a time) and stores the result.
// It acknowledges a notification only after the result is stored.
import type { NatsConnection } from '@nats-io/transport-node';
import { trace } from '@opentelemetry/api';
import { policyRefusal as commandPolicyRefusal } from '../auth/command-policy.js';
import { commandModeOf } from '../contract/command.js';
import type { NodeCondition } from '../contract/conditions.js';
import type { Clock } from '../job/clock.js';
import { hasFactRefs, resolveFactRefs, UnknownFactError } from '../job/fact-refs.js';
import { UUID_PATTERN } from '../job/ids.js';
import { finalStateOf, type JobRecord, type JobResponse, RecordError } from '../job/records.js';
import { storeResponseOnce } from '../job/response-once.js';
import type { JobVerifier } from '../job/signing.js';
import {
  appendStatus,
  carriedExpectedHosts,
  claimHolder,
  claimJob,
  isCancelled,
  type JobStore,
  openJobStore,
  readAgentState,
  readClaim,
  readEnrollment,
  readExpectedHosts,
  readJob,
  storeResponse,
} from '../job/store.js';
import type { Logger } from '../log/logger.js';
import { OutageLog } from '../log/outage-log.js';
import {
  cancelSubjectAll,
  controlSubject,
  GO_HEADER,
  type InfraNames,
  jobIdFromCancelSubject,
  parseNotifySubject,
} from '../names/names.js';
import { ATTR, SPAN, traced, tracedFrom } from '../trace/tracing.js';
import { VERSION } from '../version.js';
import { addressRefusal, missedBroadcast, needsExpectedHosts } from './addressed.js';
import type { ConditionThresholds } from './conditions.js';
import type { ConsumerSettings } from './consumers.js';
import { Cordon } from './cordon.js';
import { type FactsLoop, startFacts } from './facts.js';
import { type DeploymentRecords, natsDeploymentRecords, natsObjectReader } from './file-access.js';
import { commandOutcome, type HandlerOutcome, runJob } from './handlers/index.js';
import type { HostSettings, ObjectReader } from './handlers/types.js';

/** The largest object the agent reads from the file store (the API's own limit is at most this). */
const FILE_MAX_BYTES = 64 * 1024 * 1024;

import { resultMacKeys } from '../job/result-mac.js';
import type { AgentIdentity } from './identity.js';
import { collectWhenIdle, exposedCollection, type IdleCollection } from './idle-collect.js';
import {
  CANCELLED_BEFORE_START,
  claimAndCheckCancel,
  claimPlan,
  eventBatch,
  missedDeadline,
  refusedOutcome,
  resolveJob,
  responseOf,
} from './job-steps.js';
import { type JobNotice, type ListenSettings, startListener } from './listener.js';
import { startLiveOutput } from './live-output.js';
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
  /** The managed domains' settings (unit dir...), passed to every handler. */
  host?: HostSettings;
  consumer: ConsumerSettings;
  /** Catch-up after a start or a reconnect (agent.listen); defaults as in the config. */
  listen?: ListenSettings;
  heartbeatMs?: number;
  /** Its key and machine id (identity.ts): it takes jobs once the API accepted this key. */
  identity: AgentIdentity;
  /** Thresholds of the conditions sent with each heartbeat (agent.conditions); without, none. */
  conditions?: ConditionThresholds;
  /** Told of the conditions at each heartbeat (the agent's metrics). */
  observeConditions?: (conditions: NodeCondition[]) => void;
  /** The facts to collect (agent.facts); without, none are, and a `@fact.` reference fails. */
  facts?: { intervalMs: number; timeoutMs: number; dir: string; custom: Record<string, unknown> };
  /** Told of each command run and how it ended (the agent's metrics). */
  observeRun?: RunObserver;
  /**
   * Where the agent's name follows the host's: called once a
   * node.hostname.update that renamed the host is stored (start.ts starts
   * the agent again under the new name and retires this one).
   */
  onRenamed?: (name: string, jobId: string, from: string) => void;
  /** This agent took this name after that job renamed its host (sent with each heartbeat). */
  renamedFrom?: { hostname: string; job_id: string };
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
  /**
   * Stops taking jobs and deregisters at once, lets the running and waiting
   * ones finish (nothing cancelled), then stops: the agent under its old
   * name, once another runs under the new one.
   */
  retire(): Promise<void>;
}

/** Why a run stopped when an operator cancelled the job (POST /job/{id}/cancel). */
export const CANCELLED_BY_OPERATOR = 'cancelled: an operator cancelled the job';

/** How long without a job ending before an agent collects its heap (idle-collect.ts). */
const IDLE_COLLECTION_MS = 10_000;

/** How often an accepted agent reads its standing again untold: at the heartbeat nearest a minute. */
const STANDING_EVERY_MS = 60_000;

/** How many cancelled job ids an agent remembers for jobs that may still reach it. */
const REMEMBERED_CANCELS = 4096;

/** How the first timeline events of a run are written: see handleOnce. */
const UNCONFIRMED = { acknowledged: false } as const;

export const AGENT_STOPPED_MIDRUN =
  'the agent stopped while this command was running; it was not run again, so that a command runs at most once';

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const log = opts.logger.child({ component: 'agent', hostname: opts.hostname });
  // Its results are signed with its key: the API believes them only so.
  const store = await openJobStore(opts.nc, opts.names, opts.clock, undefined, {
    signer: {
      key: opts.identity.privateKey,
      as: 'agent',
      // And authenticated by a key shared with the API servers, cheaper to check.
      macKey: resultMacKeys(opts.identity.privateKey)(opts.verifier.publicKey),
    },
  });
  const slots = new Semaphore(opts.maxJobs);
  const idle = collectWhenIdle({
    collect: exposedCollection(),
    running: () => slots.running,
    idleMs: IDLE_COLLECTION_MS,
  });
  const stopping = new AbortController();
  const runningHere = new Map<string, AbortController>();
  // Jobs cancelled while their notification may still be on its way here
  // (the KV marker is read too; this closes the gap between the two).
  const cancelledIds = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const startedAt = opts.clock.now();
  const claimsNotRun = new Set<string>();
  const handling = new Map<string, number>();
  const handlingShared = new Set<string>();

  /** Remembers a cancelled job (one still on its way here then never starts) and stops its run. */
  const noteCancel = (id: string, why: string) => {
    cancelledIds.add(id);
    if (cancelledIds.size > REMEMBERED_CANCELS) {
      const oldest = cancelledIds.values().next().value;
      if (oldest !== undefined) cancelledIds.delete(oldest);
    }
    const ac = runningHere.get(id);
    if (ac && !ac.signal.aborted) {
      log.info({ job_id: id }, why);
      ac.abort(CANCELLED_BY_OPERATOR);
    }
  };
  const cancels = opts.nc.subscribe(cancelSubjectAll(opts.names), {
    callback: (err, m) => {
      if (err) return;
      const id = jobIdFromCancelSubject(opts.names, m.subject);
      if (!id || !UUID_PATTERN.test(id)) return;
      noteCancel(id, 'job cancelled by an operator; stopping it');
    },
  });

  // A cancel is heard on a core subscription, so one sent while the connection
  // was down reached nobody here: after a reconnect, the stored cancel marker
  // of each job this agent is handling or running is read instead (again for
  // a while if JetStream cannot answer yet, right after a failover, say).
  // One warning per NATS outage, for everything this agent does (outage-log.ts).
  const outage = new OutageLog(log);
  // Accepted or not, drained or not, as API servers decided: read before any
  // job is taken, again when the API says it changed (control subject), after
  // a reconnect, and before a job is turned away.
  let heartbeatNow = () => {};
  const cordon = new Cordon(
    opts.hostname,
    () => opts.clock.now(),
    (state) => {
      log.info({ state }, `agent is ${state}`);
      heartbeatNow();
    },
  );
  cordon.note('started', `version ${VERSION}`);
  let toldPending = '';
  const readOnce = async () => {
    try {
      const [asked, enrolled] = await Promise.all([
        readAgentState(store, opts.hostname),
        readEnrollment(store, opts.hostname),
      ]);
      const e = enrolled?.record;
      const accepted = e?.status === 'accepted' && e.fingerprint === opts.identity.fingerprint;
      cordon.apply({ accepted, drained: asked?.record.drained === true }, runningHere.size);
      // Said once per reason: what an operator must run for this agent to take jobs.
      const why = accepted
        ? ''
        : e?.status === 'rejected' && e.fingerprint === opts.identity.fingerprint
          ? 'rejected'
          : e
            ? 'key changed'
            : 'new';
      if (why !== toldPending && why !== '') {
        log.warn(
          { fingerprint: opts.identity.fingerprint, enrollment: why },
          why === 'rejected'
            ? 'this agent was rejected and takes no jobs; an operator may accept it again'
            : `this agent's key is not accepted (${why}); it takes no jobs until an operator runs: osapi client agent accept --hostname ${opts.hostname} --fingerprint ${opts.identity.fingerprint}`,
        );
      }
      toldPending = why;
    } catch (err) {
      outage.failed('could not read whether this agent is accepted and not drained', err);
    }
  };
  // One reading at a time, in order, so an older answer never overwrites a
  // newer one; asked again while one runs, one more follows it.
  let reading: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const readStanding = (): Promise<void> => {
    if (next) return next;
    if (!reading) {
      reading = readOnce().finally(() => {
        reading = null;
      });
      return reading;
    }
    next = reading.then(() => {
      next = null;
      return readStanding();
    });
    return next;
  };
  const retrying = { opts, stopping: stopping.signal, log, outage };
  void (async () => {
    for await (const s of opts.nc.status()) {
      if (stopping.signal.aborted) break;
      if (s.type === 'disconnect') outage.toldElsewhere();
      if (s.type !== 'reconnect') continue;
      // Beats sent while the connection was away may be lost: one now says it is back.
      heartbeatNow();
      void readStanding();
      for (const id of new Set([...handling.keys(), ...runningHere.keys()])) {
        whileNatsAway(retrying, id, 'read whether the job was cancelled', () =>
          isCancelled(store, id),
        ).then(
          (cancelled) => {
            if (cancelled) noteCancel(id, 'job cancelled while NATS was unreachable; stopping it');
          },
          (err: unknown) =>
            log.warn(
              { job_id: id, err: String(err) },
              'could not read whether a job was cancelled while NATS was unreachable; it runs on',
            ),
        );
      }
    }
  })();

  // Collected before any job is taken, so a `@fact.` reference never meets
  // an agent without its facts.
  const facts = opts.facts
    ? await startFacts({
        store,
        sources: {
          hostname: opts.hostname,
          custom: opts.facts.custom,
          dir: opts.facts.dir,
          timeoutMs: opts.facts.timeoutMs,
          logger: log,
        },
        intervalMs: opts.facts.intervalMs,
        outage,
      })
    : null;

  // Subscribed first, so a decision made while the first reading runs is
  // heard; read again on a timer too, in case a control message (core NATS,
  // at most once) was lost: at every heartbeat while not accepted, so an
  // accepted agent starts within one, and about once a minute once accepted
  // (the API records a job addressed to a drained host skipped itself: only
  // an `_any` job could still be taken in that minute if the word to drain
  // was lost): two reads an agent at every heartbeat were two thirds of the
  // requests an idle fleet sends NATS, its heartbeats the rest.
  const control = opts.nc.subscribe(controlSubject(opts.names, opts.hostname), {
    callback: () => void readStanding(),
  });
  await readStanding();
  const beatMs = opts.heartbeatMs ?? 10_000;
  const acceptedEveryBeats = Math.max(1, Math.round(STANDING_EVERY_MS / beatMs));
  let beats = 0;
  const standingTimer = setInterval(() => {
    beats++;
    if (!cordon.isAccepted || beats % acceptedEveryBeats === 0) void readStanding();
  }, beatMs);
  standingTimer.unref();

  const files = {
    objects: natsObjectReader(opts.nc, opts.names, FILE_MAX_BYTES),
    deployments: natsDeploymentRecords(opts.nc, opts.names, opts.hostname),
  };
  const handle = (notice: JobNotice, shared: boolean): Promise<void> => {
    const p = handleNotification(notice, shared, {
      files,
      refreshStanding: readStanding,
      cordon,
      facts,
      outage,
      store,
      opts,
      slots,
      idle,
      runningHere,
      cancelledIds,
      log,
      stopping: stopping.signal,
      startedAt,
      claimsNotRun,
      handling,
      handlingShared,
    });
    const tracked = p.catch(() => {});
    inFlight.add(tracked);
    void tracked.finally(() => {
      inFlight.delete(tracked);
      // A drained agent whose last run just ended is Cordoned.
      cordon.settle(runningHere.size);
    });
    // A rejection means NATS failed on the way (unreachable mid-job, most
    // likely): the listener hands the notification over again, and the claim
    // keeps the command from running twice.
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
    whenTakingJobs: () => cordon.whenTakingJobs(),
    clock: opts.clock,
    logger: log,
    outage,
    handle,
  });

  /** What a stop, a retirement and a failed start all end: no more jobs, cancels, standing reads or facts. */
  const teardown = () => {
    stopping.abort();
    control.unsubscribe();
    clearInterval(standingTimer);
    cordon.release();
    cancels.unsubscribe();
    facts?.stop();
    idle.stop();
  };

  let heartbeat: Heartbeat;
  try {
    heartbeat = await startHeartbeat({
      store,
      hostname: opts.hostname,
      labels: opts.labels,
      maxJobs: opts.maxJobs,
      intervalMs: opts.heartbeatMs ?? 10_000,
      clock: opts.clock,
      logger: log,
      outage,
      self: () => ({
        state: cordon.current,
        timeline: cordon.timeline(),
        public_key: opts.identity.publicKey,
        fingerprint: opts.identity.fingerprint,
        machine_id: opts.identity.machineId,
        ...(opts.renamedFrom ? { renamed_from: opts.renamedFrom } : {}),
      }),
      ...(opts.conditions
        ? {
            conditions: {
              thresholds: opts.conditions,
              ...(opts.observeConditions ? { observe: opts.observeConditions } : {}),
              onChange: (c: NodeCondition) =>
                cordon.note(c.status ? 'condition' : 'condition cleared', `${c.type}: ${c.reason}`),
            },
          }
        : {}),
    });
    heartbeatNow = () => heartbeat.beatNow();
  } catch (err) {
    teardown();
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
      teardown();
      listener.stop();
      for (const ac of runningHere.values()) ac.abort();
      await Promise.allSettled([...inFlight]);
      await heartbeat.stop();
    },
    async retire() {
      listener.stop();
      // Out of the registry at once: a job sent to the old name from now on
      // would reach no listener, so the API must refuse it (no agent) instead.
      await heartbeat.stop();
      // Cancels are still heard while the last runs finish; their results
      // are stored under the old name, whose acceptance stays.
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      teardown();
    },
  };
}

interface HandleContext {
  store: JobStore;
  /** Reads again whether this agent is accepted and not drained. */
  refreshStanding: () => Promise<void>;
  /** Whether this agent takes new jobs (drained or not). */
  cordon: Cordon;
  /** This host's facts, for `@fact.` references; null when the agent collects none. */
  facts: FactsLoop | null;
  /** The file store's objects and this agent's deployment records. */
  files: { objects: ObjectReader; deployments: DeploymentRecords };
  /** Where failures that NATS caused are told, once per outage. */
  outage: OutageLog;
  opts: AgentOptions;
  slots: Semaphore;
  /** Told as each run ends, to collect once the agent is idle. */
  idle: IdleCollection;
  runningHere: Map<string, AbortController>;
  cancelledIds: ReadonlySet<string>;
  log: Logger;
  stopping: AbortSignal;
  /** When this process started taking jobs. */
  startedAt: Date;
  /** Jobs this process sent a claim for and has not begun to run. */
  claimsNotRun: Set<string>;
  /** Jobs with a notification being handled now, and how many. */
  handling: Map<string, number>;
  /** Jobs whose notification from the shared consumer is being handled now. */
  handlingShared: Set<string>;
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
  const { log } = ctx;
  const id = msg.string().trim();
  if (!UUID_PATTERN.test(id)) {
    log.warn({ subject: msg.subject }, 'notification body is not a job id; dropped');
    msg.term('not a job id');
    return;
  }
  // The shared consumer's redelivery of a notification still handled here
  // waits for that handling, which will ack. Others are not held back: the
  // listener hears each once per subject, and a copy sent ahead of the real
  // notification (refused, unless addressed here) must not hold it up.
  if (shared) {
    if (ctx.handlingShared.has(id)) {
      msg.working();
      return;
    }
    ctx.handlingShared.add(id);
  }
  ctx.handling.set(id, (ctx.handling.get(id) ?? 0) + 1);
  try {
    // Traced under the context the notification carries (the API's publish):
    // its run and its store are this span's children.
    await tracedFrom(
      msg.headers,
      SPAN.receive,
      { [ATTR.jobId]: id, [ATTR.hostname]: ctx.opts.hostname },
      () => handleOnce(msg, id, shared, ctx),
    );
  } finally {
    if (shared) ctx.handlingShared.delete(id);
    const left = (ctx.handling.get(id) ?? 1) - 1;
    if (left > 0) ctx.handling.set(id, left);
    else ctx.handling.delete(id);
  }
}

/**
 * One notification, from the job it names to the stored end of its run. Each
 * exit answers the notification: dropped (an invalid record), acked (no
 * record, or taken by another agent), refused, left to the run in progress,
 * or ended by recordEnd.
 */
async function handleOnce(
  msg: JobNotice,
  id: string,
  shared: boolean,
  ctx: HandleContext,
): Promise<void> {
  const { store, opts, log } = ctx;
  const host = opts.hostname;
  const scope = shared ? ({ any: true } as const) : { hostname: host };
  // Until the run starts, a failure (NATS going away) may leave a claim of
  // ours under which nothing ran: the next delivery may then run the job.
  const resolved = await resolveJob(msg.headers, id, (jobId) => readJob(store, jobId));
  if (resolved.kind === 'invalid') {
    log.warn({ job_id: id, err: resolved.error }, 'job record is invalid; dropped');
    msg.term('invalid job record');
    return;
  }
  if (resolved.kind === 'missing') {
    log.warn({ job_id: id }, 'job record not found (expired or deleted); dropped');
    msg.ack();
    return;
  }
  const { job } = resolved;
  trace.getActiveSpan()?.setAttribute(ATTR.operation, job.operation.type);
  // Checked before anything is written for the job here, a claim above all:
  // a copy sent where the job was not addressed must not take the claim the
  // real notification needs.
  const refusal = await refusalOf(msg, id, shared, job, ctx);
  if (refusal !== null) {
    await recordRefusal(msg, id, refusal, ctx);
    return;
  }
  if (ctx.runningHere.has(id)) {
    // Heard again, by another way in, while it runs here: the run in progress will ack.
    msg.working();
    return;
  }
  // What this agent knows of itself may lag what the API decided a moment
  // ago (accepted, undrained): read it again before turning a job away.
  if (!ctx.cordon.isAccepted || ctx.cordon.isDrained) await ctx.refreshStanding();
  if (!ctx.cordon.isAccepted) {
    // Not trusted yet: the API sends it nothing, and it takes nothing. `_any`
    // goes back for another agent; anything else is left alone.
    if (shared) msg.nak();
    else msg.ack();
    log.debug({ job_id: id }, 'a job reached this agent before its key was accepted; not run');
    return;
  }
  if (ctx.cordon.isDrained) {
    // Drained: nothing new starts here. `_any` goes back for another agent;
    // a job addressed here is claimed (so it never runs later) and skipped,
    // unless the API had already done so.
    if (shared) {
      msg.nak();
      return;
    }
    if (await claimJob(store, id, scope, host)) {
      const now = opts.clock.now();
      await recordEnd(msg, ctx, job, now, {
        status: 'failed',
        state: 'skipped',
        data: null,
        error: `not run: ${host} is drained (POST /agent/${host}/undrain brings it back)`,
      });
    } else await answerRedelivery(msg, ctx, job, scope);
    return;
  }
  const { owned, cancelled } = await claimAndCheckCancel(
    id,
    claimPlan(job.category, shared, msg),
    ctx.claimsNotRun,
    {
      claim: () => claimJob(store, id, scope, host),
      isCancelled: () => isCancelled(store, id),
      claimedByThisProcess: () => claimedByThisProcess(ctx, id, scope),
    },
  );
  if (!owned) {
    await answerRedelivery(msg, ctx, job, scope);
    return;
  }
  // Status events are written alongside the work, not before it: they are
  // ordered by their keys. The confirmed ones are awaited before the job's end
  // is recorded. One lost to a NATS outage costs a line of the timeline and
  // what is read from it (the host's running state and duration, and spotting
  // a run whose agent died: src/job/lost-runs.ts), never the result.
  const events = eventBatch((err: unknown) =>
    ctx.outage.failed('could not record a status event', err, { job_id: id }),
  );
  // A query ends within milliseconds: its result is the whole story (its
  // headers say how it ended), and a broadcast to thousands of agents does
  // not write thousands of events more.
  const quiet = job.category === 'query';
  // The first events of a run go out without waiting for NATS to confirm them:
  // a confirmation is a request of the client's per event, twice per command
  // (bench:load: about 0.6 ms of agent CPU per command). They go out on this
  // agent's one connection before the final event (the same stream, so stored
  // first); the result is another stream and may be stored a little before
  // them. What a confirmation would have added is only a warning when one is
  // lost: the event would be lost all the same (UNCONFIRMED).
  if (!quiet) {
    events.add(
      appendStatus(
        store,
        id,
        'acknowledged',
        host,
        {
          message: msg.info.redelivered
            ? `redelivered (delivery ${msg.info.deliveryCount})`
            : 'received',
        },
        UNCONFIRMED,
      ),
    );
  }

  const startedAt = opts.clock.now();
  const late = missedDeadline(job, startedAt);
  if (late) {
    await events.settled();
    await recordEnd(msg, ctx, job, startedAt, late);
    return;
  }
  await runWhenFree(msg, id, shared, job, { cancelled, startedAt, events, quiet }, ctx);
}

interface Refusal {
  reason: string;
  /** The job was not addressed here by the way it came (a `refused` event), not unsigned. */
  misaddressed: boolean;
  /** A broadcast made while this agent was not Ready (addressed.ts missedBroadcast). */
  missed?: boolean;
  /** A fact comparison whose hosts this one is not among: passed over in silence. */
  notPicked?: boolean;
}

/**
 * Why this copy of the job is refused, or null: the signature does not verify
 * (`misaddressed` false), or the job was not addressed here by the way it
 * came (addressed.ts; `misaddressed` true).
 */
async function refusalOf(
  msg: JobNotice,
  id: string,
  shared: boolean,
  job: JobRecord,
  ctx: HandleContext,
): Promise<Refusal | null> {
  const { store, opts } = ctx;
  const host = opts.hostname;
  const trusted = opts.verifier.check(job);
  if (!trusted.ok) return { reason: trusted.reason, misaddressed: false };
  const expected = needsExpectedHosts(job) ? await expectedHostsFor(store, msg, id) : null;
  const self = { hostname: host, labels: opts.labels };
  const misaddressed = addressRefusal(
    job,
    shared
      ? { via: 'shared' }
      : {
          via: 'subject',
          subject: msg.subject,
          target: parseNotifySubject(opts.names, msg.subject)?.target ?? null,
          // A second signature check, needed only for a rate-controlled job's turn.
          ...(job.rollout !== undefined
            ? { toldByApi: opts.verifier.checkGo(id, host, msg.headers?.get(GO_HEADER) ?? '') }
            : {}),
        },
    self,
    expected,
  );
  if (misaddressed === null) return null;
  const missed = missedBroadcast(job, expected, self);
  // A fact comparison goes where `_all` goes and names the hosts it picked:
  // not being one of them is the usual case, not worth a word.
  const notPicked = missed && job.target_hostname.startsWith('fact:');
  return { reason: misaddressed, misaddressed: true, missed, ...(notPicked ? { notPicked } : {}) };
}

/**
 * Someone who can write to NATS but is not the API, or a notification copied
 * to where it was not sent: run nothing, and say so where operators look.
 * Terminated, so it is not redelivered. A copy that came where the job was
 * not addressed is a `refused` event: this host was never a part of the job
 * (status.ts).
 */
async function recordRefusal(
  msg: JobNotice,
  id: string,
  refusal: Refusal,
  ctx: HandleContext,
): Promise<void> {
  if (refusal.notPicked) {
    ctx.log.debug({ job_id: id }, 'a fact comparison that did not pick this host; not run');
    msg.term('not picked');
    return;
  }
  // A broadcast made while this agent was not Ready is no one's attack.
  const level = refusal.missed ? 'info' : 'error';
  ctx.log[level]({ job_id: id, subject: msg.subject }, `refused a job: ${refusal.reason}`);
  await appendStatus(
    ctx.store,
    id,
    refusal.misaddressed ? 'refused' : 'failed',
    ctx.opts.hostname,
    {
      error: `refused, not run: ${refusal.reason}`,
      state: 'refused',
    },
  );
  msg.term(refusal.reason);
  if (refusal.misaddressed) msg.refusedAsCopy?.();
}

/** What handleOnce has found by the time the job may run. */
interface RunStart {
  /** The stored cancel marker was there. */
  cancelled: boolean;
  startedAt: Date;
  events: ReturnType<typeof eventBatch>;
  /** A query: no status events. */
  quiet: boolean;
}

/**
 * Waits for a job slot, then runs the job unless it was cancelled meanwhile
 * or its command policy refuses it, and records its end. The job counts as
 * running here (a cancel stops it) from the call on.
 */
async function runWhenFree(
  msg: JobNotice,
  id: string,
  shared: boolean,
  job: JobRecord,
  start: RunStart,
  ctx: HandleContext,
): Promise<void> {
  const { opts } = ctx;
  const { startedAt, events } = start;
  const ac = new AbortController();
  ctx.runningHere.set(id, ac);
  if (start.cancelled || ctx.cancelledIds.has(id)) ac.abort(CANCELLED_BY_OPERATOR);
  // Keep the notification from being redelivered while it waits or runs
  // (only the shared consumer redelivers).
  const keepAlive = shared
    ? setInterval(() => msg.working(), Math.max(500, Math.floor(opts.consumer.ack_wait / 3)))
    : undefined;
  try {
    await ctx.slots.acquire();
    try {
      if (ac.signal.reason === CANCELLED_BY_OPERATOR) {
        // Cancelled before it started here: nothing is run.
        await events.settled();
        await recordEnd(msg, ctx, job, startedAt, CANCELLED_BEFORE_START);
        return;
      }
      if (ctx.cordon.isDrained) {
        // Drained while it waited for a slot: it takes nothing new.
        await events.settled();
        await recordEnd(msg, ctx, job, startedAt, {
          status: 'failed',
          state: 'skipped',
          data: null,
          error: `not run: ${ctx.opts.hostname} was drained while the job waited for a free slot`,
        });
        return;
      }
      if (ctx.stopping.aborted) ac.abort();
      if (!start.quiet) {
        events.add(appendStatus(ctx.store, id, 'started', opts.hostname, {}, UNCONFIRMED));
      }
      const resolved = withFacts(job, ctx.facts);
      if ('error' in resolved) {
        // A key this host lacks: nothing runs here, and the error names it.
        await events.settled();
        await recordEnd(msg, ctx, job, startedAt, {
          status: 'failed',
          data: null,
          error: resolved.error,
        });
        return;
      }
      job = resolved.job;
      const refusal = policyRefusal(job);
      if (refusal) {
        // Checked again here, from the signed job: the API is not the only guard.
        await events.settled();
        await recordEnd(msg, ctx, job, startedAt, refusedOutcome(refusal));
        return;
      }
      const running = job;
      const outcome = await traced(
        SPAN.run,
        {
          [ATTR.jobId]: id,
          [ATTR.operation]: job.operation.type,
          [ATTR.hostname]: opts.hostname,
        },
        () => run(id, running, ac.signal, ctx),
      );
      await events.settled();
      await recordEnd(msg, ctx, job, startedAt, outcome);
      // Only now that the answer is stored: a reboot must not cut it off.
      outcome.after?.();
    } finally {
      ctx.slots.release();
    }
  } finally {
    clearInterval(keepAlive);
    ctx.runningHere.delete(id);
    ctx.idle.jobEnded();
  }
}

/** Runs the job's operation here, with live output and run metrics for a command. */
async function run(
  id: string,
  job: JobRecord,
  signal: AbortSignal,
  ctx: HandleContext,
): Promise<HandlerOutcome> {
  const { opts, log } = ctx;
  const type = job.operation.type;
  // The run metrics are about commands; node queries are not counted as runs.
  const runEnded = commandModeOf(type) ? opts.observeRun?.() : undefined;
  // A command's output goes out live as it is written; sent in full before
  // the result is stored, so a watcher hears it before the result.
  const live = !commandModeOf(type)
    ? undefined
    : startLiveOutput({
        nc: opts.nc,
        names: opts.names,
        jobId: id,
        hostname: opts.hostname,
        maxBytes: opts.maxOutputBytes,
        logger: log,
      });
  let sent: number | undefined;
  const ran = await runJob(type, job.operation.data, {
    hostname: opts.hostname,
    labels: opts.labels,
    maxOutputBytes: opts.maxOutputBytes,
    signal,
    ...(opts.resolvConfPath ? { resolvConfPath: opts.resolvConfPath } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    objects: ctx.files.objects,
    deployments: ctx.files.deployments,
    ...(ctx.facts ? { facts: () => (ctx.facts as FactsLoop).values() } : {}),
    ...(live ? { onOutput: live.push } : {}),
    ...(opts.onRenamed
      ? { renameAgent: (name: string) => opts.onRenamed?.(name, id, opts.hostname) }
      : {}),
  })
    .catch((err: unknown) => {
      runEnded?.(undefined);
      throw err;
    })
    .finally(() => {
      sent = live?.close();
    });
  // With the result, how many chunks went out live: a job stream holds the
  // result back until it has them (api/job/stream.ts).
  const outcome = sent === undefined ? ran : { ...ran, outputChunks: sent };
  runEnded?.(commandOutcome(outcome));
  return outcome;
}

/** Stores the result of a run here (replacing any) and records its end; then acks. */
async function recordEnd(
  msg: JobNotice,
  ctx: HandleContext,
  job: JobRecord,
  startedAt: Date,
  outcome: HandlerOutcome,
): Promise<void> {
  await storeEnd(msg, ctx, job, startedAt, outcome, async (response) => {
    await storeResponse(ctx.store, response, { acknowledged: job.category !== 'query' });
    return true;
  });
}

/**
 * As recordEnd, but stores only if no result exists yet: resolves false (and
 * acks) when one did.
 */
function recordEndUnlessStored(
  msg: JobNotice,
  ctx: HandleContext,
  job: JobRecord,
  startedAt: Date,
  outcome: HandlerOutcome,
): Promise<boolean> {
  return storeEnd(msg, ctx, job, startedAt, outcome, (response) =>
    storeResponseOnce(ctx.store, response),
  );
}

/** recordEnd's and recordEndUnlessStored's common part: `store` says whether it stored. */
async function storeEnd(
  msg: JobNotice,
  ctx: HandleContext,
  job: JobRecord,
  startedAt: Date,
  outcome: HandlerOutcome,
  store: (response: JobResponse) => Promise<boolean>,
): Promise<boolean> {
  const host = ctx.opts.hostname;
  const state = finalStateOf(outcome);
  const response = responseOf(job, host, outcome, startedAt, ctx.opts.clock.now());
  const status = () =>
    appendStatus(ctx.store, job.id, outcome.status, host, {
      state,
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    });
  const stored = await traced(
    SPAN.store,
    {
      [ATTR.jobId]: job.id,
      [ATTR.operation]: job.operation.type,
      [ATTR.hostname]: host,
      [ATTR.status]: state,
    },
    () => whileNatsAway(ctx, job.id, 'record the end of a run', () => store(response)),
  );
  if (!stored) {
    msg.ack();
    return false;
  }
  // Acked only now that the result is stored: a crash before this point
  // leaves a claim without a result, which a redelivery reports as such.
  // A query's result is the record of its end: no final event for it.
  await Promise.all([
    job.category === 'query'
      ? undefined
      : whileNatsAway(ctx, job.id, 'record the end of a run', status),
    msg.ackAck().catch(() => msg.ack()),
  ]);
  return true;
}

/**
 * Tries `attempt` again while NATS is away (a restart, a failover), for a
 * bounded time, and not once the agent stops. For the writes that record a
 * run's end: the outcome exists only in this process, and a redelivery could
 * only report it lost; rewriting is safe, as the result is one key and only
 * the first final event of a host counts. For the read of a cancel marker
 * after a reconnect: the run it may stop is going on meanwhile.
 */
async function whileNatsAway<T>(
  ctx: Pick<HandleContext, 'opts' | 'stopping' | 'log' | 'outage'>,
  jobId: string,
  what: string,
  attempt: () => Promise<T>,
) {
  const end = Date.now() + Math.max(30_000, 2 * ctx.opts.consumer.ack_wait);
  let delay = 250;
  for (;;) {
    try {
      const done = await attempt();
      ctx.outage.worked();
      return done;
    } catch (err) {
      // A stopping agent must stop within its bound: the redelivery path takes over.
      if (ctx.stopping.aborted || Date.now() + delay > end) throw err;
      ctx.outage.failed(`could not ${what}`, err, { job_id: jobId });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * A claim this process sent, under which it never began a run, is there in
 * its name and younger than this process: it is ours (the answer to the
 * create was lost, or what came after it failed), so the job may run now. An
 * older claim in this host's name is an earlier process's, which may have
 * run it.
 */
async function claimedByThisProcess(
  ctx: HandleContext,
  id: string,
  scope: { any: true } | { hostname: string },
): Promise<boolean> {
  const claim = await readClaim(ctx.store, id, scope);
  return (
    claim !== null &&
    claim.holder === ctx.opts.hostname &&
    claim.created.getTime() >= ctx.startedAt.getTime()
  );
}

/**
 * A broadcast's expected hosts: carried by the notification, else read from
 * KV; null when neither has a valid list (the address check then refuses).
 */
async function expectedHostsFor(
  store: JobStore,
  msg: JobNotice,
  id: string,
): Promise<string[] | null> {
  try {
    return carriedExpectedHosts(msg.headers) ?? (await readExpectedHosts(store, id));
  } catch (err) {
    if (err instanceof RecordError) return null;
    throw err;
  }
}

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
  const recorded = await recordEndUnlessStored(msg, ctx, job, ctx.opts.clock.now(), {
    status: 'failed',
    data: null,
    error: AGENT_STOPPED_MIDRUN,
  });
  if (recorded) {
    log.warn(
      { job_id: job.id },
      'redelivered job was started before and has no result; not running it again',
    );
  }
}

/**
 * The job with this host's values in place of its `@fact.` references (the
 * signed job itself is left as it is), or why it cannot run here.
 */
function withFacts(
  job: JobRecord,
  facts: FactsLoop | null,
): { job: JobRecord } | { error: string } {
  const data = job.operation.data;
  if (!hasFactRefs(data)) return { job };
  if (!facts)
    return { error: 'this agent collects no facts, so @fact. references cannot be resolved here' };
  try {
    return {
      job: { ...job, operation: { ...job.operation, data: resolveFactRefs(data, facts.values()) } },
    };
  } catch (err) {
    if (err instanceof UnknownFactError) return { error: err.message };
    throw err;
  }
}

/** Why the job's own signed command policy refuses it, or null. */
function policyRefusal(job: JobRecord): string | null {
  const policy = job.command_policy;
  if (!policy) return null;
  const refusal = commandPolicyRefusal(policy, job.operation.type, job.operation.data);
  return refusal ? `refused, not run: ${refusal}` : null;
}
