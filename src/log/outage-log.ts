// What an agent or the API server says while NATS fails it. When a cluster
// loses a node, every write and read of every agent (and many requests to the
// API) may time out for seconds, and each retry logging a warning made tens of
// thousands of lines for one failover. Here
// the first failure of an outage is the one warning and the retries that
// follow are debug lines. During an election things work and fail by turns,
// so an outage ends only once nothing has failed for QUIET_MS; the first
// success after that says, once, that NATS works again and for how long it
// did not.
import type { Logger } from './logger.js';

/** How long without a failure ends an outage. */
export const QUIET_MS = 30_000;

export class OutageLog {
  private failingSince: number | null = null;
  private lastFailure = 0;
  private failures = 0;
  /** A failure came after the last success: whoever waits to retry may go now. */
  private failedSinceSuccess = false;
  private readonly recoveryListeners = new Set<() => void>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an outage is going on: a failure, and not yet QUIET_MS without one. */
  get failing(): boolean {
    return this.failingSince !== null;
  }

  /** Something that needs NATS failed and will be tried again. */
  failed(what: string, err: unknown, fields: Record<string, unknown> = {}): void {
    this.failures++;
    this.lastFailure = this.now();
    this.failedSinceSuccess = true;
    if (this.failingSince !== null) {
      this.log.debug({ ...fields, err: String(err) }, what);
      return;
    }
    this.failingSince = this.lastFailure;
    this.log.warn(
      { ...fields, err: String(err) },
      `${what}; NATS is unreachable or its cluster is electing a leader: retrying, quietly until it works again`,
    );
  }

  /** An outage another part has warned of already (the connection's "disconnected"): no second warning. */
  toldElsewhere(): void {
    this.lastFailure = this.now();
    this.failingSince ??= this.lastFailure;
    this.failedSinceSuccess = true;
  }

  /** Calls `fn` at each success that follows failures; the returned function stops that. */
  onRecovery(fn: () => void): () => void {
    this.recoveryListeners.add(fn);
    return () => this.recoveryListeners.delete(fn);
  }

  /**
   * Something that needs NATS worked. True when something had failed since
   * the previous success: what waits to be retried is told to go now.
   */
  worked(): boolean {
    const recovered = this.failedSinceSuccess;
    this.failedSinceSuccess = false;
    if (recovered) for (const fn of this.recoveryListeners) fn();
    if (this.failingSince !== null && this.now() - this.lastFailure >= QUIET_MS) {
      const seconds = Math.round((this.lastFailure - this.failingSince) / 100) / 10;
      this.log.info(
        { outage_s: seconds, failures: this.failures },
        `NATS works again; it failed for ${seconds} s (${this.failures} failed attempts retried)`,
      );
      this.failingSince = null;
      this.failures = 0;
    }
    return recovered;
  }
}
