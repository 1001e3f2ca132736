// What an agent says while NATS fails it. When a cluster loses a node, every
// write and read of every agent may time out for seconds, and each retry
// logging a warning made tens of thousands of lines for one failover. Here
// the first failure of an outage is the one warning, the retries that follow
// are debug lines, and the first success after them says, once, that NATS
// works again and how long it did not.
import type { Logger } from '../log/logger.js';

export class OutageLog {
  private failingSince: number | null = null;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an outage is going on: a failure not yet followed by a success. */
  get failing(): boolean {
    return this.failingSince !== null;
  }

  /** Something that needs NATS failed and will be tried again. */
  failed(what: string, err: unknown, fields: Record<string, unknown> = {}): void {
    this.failures++;
    if (this.failingSince !== null) {
      this.log.debug({ ...fields, err: String(err) }, what);
      return;
    }
    this.failingSince = this.now();
    this.log.warn(
      { ...fields, err: String(err) },
      `${what}; NATS is unreachable or its cluster is electing a leader: retrying, quietly until it works again`,
    );
  }

  /** Something that needs NATS worked: ends an outage, if one was going on. */
  worked(): void {
    if (this.failingSince === null) return;
    const seconds = Math.round((this.now() - this.failingSince) / 100) / 10;
    this.log.info(
      { outage_s: seconds, failures: this.failures },
      `NATS works again after ${seconds} s (${this.failures} failed attempts retried)`,
    );
    this.failingSince = null;
    this.failures = 0;
  }
}
