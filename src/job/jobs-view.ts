// A live view of every job in the job-queue bucket (definitions and status
// events), kept by one KV watch, so listing, filtering and counting jobs never
// reads each job from NATS. Entries past the bucket's TTL are dropped, as
// NATS drops them without telling watchers.
import type { KV } from '@nats-io/kv';
import type { Logger } from '../log/logger.js';
import type { Clock } from './clock.js';
import { parseStatusKey } from './names.js';
import {
  type JobRecord,
  parseJobRecord,
  parseStatusEvent,
  type StatusEventRecord,
} from './records.js';
import { type DerivedStatus, deriveStatus } from './status.js';

export interface JobEntry {
  record: JobRecord;
  events: Array<StatusEventRecord & { nanos: bigint }>;
}

export interface JobsView {
  /** Jobs newest first (ids are time-ordered UUIDv7). */
  list(): JobEntry[];
  get(id: string): JobEntry | undefined;
  derive(entry: JobEntry): DerivedStatus;
  /** Calls `listener` after each change the watch brings for this job, until the returned function is called. */
  onChange(id: string, listener: () => void): () => void;
  /**
   * Resolves with the job's entry once `until` holds for it (checked now and
   * after each change the watch brings), or with the entry as it is after
   * `timeoutMs`; undefined when the job is unknown.
   */
  waitFor(
    id: string,
    until: (d: DerivedStatus) => boolean,
    timeoutMs: number,
  ): Promise<JobEntry | undefined>;
  /** Resolves once the watch has delivered what the bucket held at start. */
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchJobs(
  jobs: KV,
  opts: { ttlMs: number; clock: Clock; logger: Logger },
): Promise<JobsView> {
  const entries = new Map<string, JobEntry>();
  const listeners = new Map<string, Set<() => void>>();
  const changed = (id: string) => {
    for (const l of listeners.get(id) ?? []) l();
  };
  // Events can arrive before their job definition in the replay; hold them.
  const orphans = new Map<string, JobEntry['events']>();
  // One filter subject per consumer on nats-server 2.9: watch the bucket
  // whole and skip the claims.
  const watch = await jobs.watch({ key: '>' });
  let markLoaded!: () => void;
  const loaded = new Promise<void>((r) => {
    markLoaded = r;
  });
  const status = await jobs.status();
  if (status.values === 0) markLoaded();

  void (async () => {
    for await (const e of watch) {
      try {
        if (e.key.startsWith('jobs.')) {
          const id = e.key.slice('jobs.'.length);
          if (e.operation !== 'PUT') {
            entries.delete(id);
          } else {
            const record = parseJobRecord(e.value);
            entries.set(id, { record, events: orphans.get(id) ?? [] });
            orphans.delete(id);
          }
          changed(id);
        } else if (e.operation === 'PUT' && e.key.startsWith('status.')) {
          const k = parseStatusKey(e.key);
          if (k) {
            const ev = { ...parseStatusEvent(e.value), nanos: k.nanos };
            const list = entries.get(k.id)?.events ?? orphans.get(k.id) ?? [];
            if (!entries.has(k.id)) orphans.set(k.id, list);
            list.push(ev);
            list.sort((a, b) => (a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0));
            changed(k.id);
          }
        }
      } catch (err) {
        opts.logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid job entry');
      }
      if (e.delta === 0) markLoaded();
    }
  })();

  const prune = () => {
    const cutoff = opts.clock.now().getTime() - opts.ttlMs;
    for (const [id, entry] of entries) {
      if (Date.parse(entry.record.created) < cutoff) entries.delete(id);
    }
  };

  return {
    list() {
      prune();
      return [...entries.values()].sort((a, b) =>
        a.record.id < b.record.id ? 1 : a.record.id > b.record.id ? -1 : 0,
      );
    },
    get(id) {
      prune();
      return entries.get(id);
    },
    derive(entry) {
      return deriveStatus(entry.record, entry.events, opts.clock.now());
    },
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
      const derive = (e: JobEntry) => deriveStatus(e.record, e.events, opts.clock.now());
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
    loaded,
    stop() {
      watch.stop();
    },
  };
}
