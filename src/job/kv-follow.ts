// Follows the keys of a KV bucket live, through an ordered pull consumer on
// the bucket's stream, for the API's views (registry, jobs, results).
//
// Not kv.watch(): its ordered push consumer has an idle heartbeat fixed at
// 30 s, and it notices a lost consumer only after two missed heartbeats. On
// a cluster, when the node holding that consumer dies, a view would stay as
// it was for a minute or more: no agent Ready, no result heard. Here a lost
// consumer (deleted, not found, or silent for two heartbeats of EXPIRES_MS / 2)
// ends the follow, and it starts again at once from the next revision, on a
// fresh consumer: the client's own reset of an ordered consumer was measured
// to take seconds more, and to pull one message at a time afterwards.
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import type { Logger } from '../log/logger.js';
import { KV_OPERATION_HEADER, kvStream, kvSubject } from '../nats/subjects.js';

/** Where a follow reads: a bucket, through a JetStream client. */
export interface KvSource {
  js: JetStreamClient;
  bucket: string;
}

export interface KvChange {
  key: string;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
  headers: MsgHdrs | undefined;
  /** When the server stored it. */
  created: Date;
}

export interface KvFollowOptions {
  /** The keys to follow, as a KV key filter (`>` for all). */
  keys: string;
  /** `last`: each key's last value, then every change; `updates`: changes from now on. */
  from: 'last' | 'updates';
  /** Values are left out (headers carry what the follower needs). */
  headersOnly?: boolean;
  logger: Logger;
}

export interface KvFollow {
  /** Resolves once what the bucket held at the start was delivered. */
  readonly loaded: Promise<void>;
  stop(): void;
}

/** A pull waits this long; the server heartbeats at half of it, and two missed mean a new consumer. */
const EXPIRES_MS = 5_000;
/** The longest wait between two tries to follow again while NATS cannot answer. */
const RETRY_MAX_MS = 5_000;
/** What the client reports when the consumer behind a follow is gone or silent. */
const LOST = new Set(['consumer_deleted', 'consumer_not_found', 'heartbeats_missed']);

export async function followKv(
  source: KvSource,
  opts: KvFollowOptions,
  on: (change: KvChange) => void,
): Promise<KvFollow> {
  const stream = kvStream(source.bucket);
  const prefix = kvSubject(source.bucket, '');
  let lastSeq = 0;
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  let markLoaded!: () => void;
  const loaded = new Promise<void>((r) => {
    markLoaded = r;
  });

  const open = async (): Promise<ConsumerMessages> => {
    const consumer = await source.js.consumers.get(stream, {
      filter_subjects: kvSubject(source.bucket, opts.keys),
      ...(lastSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 }
        : {
            deliver_policy: opts.from === 'last' ? DeliverPolicy.LastPerSubject : DeliverPolicy.New,
          }),
      ...(opts.headersOnly ? { headers_only: true } : {}),
    });
    const m = await consumer.consume({ expires: EXPIRES_MS });
    if (opts.from === 'updates' || (await consumer.info(true)).num_pending === 0) markLoaded();
    return m;
  };

  const deliver = (m: JsMsg) => {
    lastSeq = m.seq;
    const op = m.headers?.get(KV_OPERATION_HEADER);
    on({
      key: m.subject.slice(prefix.length),
      operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
      value: m.data,
      headers: m.headers,
      created: new Date(m.info.timestampNanos / 1e6),
    });
    if (m.info.pending === 0) markLoaded();
  };

  /** Ends the follow as soon as the client reports its consumer lost. */
  const endWhenLost = (m: ConsumerMessages) => {
    void (async () => {
      for await (const s of m.status()) {
        if (LOST.has(s.type)) {
          m.stop();
          return;
        }
      }
    })();
  };

  const run = async (first: ConsumerMessages) => {
    let current: ConsumerMessages | undefined = first;
    let attempt = 0;
    while (!stopped) {
      if (current) {
        messages = current;
        attempt = 0;
        endWhenLost(current);
        try {
          for await (const m of current) deliver(m);
        } catch {
          // Ended by the client: followed again below, from the next revision.
        }
        if (stopped) return;
        opts.logger.warn(
          { bucket: source.bucket },
          'the follow of a bucket was cut; following it again from where it was',
        );
      }
      // At once the first time; then backing off while NATS cannot answer.
      if (attempt > 0) {
        const ms = Math.min(RETRY_MAX_MS, 250 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, ms).unref());
      }
      attempt++;
      if (stopped) return;
      current = await open().catch((err: unknown) => {
        if (attempt === 1) {
          opts.logger.warn(
            { bucket: source.bucket, err: String(err) },
            'could not follow the bucket yet; trying again',
          );
        }
        return undefined;
      });
      if (stopped) current?.stop();
    }
  };

  void run(await open());
  return {
    loaded,
    stop() {
      stopped = true;
      messages?.stop();
    },
  };
}
