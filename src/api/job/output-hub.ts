// Live output as the API holds it: one follow of the output stream (names.ts
// outputStream, which holds `<ns>.output.>`) for the whole process, and for
// each job a log of the recent chunks, so a client that connects a little
// after submitting still sees the start. Every API server follows the same
// stream in the same order, so a job's log is the same on each: its events
// get the same indexes, and its name (tag) is the stream sequence of its
// first chunk. An event id one server sent is a place in the log on another,
// and a client whose server went away resumes on the next where it was. Bounded three
// ways (bytes per job, bytes in all, jobs held), oldest first; a reader is a
// position in a job's log, so a slow one costs no memory of its own and never
// holds up the subscription.
import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OutputStream } from '../../contract/states.js';
import { followStream } from '../../job/kv-follow.js';
import { parseOutputChunk } from '../../job/live-output.js';
import type { Logger } from '../../log/logger.js';
import { type InfraNames, outputFilter, parseOutputSubject } from '../../names/names.js';

export interface OutputHubLimits {
  /** Most bytes held for one job; its oldest chunks go first. */
  jobBytes: number;
  /** Most bytes held in all; the jobs least recently written to go first. */
  totalBytes: number;
  /** Most jobs held. */
  maxJobs: number;
  /** A job nobody reads and nothing was written to for this long is dropped. */
  idleMs: number;
}

export const DEFAULT_HUB_LIMITS: OutputHubLimits = {
  jobBytes: 4 * 1024 * 1024,
  totalBytes: 64 * 1024 * 1024,
  maxJobs: 1000,
  idleMs: 10 * 60_000,
};

/** What each chunk costs beyond its text: the object, its strings' headers. */
const CHUNK_OVERHEAD_BYTES = 96;

export interface HeldOutput {
  /** Its place in the job's log, from 1. */
  index: number;
  hostname: string;
  stream: OutputStream;
  data: string;
  /** The agent's cap for this stream was reached with this chunk. */
  truncated: boolean;
}

/** Where a reader is in a job's log: after the event `index` of the log named `tag`. */
export interface OutputPosition {
  tag: string;
  index: number;
}

export interface OutputRead {
  /** The log's name: a log dropped and begun again gets another, so old positions start over. */
  tag: string;
  events: HeldOutput[];
  /** Events after the reader's position that are no longer held. */
  skipped: number;
  /** The reader's position after these events. */
  through: number;
}

export interface OutputHub {
  /**
   * Up to `limit` events of a job after `after` (null: from the start of
   * what is held); null when nothing is held for the job.
   */
  read(jobId: string, after: OutputPosition | null, limit: number): OutputRead | null;
  /** Calls `onOutput` each time the job gets output, until the returned function is called. */
  watch(jobId: string, onOutput: () => void): () => void;
  /**
   * How many of a host's chunks of the job have arrived (one past the
   * highest `seq`), held or dropped since: what a follower compares with the
   * count the host's result gives.
   */
  arrived(jobId: string, hostname: string): number;
  /**
   * Takes one chunk (exported for the follow and for tests). `streamSeq`, its
   * sequence in the output stream, names a log begun with it.
   */
  accept(subject: string, payload: Uint8Array, streamSeq?: number): void;
  /** What is held now, for tests and metrics. */
  usage(): { jobs: number; bytes: number; events: number };
  stop(): void;
}

interface JobLog {
  tag: string;
  /** Index the next event gets. */
  next: number;
  events: Array<HeldOutput & { size: number }>;
  /** events[head] is the oldest held; those before it are dropped, not yet compacted. */
  head: number;
  bytes: number;
  lastActive: number;
  watchers: Set<() => void>;
  /** Per host: one past the highest `seq` that arrived. */
  arrived: Map<string, number>;
}

export interface OutputHubOptions {
  names: InfraNames;
  logger: Logger;
  limits?: Partial<OutputHubLimits>;
  /** Milliseconds since the epoch; tests pass their own. */
  now?: () => number;
}

/** The hub without a subscription, fed through `accept`. */
export function createOutputHub(opts: OutputHubOptions): OutputHub {
  const limits = { ...DEFAULT_HUB_LIMITS, ...opts.limits };
  const now = opts.now ?? Date.now;
  // Insertion order is least recently written first: each write moves its job to the end.
  const logs = new Map<string, JobLog>();
  let total = 0;
  let heldEvents = 0;
  let warnedInvalid = false;

  const held = (log: JobLog) => log.events.length - log.head;

  const dropOldest = (log: JobLog) => {
    const e = log.events[log.head];
    if (!e) return;
    log.events[log.head] = undefined as unknown as HeldOutput & { size: number };
    log.head++;
    log.bytes -= e.size;
    total -= e.size;
    heldEvents--;
    // Compact now and then, so the array does not keep what was dropped.
    if (log.head > 1024 && log.head * 2 > log.events.length) {
      log.events = log.events.slice(log.head);
      log.head = 0;
    }
  };

  const dropAll = (log: JobLog) => {
    total -= log.bytes;
    heldEvents -= held(log);
    log.events = [];
    log.head = 0;
    log.bytes = 0;
  };

  const logFor = (jobId: string): JobLog => {
    let log = logs.get(jobId);
    if (!log) {
      log = {
        tag: randomBytes(4).toString('hex'),
        next: 1,
        events: [],
        head: 0,
        bytes: 0,
        lastActive: now(),
        watchers: new Set(),
        arrived: new Map(),
      };
      logs.set(jobId, log);
    }
    return log;
  };

  /** Least recently written first, until within every limit; jobs being read keep their name. */
  const shrink = (keep: JobLog) => {
    const cutoff = now() - limits.idleMs;
    for (const [id, log] of logs) {
      const over = total > limits.totalBytes || logs.size > limits.maxJobs;
      const idle = log.lastActive < cutoff;
      if (!over && !idle) break;
      if (log === keep) continue;
      dropAll(log);
      if (log.watchers.size === 0) logs.delete(id);
    }
    // Alone over the total (a job bound above it): its own oldest go too.
    while (total > limits.totalBytes && held(keep) > 0) dropOldest(keep);
  };

  return {
    read(jobId, after, limit) {
      const log = logs.get(jobId);
      if (!log) return null;
      const from = after && after.tag === log.tag ? after.index + 1 : 1;
      const first = log.next - held(log);
      const start = Math.max(from, first);
      const events: HeldOutput[] = [];
      for (let i = start; i < log.next && events.length < limit; i++) {
        const e = log.events[log.head + (i - first)];
        if (e) {
          events.push({
            index: e.index,
            hostname: e.hostname,
            stream: e.stream,
            data: e.data,
            truncated: e.truncated,
          });
        }
      }
      return {
        tag: log.tag,
        events,
        skipped: Math.max(0, start - from),
        through: events.at(-1)?.index ?? Math.min(start, log.next) - 1,
      };
    },

    arrived(jobId, hostname) {
      return logs.get(jobId)?.arrived.get(hostname) ?? 0;
    },

    watch(jobId, onOutput) {
      const log = logFor(jobId);
      log.watchers.add(onOutput);
      return () => {
        log.watchers.delete(onOutput);
        if (log.watchers.size === 0 && held(log) === 0 && logs.get(jobId) === log) {
          logs.delete(jobId);
        }
      };
    },

    accept(subject, payload, streamSeq) {
      const named = parseOutputSubject(opts.names, subject);
      let chunk: ReturnType<typeof parseOutputChunk>;
      try {
        if (!named) throw new Error(`not an output subject: ${subject}`);
        chunk = parseOutputChunk(payload);
        // The subject and the body must agree on whose output this is.
        if (chunk.job_id !== named.id || chunk.hostname !== named.hostname) {
          throw new Error('the chunk names another job or host than its subject');
        }
      } catch (err) {
        if (!warnedInvalid) {
          warnedInvalid = true;
          opts.logger.warn(
            { subject, err: String(err) },
            'ignoring invalid live output (only the first is logged)',
          );
        }
        return;
      }
      const log = logFor(chunk.job_id);
      // A log's first chunk names it, the same on every API server.
      if (log.next === 1 && streamSeq !== undefined)
        log.tag = streamSeq.toString(16).padStart(8, '0');
      // Moved to the end: the most recently written job is the last to go.
      logs.delete(chunk.job_id);
      logs.set(chunk.job_id, log);
      log.arrived.set(
        chunk.hostname,
        Math.max(log.arrived.get(chunk.hostname) ?? 0, chunk.seq + 1),
      );
      const size = Buffer.byteLength(chunk.data) + chunk.hostname.length + CHUNK_OVERHEAD_BYTES;
      log.events.push({
        index: log.next++,
        hostname: chunk.hostname,
        stream: chunk.stream,
        data: chunk.data,
        truncated: chunk.truncated === true,
        size,
      });
      log.bytes += size;
      log.lastActive = now();
      total += size;
      heldEvents++;
      while (log.bytes > limits.jobBytes && held(log) > 0) dropOldest(log);
      shrink(log);
      for (const onOutput of log.watchers) {
        try {
          onOutput();
        } catch (err) {
          opts.logger.error({ err: String(err) }, 'a live output reader failed');
        }
      }
    },

    usage() {
      return { jobs: logs.size, bytes: total, events: heldEvents };
    },

    stop() {
      logs.clear();
      total = 0;
      heldEvents = 0;
    },
  };
}

/** The hub fed by one follow of the output stream, from what comes next. */
export async function startOutputHub(
  source: { nc: NatsConnection; js: JetStreamClient },
  opts: OutputHubOptions,
): Promise<OutputHub> {
  const hub = createOutputHub(opts);
  const follow = await followStream(
    {
      ...source,
      stream: opts.names.outputStream,
      filter: outputFilter(opts.names),
      label: { stream: opts.names.outputStream },
    },
    { from: 'updates', logger: opts.logger },
    // Synchronous and short: reading never waits on a client, so the follow is never held up.
    (m) => hub.accept(m.subject, m.data, m.seq),
  );
  return {
    ...hub,
    stop() {
      follow.stop();
      hub.stop();
    },
  };
}
