// Steady load for the fault suite: a few workers sending command requests in
// a loop (async ones, whose job goes on without the caller, and waiting ones)
// until told to stop, keeping every request that was accepted (2xx).
import type { Accepted, Fleet } from './fleet.js';

export interface LoadRun {
  /** Every request answered 2xx, with the tag its command appends. */
  accepted: Accepted[];
  /** Requests answered otherwise (NATS away, API away): not accepted, so not counted. */
  refused: number;
  /** The last few refusals, for a failure message. */
  lastRefusals: string[];
  /** How many refusals had each HTTP status (0: no answer at all). */
  refusedByStatus: Map<number, number>;
  stop(): Promise<void>;
}

export function startLoad(
  fleet: Fleet,
  opts: { prefix: string; workers: number; targets: string[]; sleep?: string },
): LoadRun {
  const run: LoadRun = {
    accepted: [],
    refused: 0,
    lastRefusals: [],
    refusedByStatus: new Map(),
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
  let stopped = false;
  let n = 0;
  const worker = async (w: number) => {
    while (!stopped) {
      const i = n++;
      const tag = `${opts.prefix}-${i}`;
      const target = opts.targets[i % opts.targets.length] as string;
      // Every third request waits for its answer; the rest return at once.
      const wait = i % 3 === 0;
      const r = await fleet.request(
        'POST',
        `/node/${target}/command/shell${wait ? '' : '?async=true'}`,
        { command: fleet.countedCommand(tag, opts.sleep ?? 'sleep 0.2'), timeout: 30 },
      );
      if (r.status >= 200 && r.status < 300 && r.body?.job_id) {
        run.accepted.push({ tag, jobId: r.body.job_id });
      } else {
        run.refused++;
        run.refusedByStatus.set(r.status, (run.refusedByStatus.get(r.status) ?? 0) + 1);
        run.lastRefusals.push(
          `${target}: ${r.status} ${r.error ?? JSON.stringify(r.body)}`.slice(0, 300),
        );
        if (run.lastRefusals.length > 5) run.lastRefusals.shift();
        // Do not spin while the far side is away.
        await new Promise((res) => setTimeout(res, 100 + w * 10));
      }
    }
  };
  const workers = Array.from({ length: opts.workers }, (_, w) => worker(w));
  return run;
}
