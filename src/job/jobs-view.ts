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
import { type Clock, nowMs } from './clock.js';
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
  type JobStatus,
} from './status.js';

/** The answers of every job that has none: never changed. */
const NO_ANSWERS: ReadonlyMap<string, HostAnswer> = new Map();

/** At most this many distinct strings are shared between records (sharedRecord). */
const SHARED_STRINGS_MAX = 10_000;

export interface JobEntry {
  /** The stored definition without its signature (agents check it; the API sends it from the store). */
  record: JobRecord;
  events: Array<StatusEventRecord & { nanos: bigint }>;
  /**
   * Each host's stored result, by its headers (status.ts HostAnswer). Every
   * job without one shares one empty map: most jobs a view holds have none
   * yet or never will, and an empty Map costs about 180 bytes.
   */
  answers: ReadonlyMap<string, HostAnswer>;
}

/** A job as the view holds it: with when the server stored its definition, which the TTL counts from. */
interface HeldEntry extends JobEntry {
  storedMs: number;
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
  /**
   * The job's status and each host's, kept until the job changes or time
   * changes it, and shared by every caller: none may change it.
   */
  derive(entry: JobEntry): DerivedStatus;
  /**
   * The job's status alone: what every list request (GET /job?status=,
   * GET /job/status, health, metrics) asks of every job, kept until the
   * entry changes or time changes it.
   */
  statusOf(entry: JobEntry): JobStatus;
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
  const entries = new Map<string, HeldEntry>();
  // Newest first, made again only after a job came or went: each list
  // request (GET /job, GET /job/status, health, metrics) copied and sorted
  // every job otherwise.
  let newestFirst: JobEntry[] | null = null;
  const listeners = new Map<string, Set<() => void>>();
  // Each entry's status as last derived, and until when it holds: every
  // list request asks every job's status, and a job's status changes only
  // with its entry, or once with time (status.ts derivedHoldsUntilMs). Each
  // host's detail is kept too, for the jobs it was asked of (one at a time:
  // GET /job/{id}, its stream, a request waiting for it), not for every job
  // a list looked at. Every change to an entry in place is followed by
  // `changed`, which drops it; a new entry is a new object.
  const derivations = new WeakMap<
    JobEntry,
    { status: JobStatus; untilMs: number; detail?: DerivedStatus }
  >();
  const changed = (id: string) => {
    const entry = entries.get(id);
    if (entry) derivations.delete(entry);
    for (const l of listeners.get(id) ?? []) l();
  };
  const derivedNow = (entry: JobEntry, keepDetail: boolean): DerivedStatus => {
    const now = opts.clock.now();
    const derived = deriveStatus(entry.record, entry.events, now, entry.answers);
    // Frozen only when kept: a list's scan drops the rest at once.
    const detail = keepDetail ? frozen(derived) : derived;
    derivations.set(entry, {
      status: detail.status,
      untilMs: derivedHoldsUntilMs(entry.record, detail, now.getTime()),
      ...(keepDetail ? { detail } : {}),
    });
    return detail;
  };
  const derive = (entry: JobEntry): DerivedStatus => {
    const known = derivations.get(entry);
    if (known?.detail && nowMs(opts.clock) <= known.untilMs) return known.detail;
    return derivedNow(entry, true);
  };
  const statusOf = (entry: JobEntry): JobStatus => {
    const known = derivations.get(entry);
    if (known && nowMs(opts.clock) <= known.untilMs) return known.status;
    return derivedNow(entry, false).status;
  };
  // The fields most jobs share (who asked, which key signed, the target, the
  // operation) as one string each, not one per job: a view holds thousands
  // of jobs. At most SHARED_STRINGS_MAX strings are kept (for the process's
  // life); past that, new ones are not shared, so hostile variety costs no
  // more than that many strings.
  const shared = new Map<string, string>();
  const share = (value: string): string => {
    const known = shared.get(value);
    if (known !== undefined) return known;
    if (shared.size < SHARED_STRINGS_MAX) shared.set(value, value);
    return value;
  };
  const sharedRecord = (r: JobRecord): JobRecord => {
    r.created_by = share(r.created_by);
    r.target_hostname = share(r.target_hostname);
    r.category = share(r.category) as JobRecord['category'];
    r.operation.type = share(r.operation.type) as JobRecord['operation']['type'];
    if (r.key_id !== undefined) r.key_id = share(r.key_id);
    return r;
  };
  // Events can arrive before their job definition in the replay; hold them.
  const orphans = new Map<string, JobEntry['events']>();
  const orphanAnswers = new Map<string, Map<string, HostAnswer>>();
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
          // Without its signature: agents check it, the API never does, and
          // at 88 characters it was a tenth of what the view holds of a job.
          // Whatever sends the job to agents reads it from the store.
          const { signature: _signature, ...unsigned } = parseJobRecord(e.value);
          const parsed = sharedRecord(unsigned);
          if (parsed.id !== id) throw new Error(`the record under this key is job ${parsed.id}`);
          const hosts = expected.get(id);
          const record = hosts ? { ...parsed, expected_hosts: hosts } : parsed;
          // Keyed by the record's own id: the key's copy of it is let go.
          entries.set(record.id, {
            record,
            events: orphans.get(id) ?? [],
            answers: orphanAnswers.get(id) ?? NO_ANSWERS,
            storedMs: e.created.getTime(),
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
        const entry = entries.get(id);
        const held = entry ? entry.answers : orphanAnswers.get(id);
        // Only the view's own maps are ever changed, never the shared empty one.
        let answers = held === NO_ANSWERS ? undefined : (held as Map<string, HostAnswer>);
        if (answer) {
          if (!answers) {
            answers = new Map();
            if (entry) entry.answers = answers;
            else orphanAnswers.set(id, answers);
          }
          answers.set(host, answer);
        } else {
          answers?.delete(host);
        }
        changed(id);
      })
    : null;

  const expired = (entry: HeldEntry, now: number) => entry.storedMs < now - opts.ttlMs;
  const drop = (id: string) => {
    if (entries.delete(id)) newestFirst = null;
    expected.delete(id);
  };
  // No job can expire before this instant: until then a list request looks
  // at no job's age (it looked at every job's before).
  let nothingExpiresBeforeMs = Number.NEGATIVE_INFINITY;
  /**
   * Drops the jobs past the bucket's TTL, oldest first. The TTL counts from
   * when the server stored each definition, and the follow brings them in
   * that order (the stream's), so the walk stops at the first not past it.
   * get() looks at each job's own age.
   */
  const prune = () => {
    const now = nowMs(opts.clock);
    if (now < nothingExpiresBeforeMs) return;
    for (const [id, entry] of entries) {
      if (!expired(entry, now)) {
        nothingExpiresBeforeMs = entry.storedMs + opts.ttlMs;
        return;
      }
      drop(id);
    }
    nothingExpiresBeforeMs = Number.NEGATIVE_INFINITY;
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
      if (entry && expired(entry, nowMs(opts.clock))) {
        drop(id);
        return undefined;
      }
      return entry;
    },
    derive,
    statusOf,
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
