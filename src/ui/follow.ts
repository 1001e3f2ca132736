// Follows a job while it runs: its detail (states, results, timeline) from
// GET /job/{id}, and its output, live from the job's event stream where the
// caller gives one, else each host's whole output once its result is in.
// Stops by itself once nothing can change, or when the caller stops it.
import type { JobDetail, JobStreamEvent, OsapiClient } from '../sdk/client.js';
import { commandResult, isFinal, jobHosts } from './job.js';
import { OutputLog } from './output.js';
import { describeError, isUnauthorized } from './session.js';

/** Connections in a row that may fail before the follower stops streaming. */
const STREAM_ATTEMPTS = 3;

export interface FollowView {
  job: JobDetail | null;
  log: OutputLog;
  /** The last failure to read the job, while it is being retried. */
  error: string | null;
  /** Output arrives as it is written (stream), or per host once it ended. */
  live: boolean;
  /** Output events the stream could not deliver: the job's detail has them. */
  missed: number;
  /** Bumped on every change, for views that compare. */
  version: number;
}

export interface FollowOptions {
  /** Opens the job's output stream; without it, output comes with each result. */
  stream?: (
    jobId: string,
    signal: AbortSignal,
    lastEventId: string | undefined,
  ) => AsyncIterable<JobStreamEvent>;
  /** Between reads of the job's detail. */
  pollMs?: number;
  /** The token was refused: the session is over. */
  onUnauthorized?: (err: unknown) => void;
}

export function followJob(
  client: OsapiClient,
  jobId: string,
  onUpdate: (view: FollowView) => void,
  opts: FollowOptions = {},
): () => void {
  const ac = new AbortController();
  const log = new OutputLog();
  const absorbed = new Set<string>();
  let view: FollowView = { job: null, log, error: null, live: false, missed: 0, version: 0 };
  const emit = (change: Partial<FollowView> = {}) => {
    view = { ...view, ...change, version: view.version + 1 };
    onUpdate(view);
  };

  // The wait between reads ends early when the stream says a host finished.
  let wake: (() => void) | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = null;
        ac.signal.removeEventListener('abort', done);
        resolve();
      }
      wake = done;
      ac.signal.addEventListener('abort', done);
    });

  // Hosts whose `result` came on the stream: their live output is complete.
  const streamed = new Set<string>();

  /**
   * A host's stored output, for what did not come live: all of it without a
   * stream, the rest of it (a piece the stream missed) once the host ended.
   * While the stream runs, a host waits for its `result` event there, so a
   * piece still on its way is not shown twice.
   */
  const absorb = (job: JobDetail, final: boolean) => {
    for (const host of jobHosts(job)) {
      if (absorbed.has(host)) continue;
      if (view.live && !final && !streamed.has(host)) continue;
      const result = commandResult(job, host);
      if (!result) continue;
      absorbed.add(host);
      for (const stream of ['stdout', 'stderr'] as const) {
        const stored = result[stream];
        const shown = log.text(host)[stream];
        if (stored.length > shown.length && stored.startsWith(shown)) {
          log.add(host, stream, stored.slice(shown.length));
        }
      }
      log.finish(host);
    }
  };

  const poll = async () => {
    // With the stream, a host's end wakes the next read at once: the poll is only a backstop.
    const every = opts.pollMs ?? (opts.stream ? 2000 : 1000);
    while (!ac.signal.aborted) {
      try {
        const { body } = await client.jobGet(jobId);
        if (ac.signal.aborted) return;
        const final = isFinal(body);
        absorb(body, final);
        if (final) ac.abort();
        emit({ job: body, error: null, ...(final ? { live: false } : {}) });
        if (final) return;
      } catch (err) {
        if (ac.signal.aborted) return;
        if (isUnauthorized(err)) {
          opts.onUnauthorized?.(err);
          ac.abort();
          return;
        }
        emit({ error: describeError(err) });
      }
      await pause(every);
    }
  };

  const onEvent = (e: JobStreamEvent) => {
    if (e.event === 'output') {
      // A host's first output means it runs: read its state now, not at the next poll.
      const shown = log.text(e.data.hostname);
      const first = shown.stdout === '' && shown.stderr === '';
      log.add(e.data.hostname, e.data.stream, e.data.data);
      emit();
      if (first) wake?.();
    } else if (e.event === 'result') {
      streamed.add(e.data.hostname);
      log.finish(e.data.hostname);
      wake?.();
    } else if (e.event === 'skipped') {
      emit({ missed: view.missed + e.data.events });
    } else if (e.event === 'end') {
      wake?.();
    }
  };

  /** Follows the stream, resuming after the last event when the connection is cut. */
  const stream = async (open: NonNullable<FollowOptions['stream']>) => {
    emit({ live: true });
    let lastEventId: string | undefined;
    for (let failures = 0; failures < STREAM_ATTEMPTS && !ac.signal.aborted; ) {
      try {
        for await (const e of open(jobId, ac.signal, lastEventId)) {
          // Once the job is final its stored output is shown; later pieces would repeat it.
          if (ac.signal.aborted) return;
          lastEventId = e.id;
          failures = 0;
          onEvent(e);
          if (e.event === 'end') return;
        }
      } catch {
        // A cut connection; so is a stream the server closed before its end: resume either.
      }
      failures++;
    }
    // Reading the job still brings each host's output once it ends.
    if (!ac.signal.aborted) emit({ live: false });
  };

  void poll();
  if (opts.stream) void stream(opts.stream);
  return () => ac.abort();
}
