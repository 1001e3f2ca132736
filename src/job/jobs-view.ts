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
  parseExpectedHosts,
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
  /** Resolves once the watch has delivered what the bucket held at start. */
  readonly loaded: Promise<void>;
  stop(): void;
}

export async function watchJobs(
  jobs: KV,
  opts: { ttlMs: number; clock: Clock; logger: Logger },
): Promise<JobsView> {
  const entries = new Map<string, JobEntry>();
  // Events can arrive before their job definition in the replay; hold them.
  const orphans = new Map<string, JobEntry['events']>();
  // A broadcast's expected hosts are stored just before its definition.
  const expected = new Map<string, string[]>();
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
            expected.delete(id);
          } else {
            const parsed = parseJobRecord(e.value);
            const hosts = expected.get(id);
            const record = hosts ? { ...parsed, expected_hosts: hosts } : parsed;
            entries.set(id, { record, events: orphans.get(id) ?? [] });
            orphans.delete(id);
          }
        } else if (e.key.startsWith('expected.')) {
          const id = e.key.slice('expected.'.length);
          if (e.operation !== 'PUT') {
            expected.delete(id);
          } else {
            const hosts = parseExpectedHosts(e.value);
            expected.set(id, hosts);
            const entry = entries.get(id);
            if (entry) entry.record = { ...entry.record, expected_hosts: hosts };
          }
        } else if (e.operation === 'PUT' && e.key.startsWith('status.')) {
          const k = parseStatusKey(e.key);
          if (k) {
            const ev = { ...parseStatusEvent(e.value), nanos: k.nanos };
            const list = entries.get(k.id)?.events ?? orphans.get(k.id) ?? [];
            if (!entries.has(k.id)) orphans.set(k.id, list);
            insertByNanos(list, ev);
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
      if (Date.parse(entry.record.created) < cutoff) {
        entries.delete(id);
        expected.delete(id);
      }
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
    loaded,
    stop() {
      watch.stop();
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
