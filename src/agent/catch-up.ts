// The listener's catch-up (listener.ts) and the memory of what it has heard,
// apart from NATS so that each can be tested on its own: the stream is read
// through `nextOn`, the next stored notification on a subject from a sequence.
import type { StoredMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import type { Target } from '../job/target.js';

/**
 * The notifications heard, by `<id> <subject>` (heardKey): a job heard twice
 * on one subject (on a subscription and again in a catch-up) is handed over
 * once. By subject too: a copy sent first on another subject (refused, unless
 * addressed here) must not hide the real notification. Entries older than
 * `keepMs` are dropped (every 1024th new entry), once no catch-up can bring
 * them back.
 */
export class HeardOnce {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly keepMs: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** True the first time `key` is heard (and notes it), false after. */
  firstTime(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.set(key, this.now());
    if (this.seen.size % 1024 === 0) this.forgetOld();
    return true;
  }

  /** Forgets `key`: heard again, it is handed over again. */
  forget(key: string): void {
    this.seen.delete(key);
  }

  /** Drops the entries older than the window (they are kept in the order heard). */
  forgetOld(): void {
    const cutoff = this.now() - this.keepMs;
    for (const [key, at] of this.seen) {
      if (at >= cutoff) break;
      this.seen.delete(key);
    }
  }
}

/** The key of a notification in HeardOnce. */
export function heardKey(id: string, subject: string): string {
  return `${id} ${subject}`;
}

/** What the catch-up needs of a stored notification. */
export type StoredNotice = Pick<StoredMsg, 'seq' | 'time' | 'subject' | 'string' | 'header'>;

/** The first notification stored on `filter` at sequence `seq` or later, or null. */
export type NextOn = (filter: string, seq: number) => Promise<StoredNotice | null>;

/**
 * The sequence from which the stream holds notifications stored at `since`
 * or later: a binary search over sequences `first..last` on `all` (every
 * subject of the stream), each probe one read.
 */
export async function firstSeqSince(
  nextOn: NextOn,
  all: string,
  since: Date,
  first: number,
  last: number,
  stopped: () => boolean = () => false,
): Promise<number> {
  let lo = first;
  let hi = last + 1;
  while (lo < hi && !stopped()) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await nextOn(all, mid);
    if (!m || m.seq > last || m.time.getTime() >= since.getTime()) hi = mid;
    else lo = m.seq + 1;
  }
  return lo;
}

/** A notification read back and addressed here. */
export interface FoundNotice {
  seq: number;
  id: string;
  subject: string;
  headers: MsgHdrs | undefined;
  target: Target;
}

/**
 * Walks each of `filters` from sequence `from` to `last`, one read per
 * message, and keeps those `addressedHere` takes: in the order they were
 * sent, whichever subject each came on.
 */
export async function walkStream(
  nextOn: NextOn,
  filters: readonly string[],
  from: number,
  last: number,
  addressedHere: (subject: string) => Target | null,
  stopped: () => boolean = () => false,
): Promise<FoundNotice[]> {
  const found: FoundNotice[] = [];
  for (const filter of filters) {
    for (let seq = from; seq <= last && !stopped(); ) {
      const m = await nextOn(filter, seq);
      if (!m || m.seq > last) break;
      seq = m.seq + 1;
      const target = addressedHere(m.subject);
      if (target) {
        found.push({
          seq: m.seq,
          id: m.string().trim(),
          subject: m.subject,
          headers: m.header,
          target,
        });
      }
    }
  }
  found.sort((a, b) => a.seq - b.seq);
  return found;
}

export interface CatchUpDeps {
  /** The stream's state now. */
  streamState(): Promise<{ messages: number; first_seq: number; last_seq: number }>;
  nextOn: NextOn;
  /** The filter for every subject of the stream (the binary search). */
  allSubjects: string;
  /** This agent's own subjects. */
  filters: readonly string[];
  addressedHere(subject: string): Target | null;
  /** Whether this agent should run a job it reads back (its deadline, a broadcast's hosts). */
  worthRunning(id: string, target: Target, headers: MsgHdrs | undefined): Promise<boolean>;
  heard: HeardOnce;
  handOver(found: FoundNotice): void;
  stopped(): boolean;
}

/**
 * Reads back the notifications on this agent's own subjects stored since
 * `since` and hands over those not heard already and worth running; resolves
 * how many it handed over.
 */
export async function catchUp(since: Date, deps: CatchUpDeps): Promise<number> {
  const state = await deps.streamState();
  if (state.messages === 0) return 0;
  const from = await firstSeqSince(
    deps.nextOn,
    deps.allSubjects,
    since,
    state.first_seq,
    state.last_seq,
    deps.stopped,
  );
  const found = await walkStream(
    deps.nextOn,
    deps.filters,
    from,
    state.last_seq,
    deps.addressedHere,
    deps.stopped,
  );
  let handed = 0;
  for (const f of found) {
    const key = heardKey(f.id, f.subject);
    if (deps.stopped() || deps.heard.has(key)) continue;
    if (!(await deps.worthRunning(f.id, f.target, f.headers))) continue;
    if (deps.heard.firstTime(key)) {
      handed++;
      deps.handOver(f);
    }
  }
  return handed;
}
