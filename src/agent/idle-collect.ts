// V8 grows an agent's heap through a burst of jobs and keeps what it grew to
// until a full collection, which an idle Node process is never given (V8
// collects in idle time only where its embedder says it is idle, and Node
// does not). So an agent collects once when its jobs have stopped for a
// while: its memory after thousands of jobs comes back to about where it
// started (bench/RESULTS.md). The collection itself is V8's, exposed only to
// a process started with --expose-gc (bin/osapi-agent); elsewhere there is
// nothing to call and nothing is done.

export interface IdleCollection {
  /** Told as each job ends: the collection waits for `idleMs` without one. */
  jobEnded(): void;
  /** Full collections made so far. */
  readonly collections: number;
  stop(): void;
}

export interface IdleCollectionOptions {
  /** The full collection; undefined where the process cannot make one. */
  collect: (() => void) | undefined;
  /** Jobs running now: none may be, for the process to be idle. */
  running: () => number;
  /** How long without a job ending before the process counts as idle. */
  idleMs: number;
}

/** The V8 full collection this process may call, if it was started with --expose-gc. */
export function exposedCollection(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => gc() : undefined;
}

export function collectWhenIdle(opts: IdleCollectionOptions): IdleCollection {
  const { collect } = opts;
  let collections = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    jobEnded() {
      if (!collect || stopped) return;
      if (timer) {
        // Pushed back by each job: one collection after a burst, not one per job.
        timer.refresh();
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        // A job still running ends later and arms the timer again.
        if (opts.running() > 0) return;
        collect();
        collections++;
      }, opts.idleMs);
      timer.unref();
    },
    get collections() {
      return collections;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
