// Follows the keys of a KV bucket live, through an ordered pull consumer on
// the bucket's stream, for the API's views (registry, jobs, results).
//
// Not kv.watch(): its ordered push consumer has an idle heartbeat fixed at
// 30 s, and it notices a lost consumer only after two missed heartbeats. On
// a cluster, when the node holding that consumer dies, a view would stay as
// it was for a minute or more: no agent Ready, no result heard. Nor the
// client's ordered consumer: its own reset was measured to take seconds, to
// pull one message at a time afterwards, and to make consumers of its own
// that outlive the follow. Here each follow makes a plain consumer, without
// acks, named by the follow, and checks its delivery sequence itself. The
// follow is cut, its consumer deleted, and it starts again at once from the
// next revision on a fresh consumer, when:
// - the client reports the consumer deleted, not found, or silent for two
//   heartbeats (EXPIRES_MS / 2 each), or a delivery is missing;
// - the connection comes back after a break: the consumer may have lived on
//   the node that is gone, and the client, checking it again, would wait on
//   that node for as long as it is down, with its heartbeat check stopped.
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { type MsgHdrs, type NatsConnection, nanos, nuid } from '@nats-io/transport-node';
import type { Logger } from '../log/logger.js';
import { KV_OPERATION_HEADER, kvStream, kvSubject } from '../names/names.js';

/** Where a follow reads: a bucket, through a connection and its JetStream client. */
export interface KvSource {
  nc: NatsConnection;
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
  /** Its revision (the stream sequence), for a write conditional on it. */
  revision: number;
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
  /**
   * Since when the follow has gone on without a break; null while it is cut
   * (its consumer lost, NATS away). What was written meanwhile comes when it
   * goes on, so until then silence says nothing about the bucket.
   */
  readonly followingSince: Date | null;
  stop(): void;
}

/** A pull waits this long; the server heartbeats at half of it. */
const EXPIRES_MS = 5_000;
/** The longest wait between two tries to follow again while NATS cannot answer. */
const RETRY_MAX_MS = 5_000;
/** What the client reports when the consumer behind a follow is gone or silent. */
const LOST = new Set(['consumer_deleted', 'consumer_not_found', 'heartbeats_missed']);

/** Left on the server this long when a follow could not delete it (its node was away). */
const INACTIVE_MS = 60_000;

interface Opened {
  name: string;
  messages: ConsumerMessages;
  /** The delivery sequence of the last message handed on. */
  delivered: number;
}

export async function followKv(
  source: KvSource,
  opts: KvFollowOptions,
  on: (change: KvChange) => void,
): Promise<KvFollow> {
  const prefix = kvSubject(source.bucket, '');
  return followStream(
    {
      nc: source.nc,
      js: source.js,
      stream: kvStream(source.bucket),
      filter: kvSubject(source.bucket, opts.keys),
      label: { bucket: source.bucket },
    },
    opts,
    (m) => {
      const op = m.headers?.get(KV_OPERATION_HEADER);
      on({
        key: m.subject.slice(prefix.length),
        operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
        value: m.data,
        headers: m.headers,
        created: new Date(m.info.timestampNanos / 1e6),
        revision: m.seq,
      });
    },
  );
}

/** Where a stream follow reads: one stream, one filter subject. */
export interface StreamSource {
  nc: NatsConnection;
  js: JetStreamClient;
  stream: string;
  filter: string;
  /** Fields that name what is followed in log lines, e.g. { bucket }. */
  label: Record<string, string>;
}

/**
 * Follows the messages of a stream under one filter subject, in stream
 * order, as followKv does a bucket (the same consumer, cut and resumed the
 * same way): `last` starts from each subject's last message, `updates` from
 * what comes next.
 */
export async function followStream(
  source: StreamSource,
  opts: Omit<KvFollowOptions, 'keys'>,
  on: (message: JsMsg) => void,
): Promise<KvFollow> {
  const stream = source.stream;
  const log = opts.logger;
  /** The stream sequence the follow has reached; null until a first consumer said where it began. */
  let lastSeq: number | null = null;
  let stopped = false;
  let current: Opened | undefined;
  let followingSince: Date | null = null;
  let markLoaded!: () => void;
  const loaded = new Promise<void>((r) => {
    markLoaded = r;
  });

  // The caller's client has reached JetStream already: no check of the API first.
  const jsm = await source.js.jetstreamManager(false);
  const namePrefix = `osapi_follow_${nuid.next()}`;
  let serial = 0;

  const open = async (): Promise<Opened> => {
    const name = `${namePrefix}_${++serial}`;
    const info = await jsm.consumers.add(stream, {
      name,
      ack_policy: AckPolicy.None,
      filter_subject: source.filter,
      ...(lastSeq !== null
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 }
        : {
            deliver_policy: opts.from === 'last' ? DeliverPolicy.LastPerSubject : DeliverPolicy.New,
          }),
      ...(opts.headersOnly ? { headers_only: true } : {}),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(INACTIVE_MS),
    });
    // From `updates`, a follow cut before its first change must go on from
    // where this one began (0 on an empty stream), not from whatever is new
    // by then. From `last`, a follow cut before its first change takes each
    // key's last value again, which is as good.
    if (lastSeq === null && opts.from === 'updates') lastSeq = info.delivered.stream_seq;
    if (opts.from === 'updates' || info.num_pending === 0) markLoaded();
    try {
      const consumer = await source.js.consumers.get(stream, name);
      const messages = await consumer.consume({ expires: EXPIRES_MS });
      return { name, messages, delivered: 0 };
    } catch (err) {
      jsm.consumers.delete(stream, name).catch(() => false);
      throw err;
    }
  };

  const deliver = (m: JsMsg) => {
    lastSeq = m.seq;
    on(m);
    if (m.info.pending === 0) markLoaded();
  };

  /** Ends the follow (the consumer too, where its node can still answer). */
  const cut = (o: Opened) => {
    if (o === current) followingSince = null;
    o.messages.stop();
    jsm.consumers.delete(stream, o.name).catch(() => false);
  };

  /** Cuts the follow as soon as the client reports its consumer lost. */
  const cutWhenLost = (o: Opened) => {
    void (async () => {
      for await (const s of o.messages.status()) {
        // An idle heartbeat: nothing is left to deliver (entries counted at
        // the start may have expired since, and will never come).
        if (s.type === 'heartbeat') markLoaded();
        if (LOST.has(s.type)) {
          cut(o);
          return;
        }
      }
    })();
  };

  // Back after a break: whatever the consumer's node, follow again.
  void (async () => {
    for await (const s of source.nc.status()) {
      if (stopped) return;
      if (s.type === 'reconnect' && current) cut(current);
    }
  })();

  const run = async (first: Opened) => {
    let o: Opened | undefined = first;
    let attempt = 0;
    while (!stopped) {
      if (o) {
        current = o;
        followingSince = new Date();
        attempt = 0;
        cutWhenLost(o);
        try {
          for await (const m of o.messages) {
            // Without acks nothing is sent again: a gap (a pull answered
            // while the connection was away) means following again.
            if (m.info.deliverySequence !== o.delivered + 1) break;
            o.delivered = m.info.deliverySequence;
            deliver(m);
          }
        } catch {
          // Ended by the client: followed again below, from the next revision.
        }
        if (stopped) return;
        cut(o);
        log.warn(
          source.label,
          'the follow of a stream was cut; following it again from where it was',
        );
      }
      // At once the first time; then backing off while NATS cannot answer.
      if (attempt > 0) {
        const ms = Math.min(RETRY_MAX_MS, 250 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, ms).unref());
      }
      attempt++;
      if (stopped) return;
      o = await open().catch((err: unknown) => {
        if (attempt === 1) {
          log.warn(
            { ...source.label, err: String(err) },
            'could not follow the stream yet; trying again',
          );
        }
        return undefined;
      });
      if (o && attempt > 1) log.info(source.label, 'following the stream again');
      if (stopped && o) cut(o);
    }
  };

  void run(await open());
  return {
    loaded,
    get followingSince() {
      return followingSince;
    },
    stop() {
      stopped = true;
      if (current) cut(current);
    },
  };
}
