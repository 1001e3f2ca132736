// A live view of every job in the job-queue bucket (definitions and status
// events), kept by one follow of the bucket, so listing, filtering and
// counting jobs never reads each job from NATS. Entries past the bucket's TTL
// are dropped, as NATS drops them without telling followers.
import type { Logger } from '../log/logger.js';
import {
  isStatusKey,
  jobIdFromExpectedKey,
  jobIdFromKey,
  parseResponseKey,
  parseStatusKey,
  RESULT_ERROR_HEADER,
  RESULT_STATE_HEADER,
} from '../names/names.js';
import type { Clock } from './clock.js';
import { followKv, type KvChange, type KvFollow, type KvSource } from './kv-follow.js';
import {
  isFinalHostStateName,
  type JobRecord,
  parseExpectedHosts,
  parseJobRecord,
  parseStatusEvent,
  type StatusEventRecord,
} from './records.js';
import { type ResultTrust, resultDistrust } from './result-signing.js';
import {
  type DerivedStatus,
  derivedHoldsUntilMs,
  deriveStatus,
  type HostAnswer,
} from './status.js';

export interface JobEntry {
  record: JobRecord;
  events: Array<StatusEventRecord & { nanos: bigint }>;
  /** Each host's stored result, by its headers (status.ts HostAnswer). */
  answers: Map<string, HostAnswer>;
}

export interface JobsView {
  /** Jobs newest first (ids are time-ordered UUIDv7). */
  /** Newest first; the same array until a job comes or goes (not to be changed by the caller). */
  list(): readonly JobEntry[];
  get(id: string): JobEntry | undefined;
  /**
   * Drops a job this process has just deleted: the follow brings the deletion
   * too, but maybe after the next request of the client that deleted it.
   */
  forget(id: string): void;
  derive(entry: JobEntry): DerivedStatus;
  /** Calls `listener` after each change the follow brings for this job, until the returned function is called. */
  onChange(id: string, listener: () => void): () => void;
  /**
   * Resolves with the job's entry once `until` holds for it (checked now and
   * after each change the follow brings), or with the entry as it is after
   * `timeoutMs`; undefined when the job is unknown.
   */
  waitFor(
    id: string,
    until: (d: DerivedStatus) => boolean,
    timeoutMs: number,
  ): Promise<JobEntry | undefined>;
  /** Resolves once the follow has delivered what the bucket held at start. */
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchJobs(
  jobs: KvSource,
  opts: {
    ttlMs: number;
    clock: Clock;
    logger: Logger;
    /** The responses bucket, followed by its results' headers only. */
    results?: KvSource;
    /** Results not signed as it says are left out (result-signing.ts). */
    trust?: ResultTrust;
  },
): Promise<JobsView> {
  const entries = new Map<string, JobEntry>();
  // Newest first, made again only after a job came or went: each list
  // request (GET /job, GET /job/status, health, metrics) copied and sorted
  // every job otherwise.
  let newestFirst: JobEntry[] | null = null;
  const listeners = new Map<string, Set<() => void>>();
  // Each entry's status as last derived, and until when it holds: every
  // list request (GET /job?status=, GET /job/status, health, metrics)
  // derives every job, and a job's status changes only with its entry, or
  // once with time (status.ts derivedHoldsUntilMs). Every change to an
  // entry in place is followed by `changed`, which drops it; a new entry is
  // a new object.
  const derivations = new WeakMap<JobEntry, { status: DerivedStatus; untilMs: number }>();
  const changed = (id: string) => {
    const entry = entries.get(id);
    if (entry) derivations.delete(entry);
    for (const l of listeners.get(id) ?? []) l();
  };
  const derive = (entry: JobEntry): DerivedStatus => {
    const now = opts.clock.now();
    const nowMs = now.getTime();
    const known = derivations.get(entry);
    if (known && nowMs <= known.untilMs) return known.status;
    const status = frozen(deriveStatus(entry.record, entry.events, now, entry.answers));
    derivations.set(entry, { status, untilMs: derivedHoldsUntilMs(entry.record, status, nowMs) });
    return status;
  };
  // Events can arrive before their job definition in the replay; hold them.
  const orphans = new Map<string, JobEntry['events']>();
  const orphanAnswers = new Map<string, JobEntry['answers']>();
  // A broadcast's expected hosts are stored just before its definition.
  const expected = new Map<string, string[]>();
  const onChange = (e: KvChange) => {
    try {
      const jobId = jobIdFromKey(e.key);
      const expectedId = jobIdFromExpectedKey(e.key);
      if (jobId !== null) {
        const id = jobId;
        newestFirst = null;
        if (e.operation !== 'PUT') {
          entries.delete(id);
          expected.delete(id);
        } else {
          const parsed = parseJobRecord(e.value);
          const hosts = expected.get(id);
          const record = hosts ? { ...parsed, expected_hosts: hosts } : parsed;
          entries.set(id, {
            record,
            events: orphans.get(id) ?? [],
            answers: orphanAnswers.get(id) ?? new Map(),
          });
          orphans.delete(id);
          orphanAnswers.delete(id);
        }
        // A request replaying an Idempotency-Key waits for the job to appear.
        changed(id);
      } else if (expectedId !== null) {
        const id = expectedId;
        if (e.operation !== 'PUT') {
          expected.delete(id);
        } else {
          // Frozen: read by every holder of the record, never changed.
          const hosts = Object.freeze(parseExpectedHosts(e.value)) as string[];
          expected.set(id, hosts);
          const entry = entries.get(id);
          if (entry) entry.record = { ...entry.record, expected_hosts: hosts };
        }
        changed(id);
      } else if (e.operation === 'PUT' && isStatusKey(e.key)) {
        const k = parseStatusKey(e.key);
        if (k) {
          const ev = { ...parseStatusEvent(e.value), nanos: k.nanos };
          const list = entries.get(k.id)?.events ?? orphans.get(k.id) ?? [];
          if (!entries.has(k.id)) orphans.set(k.id, list);
          insertByNanos(list, ev);
          changed(k.id);
        }
      }
    } catch (err) {
      opts.logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid job entry');
    }
  };
  // One filter subject per consumer on nats-server 2.9: follow the bucket
  // whole and skip the claims.
  const follow = await followKv(jobs, { keys: '>', from: 'last', logger: opts.logger }, onChange);

  const results = opts.results
    ? await followResults(opts.results, opts.logger, opts.trust, (id, host, answer) => {
        const answers = entries.get(id)?.answers ?? orphanAnswers.get(id) ?? new Map();
        if (!entries.has(id)) orphanAnswers.set(id, answers);
        if (answer) answers.set(host, answer);
        else answers.delete(host);
        changed(id);
      })
    : null;

  // Each record's creation time, parsed once: every list looks at every job.
  const createdMs = new WeakMap<JobRecord, number>();
  const expired = (entry: JobEntry, now: number) => {
    let created = createdMs.get(entry.record);
    if (created === undefined) {
      created = Date.parse(entry.record.created);
      createdMs.set(entry.record, created);
    }
    return created < now - opts.ttlMs;
  };
  const drop = (id: string) => {
    if (entries.delete(id)) newestFirst = null;
    expected.delete(id);
  };
  const prune = () => {
    const now = opts.clock.now().getTime();
    for (const [id, entry] of entries) if (expired(entry, now)) drop(id);
  };

  return {
    list() {
      prune();
      newestFirst ??= [...entries.values()].sort((a, b) =>
        a.record.id < b.record.id ? 1 : a.record.id > b.record.id ? -1 : 0,
      );
      return newestFirst;
    },
    forget(id) {
      drop(id);
      changed(id);
    },
    get(id) {
      // Only this entry's age: a request looks jobs up on the hot path, and
      // walking every job for each lookup would cost O(jobs) per call.
      const entry = entries.get(id);
      if (entry && expired(entry, opts.clock.now().getTime())) {
        drop(id);
        return undefined;
      }
      return entry;
    },
    derive,
    onChange(id, listener) {
      const set = listeners.get(id) ?? new Set();
      listeners.set(id, set);
      const call = () => listener();
      set.add(call);
      return () => {
        set.delete(call);
        if (set.size === 0) listeners.delete(id);
      };
    },
    waitFor(id, until, timeoutMs) {
      const now = entries.get(id);
      if (!now || until(derive(now))) return Promise.resolve(now);
      return new Promise((resolve) => {
        const set = listeners.get(id) ?? new Set();
        listeners.set(id, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(check);
          if (set.size === 0) listeners.delete(id);
          resolve(entries.get(id));
        };
        const check = () => {
          const e = entries.get(id);
          if (!e || until(derive(e))) done();
        };
        const timer = setTimeout(done, timeoutMs);
        set.add(check);
      });
    },
    loaded: Promise.all([follow.loaded, results?.loaded]).then(() => {}),
    stop() {
      follow.stop();
      results?.stop();
    },
  };
}

/**
 * Keeps a job's events in key order. They arrive almost in order (a broadcast
 * to thousands of agents brings thousands of events), so the place is found
 * from the end: sorting the whole list on every event would cost O(n² log n).
 */
function insertByNanos<T extends { nanos: bigint }>(list: T[], ev: T): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as T).nanos > ev.nanos) i--;
  list.splice(i, 0, ev);
}

/**
 * Follows every stored result by its headers only (RESULT_STATE_HEADER),
 * never its output; `on` hears each result, or null when one was removed.
 */
function followResults(
  source: KvSource,
  logger: Logger,
  trust: ResultTrust | undefined,
  on: (id: string, host: string, answer: HostAnswer | null) => void,
): Promise<KvFollow> {
  return followKv(source, { keys: '>', from: 'last', headersOnly: true, logger }, (e) => {
    const key = parseResponseKey(e.key);
    if (!key) return;
    if (e.operation !== 'PUT') {
      on(key.id, key.hostname, null);
      return;
    }
    const state = e.headers?.get(RESULT_STATE_HEADER);
    if (!isFinalHostStateName(state)) return;
    if (trust) {
      // Headers only: the signature covers them and the body's digest.
      const why = resultDistrust(trust, key.id, key.hostname, e.headers);
      if (why) {
        trust.refused?.(key.id, key.hostname, why);
        return;
      }
    }
    const error = e.headers?.get(RESULT_ERROR_HEADER);
    let reason: string | undefined;
    try {
      reason = error ? String(JSON.parse(error)) : undefined;
    } catch {
      reason = error;
    }
    on(key.id, key.hostname, {
      state,
      ...(reason !== undefined ? { error: reason } : {}),
      at: e.created.toISOString(),
    });
  });
}

/** A derived status, shared by every caller until the job changes: none may change it. */
function frozen(d: DerivedStatus): DerivedStatus {
  for (const host of Object.values(d.hosts)) Object.freeze(host);
  Object.freeze(d.hosts);
  return Object.freeze(d);
}
