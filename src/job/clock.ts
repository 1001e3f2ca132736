// Time as the job protocol sees it, passed in so tests can hold it still.
export interface Clock {
  now(): Date;
  /** Unix time in nanoseconds, strictly increasing within this process. */
  nanos(): bigint;
}

let last = 0n;

export const systemClock: Clock = {
  now: () => new Date(),
  nanos: () => {
    // Date.now() has millisecond grain; status keys need a unique, ordered
    // suffix, so never hand out the same value twice.
    const n = BigInt(Date.now()) * 1_000_000n;
    last = n > last ? n : last + 1n;
    return last;
  },
};

/**
 * The clock's time in milliseconds: without a Date made for it where the
 * clock is the system's (a scan of every job reads it once a job).
 */
export function nowMs(clock: Clock): number {
  return clock === systemClock ? Date.now() : clock.now().getTime();
}
