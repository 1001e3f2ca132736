// The audit log writer: entries go to the audit-log bucket off the request's
// hot path, through a queue that retries a failed write, logs it and counts
// it, so an entry is never lost in silence. `writeNow` serves the
// `audit.required` mode, where a request waits for its entry.
import type { KV } from '@nats-io/kv';
import { AUDIT_FILTER, auditIdFromKey, auditKey } from '../../job/names.js';
import type { Logger } from '../../log/logger.js';
import { waitAtMost } from '../../wait-at-most.js';
import type { AuditEntry } from './schemas.js';

export interface AuditLogOptions {
  kv: KV;
  logger: Logger;
  /** Called once per entry given up on after every retry. */
  onWriteFailure?: () => void;
  /** Delays before each retry; default 100 ms, 500 ms, 2 s. */
  retryDelaysMs?: number[];
  /** Entries waiting beyond this are refused, logged and counted. */
  maxQueued?: number;
}

export class AuditLog {
  readonly #kv: KV;
  readonly #log: Logger;
  readonly #onFailure: () => void;
  readonly #delays: number[];
  readonly #max: number;
  readonly #queue: AuditEntry[] = [];
  #draining: Promise<void> | null = null;
  #failures = 0;

  constructor(opts: AuditLogOptions) {
    this.#kv = opts.kv;
    this.#log = opts.logger.child({ component: 'audit' });
    this.#onFailure = opts.onWriteFailure ?? (() => {});
    this.#delays = opts.retryDelaysMs ?? [100, 500, 2000];
    this.#max = opts.maxQueued ?? 10_000;
  }

  /** Entries given up on since start. */
  get failures(): number {
    return this.#failures;
  }

  /** Queues an entry; returns at once. */
  enqueue(entry: AuditEntry): void {
    if (this.#queue.length >= this.#max) {
      this.#fail(entry, new Error(`audit queue full (${this.#max} entries waiting)`));
      return;
    }
    this.#queue.push(entry);
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  /** Writes one entry now, once; throws when it cannot. */
  async writeNow(entry: AuditEntry): Promise<void> {
    await this.#kv.put(auditKey(entry.id), JSON.stringify(entry));
  }

  /** Waits for the queue to empty, at most `withinMs`. */
  async flush(withinMs = 3000): Promise<void> {
    await waitAtMost(this.#draining ?? Promise.resolve(), withinMs);
  }

  async #drain(): Promise<void> {
    for (let entry = this.#queue.shift(); entry; entry = this.#queue.shift()) {
      await this.#writeWithRetries(entry);
    }
  }

  async #writeWithRetries(entry: AuditEntry): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.writeNow(entry);
        return;
      } catch (err) {
        const delay = this.#delays[attempt];
        if (delay === undefined) {
          this.#fail(entry, err);
          return;
        }
        this.#log.warn(
          { audit_id: entry.id, attempt: attempt + 1, err: String(err) },
          'audit write failed; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  #fail(entry: AuditEntry, err: unknown): void {
    this.#failures++;
    this.#onFailure();
    // The entry itself goes to the log, so the record survives somewhere.
    this.#log.error(
      { audit_entry: entry, err: String(err) },
      'audit entry could not be written to NATS; it is in this log line only. Check the NATS server and the audit-log bucket.',
    );
  }
}

/** Audit entries newest first: keys are time-ordered ids, so no entry is read to sort. */
export async function auditIds(kv: KV): Promise<string[]> {
  const ids: string[] = [];
  for await (const k of await kv.keys(AUDIT_FILTER)) {
    const id = auditIdFromKey(k);
    if (id) ids.push(id);
  }
  return ids.sort().reverse();
}

export async function readAuditEntry(kv: KV, id: string): Promise<AuditEntry | null> {
  const e = await kv.get(auditKey(id));
  return e?.operation === 'PUT' ? (e.json() as AuditEntry) : null;
}
