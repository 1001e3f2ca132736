// How an agent hears of jobs. Jobs for `_all`, its host and its label
// prefixes come on plain NATS subscriptions, which cost the server a few tens
// of KB per agent where durable consumers cost hundreds (docs/scale.md). The
// JOBS stream still stores every notification, so what a subscription cannot
// hear (while the agent starts, or while its connection is down) is read back
// from the stream: the catch-up. `_any` jobs come from the one durable
// consumer all agents share, pulled only when a job slot is free.
import {
  type Consumer,
  type DeliveryInfo,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Clock } from '../job/clock.js';
import type { JobRecord } from '../job/records.js';
import { carriedJob, type JobStore, readExpectedHosts, readJob } from '../job/store.js';
import { labelPrefixes, type Target } from '../job/target.js';
import type { Logger } from '../log/logger.js';
import type { OutageLog } from '../log/outage-log.js';
import {
  type InfraNames,
  listenSubject,
  parseNotifySubject,
  type RouteTarget,
} from '../names/names.js';
import { isConsumerGone, isMaxWaitingExceeded } from '../nats/errors.js';
import { type CatchUpDeps, catchUp, HeardOnce, heardKey } from './catch-up.js';
import { type ConsumerSettings, openSharedConsumer } from './consumers.js';
import type { Semaphore } from './semaphore.js';

/**
 * A notification as the agent handles it, from a subscription, the catch-up
 * or the shared consumer. Only the shared consumer's can be acknowledged or
 * redelivered; on the others those calls do nothing.
 */
export type JobNotice = Pick<
  JsMsg,
  'subject' | 'headers' | 'string' | 'ack' | 'nak' | 'term' | 'working' | 'ackAck'
> & {
  readonly info: Pick<DeliveryInfo, 'redelivered' | 'deliveryCount'>;
  /**
   * Read back from the stream (the catch-up): it was sent while this agent
   * was not listening, so a cancel sent meanwhile was not heard either.
   */
  readonly readBack?: boolean;
  /**
   * Called when the agent refused it as a copy sent where its job was not
   * addressed: the listener forgets having heard it, so the real notification
   * on the same subject is not passed over as heard already.
   */
  readonly refusedAsCopy?: () => void;
};

export interface ListenSettings {
  /** How far back a starting agent reads the stream (agent.listen.catch_up). */
  catch_up: number;
  /** Most random delay before the catch-up after a reconnect (agent.listen.jitter). */
  jitter: number;
}

export interface ListenerOptions {
  nc: NatsConnection;
  store: JobStore;
  names: InfraNames;
  hostname: string;
  labels: Record<string, string>;
  consumer: ConsumerSettings;
  listen: ListenSettings;
  /** `_any` is pulled only while one of these is free. */
  slots: Semaphore;
  /** `_any` is pulled only once this resolves (a drained agent takes none). */
  whenTakingJobs?: () => Promise<void>;
  clock: Clock;
  logger: Logger;
  /** Where failures that NATS caused are told, once per outage. */
  outage: OutageLog;
  /**
   * Handles one notification to its end; rejects when NATS failed on the way
   * (a notification from a subscription is then handed over again, a few
   * times, as the shared consumer would redeliver its own).
   */
  handle(notice: JobNotice, shared: boolean): Promise<void>;
}

export interface Listener {
  /** Notifications handled to their end (run, found done, or passed over), for tests and metrics. */
  readonly settled: number;
  /** Resolves when the catch-up at start has handed over everything it found. */
  readonly caughtUp: Promise<void>;
  stop(): void;
}

/**
 * How long a pull for `_any` waits at the server; it is made again at once
 * when it ends. The server confirms a waiting pull every 30 s (the client's
 * most), and two missed confirmations end it early, so a long pull costs an
 * idle fleet fewer messages and notices a lost pull just as soon.
 */
const ANY_PULL_EXPIRES_MS = 5 * 60_000;
/**
 * How long the connection may have been dead before the client noticed:
 * pings every 20 s, two unanswered (nats/connection.ts). A catch-up after a
 * reconnect reads back this much further than the noticed disconnect.
 */
const STALE_MARGIN_MS = 60_000;
/** How often the notifications heard longer ago than a catch-up reads are forgotten. */
const FORGET_HEARD_EVERY_MS = 60_000;
/**
 * A notification from a subscription whose handling failed (NATS away, a
 * failover under way) is handed over again, waiting twice as long each time
 * up to RETRY_MAX_MS, until the job's start deadline has passed (it is then
 * not run, and the job shows this host as not responding); RETRY_ATTEMPTS
 * times when the deadline is unknown.
 */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const RETRY_ATTEMPTS = 8;

/**
 * How long to wait before handling a notification again after its `attempt`
 * failed, or null when it is too late: the next try would come after the
 * job's start deadline (or, when the deadline is unknown, after
 * RETRY_ATTEMPTS tries).
 */
function retryWait(
  attempt: number,
  headers: MsgHdrs | undefined,
  id: string,
  now: Date,
): number | null {
  const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1)) + Math.random() * 1000;
  let deadline: number | undefined;
  try {
    const job = carriedJob(headers, id);
    deadline = job ? Date.parse(job.deadline) : undefined;
  } catch {
    deadline = undefined;
  }
  const late = deadline !== undefined ? now.getTime() + wait > deadline : attempt >= RETRY_ATTEMPTS;
  return late ? null : wait;
}

/** The notification subjects an agent subscribes to, for both job categories at once. */
export function agentSubjects(
  names: InfraNames,
  hostname: string,
  labels: Record<string, string>,
): string[] {
  const targets: RouteTarget[] = [{ kind: 'all' }, { kind: 'host', hostname }];
  for (const [key, value] of Object.entries(labels).sort()) {
    for (const prefix of labelPrefixes(value)) targets.push({ kind: 'label', key, value: prefix });
  }
  return targets.map((t) => listenSubject(names, t));
}

/**
 * The listener's timers: each runs once unless the listener stopped first,
 * and none keeps the process alive; stop() clears those still waiting.
 */
export class ListenerTimers {
  private readonly waiting = new Set<NodeJS.Timeout>();
  private stopped = false;

  get pending(): number {
    return this.waiting.size;
  }

  later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.waiting.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref();
    this.waiting.add(t);
  }

  /** Resolves after `ms`; never once stopped (whoever waits is stopping too). */
  pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.later(ms, resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.waiting) clearTimeout(t);
    this.waiting.clear();
  }
}

/**
 * Notifications waiting to be handled again after NATS failed them. Each
 * waits its backoff, unless something that needs NATS works first: then
 * every one goes at once, so that the jobs held up by an outage (a failover,
 * say) start as soon as it is over rather than at their next backoff.
 */
export class RetriesOnRecovery {
  private readonly waiting = new Set<() => void>();
  readonly stop: () => void;

  constructor(
    private readonly schedule: (ms: number, fn: () => void) => void,
    outage: OutageLog,
  ) {
    // Any success tells: a heartbeat, a claim, another notification's run.
    this.stop = outage.onRecovery(() => {
      for (const retry of [...this.waiting]) retry();
    });
  }

  get pending(): number {
    return this.waiting.size;
  }

  /** Runs `fn` after `ms`, or sooner when NATS works again; once either way. */
  later(ms: number, fn: () => void): void {
    const once = () => {
      if (this.waiting.delete(once)) fn();
    };
    this.waiting.add(once);
    this.schedule(ms, once);
  }
}

/**
 * The target of a notification read back from the stream when it is
 * addressed to this agent: `_all`, its host, or a prefix of one of its label
 * values; null otherwise (`_any` comes from the shared consumer only).
 */
export function addressedTo(
  names: InfraNames,
  hostname: string,
  labels: Record<string, string>,
  subject: string,
): Target | null {
  const parsed = parseNotifySubject(names, subject);
  if (!parsed) return null;
  const t = parsed.target;
  if (t.kind === 'all') return t;
  if (t.kind === 'host') return t.hostname === hostname ? t : null;
  if (t.kind === 'label') {
    const v = labels[t.key];
    return v !== undefined && labelPrefixes(v).includes(t.value) ? t : null;
  }
  return null;
}

/**
 * Whether this agent should run a job it reads back from the stream: the job
 * exists, its start deadline has not passed (past it, the job shows this host
 * as not responding; nothing to write) and, for a broadcast, this host was
 * one it was sent to, not one that joined after. A record that cannot be read
 * is handed over anyway: the handler reports it.
 */
export async function worthRunning(
  deps: { store: JobStore; clock: Clock; hostname: string },
  id: string,
  target: Target,
  headers: MsgHdrs | undefined,
): Promise<boolean> {
  let job: JobRecord | null | undefined;
  try {
    job = carriedJob(headers, id) ?? (await readJob(deps.store, id));
  } catch {
    return true;
  }
  if (!job) return false;
  if (deps.clock.now().getTime() > Date.parse(job.deadline)) return false;
  if (target.kind === 'all' || target.kind === 'label') {
    const expected = job.expected_hosts ?? (await readExpectedHosts(deps.store, id));
    if (expected && !expected.includes(deps.hostname)) return false;
  }
  return true;
}

export async function startListener(opts: ListenerOptions): Promise<Listener> {
  const { nc, names, hostname, labels, clock, logger: log } = opts;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  let stopped = false;
  let settled = 0;
  const timers = new ListenerTimers();
  const later = (ms: number, fn: () => void) => timers.later(ms, fn);
  const pause = (ms: number) => timers.pause(ms);
  const retries = new RetriesOnRecovery(later, opts.outage);

  // Dropped once no catch-up can bring them back (HeardOnce).
  const heard = new HeardOnce(() => clock.now().getTime(), opts.listen.catch_up + STALE_MARGIN_MS);
  // On a timer too: an agent whose jobs stop would otherwise keep the last
  // window's entries for ever (they go at every 1024th new one).
  const forgetHeard = (): void =>
    later(FORGET_HEARD_EVERY_MS, () => {
      heard.forgetOld();
      forgetHeard();
    });
  forgetHeard();

  /** Hands a notification from a subscription or a catch-up over, again after a failure. */
  const handOver = (
    id: string,
    subject: string,
    headers: MsgHdrs | undefined,
    readBack: boolean,
    attempt = 1,
  ): void => {
    const notice = localNotice(id, subject, headers, attempt, readBack, () =>
      heard.forget(heardKey(id, subject)),
    );
    opts.handle(notice, false).then(
      () => {
        settled++;
        opts.outage.worked();
      },
      (err: unknown) => {
        const wait = retryWait(attempt, headers, id, clock.now());
        if (wait === null || stopped) {
          settled++;
          log.error(
            { job_id: id, attempts: attempt, err: String(err) },
            'job handling failed; giving up on this notification',
          );
          return;
        }
        opts.outage.failed('job handling failed', err, { job_id: id });
        retries.later(wait, () => handOver(id, subject, headers, readBack, attempt + 1));
      },
    );
  };

  // Subscriptions first, confirmed by the server before the catch-up reads
  // the stream: whatever is published after that reaches a subscription.
  const subs: Subscription[] = agentSubjects(names, hostname, labels).map((subject) =>
    nc.subscribe(subject, {
      callback: (err: Error | null, msg: Msg) => {
        if (err) {
          log.error({ subject, err: String(err) }, 'subscription ended');
          return;
        }
        const id = msg.string().trim();
        if (heard.firstTime(heardKey(id, msg.subject))) {
          handOver(id, msg.subject, msg.headers, false);
        }
      },
    }),
  );
  await nc.flush();

  /**
   * The first notification stored on `filter` at sequence `seq` or later, or
   * null. nats-server 2.9 takes `next_by_subj` on STREAM.MSG.GET as on a
   * direct get; the client types it for direct gets only, which the jobs
   * stream does not allow.
   */
  const nextOn = (filter: string, seq: number): Promise<StoredMsg | null> =>
    jsm.streams.getMessage(names.stream, { seq, next_by_subj: filter } as unknown as MsgRequest);

  /**
   * Reads back the notifications on this agent's own subjects stored since
   * `since`, with direct reads of the stream (each the next message on one
   * subject), and hands over those no subscription brought. No consumer: an
   * agent may make none on the jobs stream, since a pull answers to any
   * reply subject, another host's included (docs/security.md).
   */
  const catchUpDeps: CatchUpDeps = {
    streamState: async () => (await jsm.streams.info(names.stream)).state,
    nextOn,
    allSubjects: names.streamSubjects,
    filters: agentSubjects(names, hostname, labels),
    addressedHere: (subject) => addressedTo(names, hostname, labels, subject),
    worthRunning: (id, target, headers) =>
      worthRunning({ store: opts.store, clock, hostname }, id, target, headers),
    heard,
    handOver: (f) => handOver(f.id, f.subject, f.headers, true),
    stopped: () => stopped,
  };

  /** Catches up until it succeeds (JetStream may still be electing leaders after a failover). */
  const catchUpUntilDone = async (since: Date, why: string): Promise<void> => {
    for (let delay = 1_000; !stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        const handed = await catchUp(since, catchUpDeps);
        opts.outage.worked();
        if (handed > 0) log.info({ jobs: handed, since, why }, 'caught up on missed jobs');
        return;
      } catch (err) {
        if (stopped) return;
        opts.outage.failed('could not read missed jobs yet', err, { why });
        await pause(delay * (0.5 + Math.random()));
      }
    }
  };

  // The shared consumer is opened here, not in the background: it fails
  // when the jobs stream does not exist yet, which the caller waits out.
  let shared: Consumer;
  try {
    shared = await openSharedConsumer(js, names, opts.consumer, log);
  } catch (err) {
    for (const s of subs) s.unsubscribe();
    throw err;
  }

  // What was sent before the subscriptions existed is read back a moment
  // later, at a random point within the jitter: a fleet starting together
  // (after a power cut, say) then does not ask the server for thousands of
  // consumers in the same second. The subscriptions already hear new jobs.
  const startedFrom = new Date(clock.now().getTime() - opts.listen.catch_up);
  let caughtUpNow = () => {};
  const caughtUp = new Promise<void>((resolve) => {
    caughtUpNow = resolve;
    later(Math.random() * opts.listen.jitter, () => {
      void catchUpUntilDone(startedFrom, 'start').then(resolve);
    });
  });

  // After a reconnect the subscriptions are back, but what was published
  // while the connection was down reached nobody here: read it back.
  let offlineSince: Date | null = null;
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'disconnect' && !offlineSince) {
        offlineSince = new Date(clock.now().getTime() - STALE_MARGIN_MS);
      } else if (s.type === 'reconnect' && offlineSince) {
        const since = offlineSince;
        offlineSince = null;
        later(Math.random() * opts.listen.jitter, () => {
          void catchUpUntilDone(since, 'reconnect');
        });
      }
    }
  })();

  const anyLoop = pullAny(js, shared, opts, () => stopped, pause, retries).catch((err: unknown) => {
    log.error({ err: String(err) }, 'stopped taking _any jobs');
  });

  return {
    get settled() {
      return settled;
    },
    caughtUp,
    stop() {
      stopped = true;
      caughtUpNow();
      timers.stop();
      retries.stop();
      for (const s of subs) s.unsubscribe();
      // A pending pull cannot be cancelled: it ends at its expiry or when the
      // connection closes, and anything it brings then is handed back.
      void anyLoop;
    },
  };
}

/** `_any`: pull one message only when a slot is free, so idle agents get the work. */
async function pullAny(
  js: JetStreamClient,
  opened: Consumer,
  opts: ListenerOptions,
  stopped: () => boolean,
  pause: (ms: number) => Promise<void>,
  retries: RetriesOnRecovery,
): Promise<void> {
  const log = opts.logger;
  // A notification whose handling failed (NATS away during a failover, say)
  // is handled again here, as a subscription's is, not left for the server
  // to offer again after ack_wait: by then another agent may take it, find
  // this agent's claim, and leave the job to nobody.
  const handleShared = (m: JsMsg, attempt = 1): void => {
    opts.handle(m, true).then(
      () => opts.outage.worked(),
      (err: unknown) => {
        const id = m.string().trim();
        const wait = retryWait(attempt, m.headers, id, opts.clock.now());
        if (wait === null || stopped()) {
          log.error(
            { job_id: id, attempts: attempt, err: String(err) },
            'job handling failed; the server will offer the notification again',
          );
          return;
        }
        opts.outage.failed('job handling failed', err, { job_id: id });
        // Not offered to anyone else meanwhile.
        m.working();
        retries.later(wait, () => handleShared(m, attempt + 1));
      },
    );
  };
  let consumer: Consumer | null = opened;
  let warnedFull = false;
  let failures = 0;
  while (!stopped()) {
    try {
      consumer ??= await openSharedConsumer(js, opts.names, opts.consumer, log);
      await opts.whenTakingJobs?.();
      await opts.slots.whenFree();
      if (stopped()) break;
      // The server sends a heartbeat every half expiry; two missed (a lost
      // pull after a reconnect) end this one, and a new pull goes out.
      const m = await consumer.next({ expires: ANY_PULL_EXPIRES_MS });
      failures = 0;
      opts.outage.worked();
      if (m && stopped()) m.nak();
      else if (m) handleShared(m);
    } catch (err) {
      if (stopped()) break;
      const message = String(err);
      failures++;
      if (isMaxWaitingExceeded(err)) {
        if (!warnedFull) {
          warnedFull = true;
          log.warn(
            { max_waiting: opts.consumer.max_waiting },
            'the shared _any consumer refused this agent a pull (more agents than its max_waiting); raise agent.consumer.max_waiting above the number of agents',
          );
        }
        await pause(10_000 + Math.random() * 10_000);
        continue;
      }
      if (isConsumerGone(err)) consumer = null;
      opts.outage.failed('pull for _any jobs failed', message);
      await pause(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random()));
    }
  }
}

/** A notification from a subscription or the stream: nothing to acknowledge. */
function localNotice(
  id: string,
  subject: string,
  headers: MsgHdrs | undefined,
  attempt: number,
  readBack: boolean,
  refusedAsCopy: () => void,
): JobNotice {
  return {
    subject,
    headers,
    string: () => id,
    readBack,
    refusedAsCopy,
    info: { redelivered: attempt > 1, deliveryCount: attempt },
    ack: () => {},
    nak: () => {},
    term: () => {},
    working: () => {},
    ackAck: () => Promise.resolve(true),
  };
}
