// Makes the JetStream layout (jobs stream, dead-letter stream, live output
// stream, ten KV buckets, the file store) idempotently at start. Running it again changes nothing; a setting
// that differs from what exists is updated where NATS allows, and reported as
// a conflict where it does not (storage type cannot change in place).
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { LOGIN_CODE_TTL_MS } from '../contract/session.js';
import type { Logger } from '../log/logger.js';
import {
  dlqAdvisorySubject,
  type InfraNames,
  infraNames,
  kvStream,
  type NameSettings,
  objectStream,
  outputFilter,
} from '../names/names.js';

type Storage = 'file' | 'memory';

/** How long an agent's facts outlive its last write of them. */
export const FACTS_TTL_MS = 10 * 60_000;

/** The file store's size: uploads beyond it are refused until objects are deleted. */
const FILES_MAX_BYTES = 1024 * 1024 * 1024;

/** How long the output stream holds a chunk: as long as an API server keeps an idle job's output. */
const OUTPUT_MAX_AGE_MS = 10 * 60_000;
/** The output stream's size; its oldest chunks go first. */
const OUTPUT_MAX_BYTES = 64 * 1024 * 1024;

/** The `nats.*` section of the config, durations already in milliseconds. */
export interface LayoutSettings extends NameSettings {
  stream: {
    name: string;
    subjects: string;
    max_age: number;
    max_msgs: number;
    storage: Storage;
    replicas: number;
    discard: 'old' | 'new';
  };
  kv: {
    bucket: string;
    response_bucket: string;
    ttl: number;
    max_bytes: number;
    storage: Storage;
    replicas: number;
  };
  audit: {
    bucket: string;
    ttl: number;
    max_bytes: number;
    /** Size of the bucket of entries without a valid token (names.unauthenticatedAuditBucket). */
    unauthenticated_max_bytes: number;
    storage: Storage;
    replicas: number;
  };
  registry: { bucket: string; ttl: number; storage: Storage; replicas: number };
  dlq: { max_age: number; max_msgs: number; storage: Storage; replicas: number };
}

export type LayoutAction = 'created' | 'unchanged' | 'updated';

export interface LayoutItem {
  /** The JetStream stream name (a KV bucket's stream is `KV_<bucket>`). */
  stream: string;
  kind: 'stream' | 'kv';
  action: LayoutAction;
  /** Settings changed in place, e.g. `max_age: 3600000 ms → 7200000 ms`. */
  changes: string[];
  /** Settings that differ but that NATS cannot change in place. */
  conflicts: string[];
}

export interface LayoutReport {
  names: InfraNames;
  items: LayoutItem[];
}

export async function ensureLayout(nc: NatsConnection, s: LayoutSettings): Promise<LayoutReport> {
  const names = infraNames(s);
  const jsm = await jetstreamManager(nc);
  const items: LayoutItem[] = [];

  items.push(
    await ensureStream(jsm, {
      name: names.stream,
      subjects: [names.streamSubjects],
      retention: RetentionPolicy.Limits,
      max_age: nanos(s.stream.max_age),
      max_msgs: s.stream.max_msgs,
      storage: storageType(s.stream.storage),
      num_replicas: s.stream.replicas,
      discard: s.stream.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
    }),
  );
  items.push(
    await ensureStream(jsm, {
      name: names.dlqStream,
      subjects: [dlqAdvisorySubject(names)],
      retention: RetentionPolicy.Limits,
      max_age: nanos(s.dlq.max_age),
      max_msgs: s.dlq.max_msgs,
      storage: storageType(s.dlq.storage),
      num_replicas: s.dlq.replicas,
      discard: DiscardPolicy.Old,
    }),
  );
  // Live output: a few minutes in memory, the oldest dropped first; what a
  // job printed is kept whole in its stored result, not here.
  items.push(
    await ensureStream(jsm, {
      name: names.outputStream,
      subjects: [outputFilter(names)],
      retention: RetentionPolicy.Limits,
      max_age: nanos(OUTPUT_MAX_AGE_MS),
      max_bytes: OUTPUT_MAX_BYTES,
      storage: StorageType.Memory,
      num_replicas: s.stream.replicas,
      discard: DiscardPolicy.Old,
    }),
  );

  const kvm = new Kvm(nc);
  const buckets: BucketSettings[] = [
    { ...s.kv, bucket: names.jobsBucket },
    { ...s.kv, bucket: names.responsesBucket },
    // Authenticated entries keep what they hold: when the bucket is full a new
    // entry is refused (KV's own discard policy), so nobody with a token can
    // push older evidence out; the refusal is logged and counted.
    { ...s.audit, bucket: names.auditBucket },
    // Anyone can make an unauthenticated entry: a flood of them only pushes
    // out older ones of its own kind, in a bucket of its own, and never
    // takes the room of the authenticated entries above.
    {
      ...s.audit,
      max_bytes: s.audit.unauthenticated_max_bytes,
      discard: 'old',
      bucket: names.unauthenticatedAuditBucket,
    },
    { max_bytes: -1, ...s.registry, bucket: names.registryBucket },
    // Agents write their facts every agent.facts.interval (at most 5 min)
    // and again at least every 3 min; an agent gone leaves them to expire.
    {
      bucket: names.factsBucket,
      ttl: FACTS_TTL_MS,
      max_bytes: 256 * 1024 * 1024,
      storage: s.registry.storage,
      replicas: s.registry.replicas,
    },
    // What operators asked of agents (drained or not): kept until changed.
    {
      bucket: names.agentStateBucket,
      ttl: 0,
      max_bytes: 64 * 1024 * 1024,
      storage: s.registry.storage,
      replicas: s.registry.replicas,
    },
    // Which key each agent was accepted or rejected with: kept until changed.
    {
      bucket: names.enrollmentBucket,
      ttl: 0,
      max_bytes: 64 * 1024 * 1024,
      storage: s.registry.storage,
      replicas: s.registry.replicas,
    },
    // A code lives as long as it may wait to be used; the bucket stays small
    // (the API refuses codes past MAX_OUTSTANDING_LOGIN_CODES long before).
    {
      bucket: names.loginCodesBucket,
      ttl: LOGIN_CODE_TTL_MS,
      max_bytes: 4 * 1024 * 1024,
      storage: s.kv.storage,
      replicas: s.kv.replicas,
    },
  ];
  // What each agent deployed (file.deploy), until it undeploys it.
  buckets.push({
    bucket: names.deploymentsBucket,
    ttl: 0,
    max_bytes: 256 * 1024 * 1024,
    storage: s.registry.storage,
    replicas: s.registry.replicas,
  });
  for (const b of buckets) {
    items.push(await ensureBucket(jsm, kvm, b));
  }
  items.push(
    await ensureObjectStore(jsm, nc, {
      bucket: names.filesBucket,
      max_bytes: FILES_MAX_BYTES,
      storage: s.registry.storage,
      replicas: s.registry.replicas,
    }),
  );
  return { names, items };
}

/**
 * Errors JetStream gives while it is still starting: a cluster electing its
 * metadata leader, or placing a replicated stream before every peer joined.
 */
const STARTING =
  /timeout|no responders|temporarily unavailable|no suitable peers|insufficient resources|leader/i;

/**
 * ensureLayout, tried again while JetStream is still starting (a fresh
 * cluster takes a few seconds to elect a leader), within a bound. Any other
 * error, or the bound, ends it with the last error.
 */
export async function ensureLayoutWhenReady(
  nc: NatsConnection,
  s: LayoutSettings,
  opts: { logger: Logger; withinMs?: number; signal?: AbortSignal },
): Promise<LayoutReport> {
  const end = Date.now() + (opts.withinMs ?? 60_000);
  let delay = 250;
  for (;;) {
    try {
      return await ensureLayout(nc, s);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!STARTING.test(message) || Date.now() + delay > end || opts.signal?.aborted) throw err;
      opts.logger.warn({ err: message }, 'JetStream is not ready yet; trying the layout again');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/** JetStream durations are nanoseconds; config durations are milliseconds. */
function nanos(ms: number): number {
  return ms * 1_000_000;
}

function storageType(s: Storage): StorageType {
  return s === 'memory' ? StorageType.Memory : StorageType.File;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.status === 404) return null;
    throw err;
  }
}

type Wanted = Pick<
  StreamConfig,
  'max_age' | 'max_msgs' | 'max_bytes' | 'num_replicas' | 'discard' | 'storage'
>;

/** Compares what exists with what config asks; splits mutable from immutable. */
function diff(
  have: StreamConfig,
  want: Partial<Wanted>,
): { update: Partial<StreamConfig>; changes: string[]; conflicts: string[] } {
  const update: Partial<StreamConfig> = {};
  const changes: string[] = [];
  const conflicts: string[] = [];
  const mutable = ['max_age', 'max_msgs', 'max_bytes', 'num_replicas', 'discard'] as const;
  for (const key of mutable) {
    const w = want[key];
    if (w === undefined || have[key] === w) continue;
    (update as Record<string, unknown>)[key] = w;
    changes.push(`${key}: ${describe(key, have[key])} → ${describe(key, w)}`);
  }
  if (want.storage !== undefined && have.storage !== want.storage) {
    conflicts.push(
      `storage is ${have.storage} but config asks ${want.storage}; NATS cannot change it in place (back up and delete the stream to apply it)`,
    );
  }
  return { update, changes, conflicts };
}

function describe(key: string, v: unknown): string {
  return key === 'max_age' && typeof v === 'number' ? `${Math.round(v / 1e6)} ms` : String(v);
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<LayoutItem> {
  const have = await streamInfo(jsm, cfg.name);
  if (!have) {
    await jsm.streams.add(cfg);
    return { stream: cfg.name, kind: 'stream', action: 'created', changes: [], conflicts: [] };
  }
  const { update, changes, conflicts } = diff(have.config, cfg);
  const subjectsDiffer = have.config.subjects?.join(',') !== cfg.subjects.join(',');
  if (subjectsDiffer) {
    (update as Record<string, unknown>).subjects = cfg.subjects;
    changes.push(`subjects: ${have.config.subjects?.join(',')} → ${cfg.subjects.join(',')}`);
  }
  if (changes.length > 0) await jsm.streams.update(cfg.name, { ...have.config, ...update });
  return {
    stream: cfg.name,
    kind: 'stream',
    action: changes.length > 0 ? 'updated' : 'unchanged',
    changes,
    conflicts,
  };
}

/** The file store: made when absent; its settings are otherwise left as they are. */
async function ensureObjectStore(
  jsm: JetStreamManager,
  nc: NatsConnection,
  b: { bucket: string; max_bytes: number; storage: Storage; replicas: number },
): Promise<LayoutItem> {
  const stream = objectStream(b.bucket);
  const have = await streamInfo(jsm, stream);
  if (!have) {
    await new Objm(nc).create(b.bucket, {
      max_bytes: b.max_bytes,
      storage: storageType(b.storage),
      replicas: b.replicas,
    });
  }
  return {
    stream,
    kind: 'stream',
    action: have ? 'unchanged' : 'created',
    changes: [],
    conflicts: [],
  };
}

interface BucketSettings {
  bucket: string;
  ttl: number;
  max_bytes: number;
  storage: Storage;
  replicas: number;
  /** When full: drop the oldest entries, or refuse new ones. Unset: the KV client's own choice (new). */
  discard?: 'old' | 'new';
}

async function ensureBucket(
  jsm: JetStreamManager,
  kvm: Kvm,
  b: BucketSettings,
): Promise<LayoutItem> {
  const stream = kvStream(b.bucket);
  const have = await streamInfo(jsm, stream);
  const discard =
    b.discard === undefined
      ? undefined
      : b.discard === 'new'
        ? DiscardPolicy.New
        : DiscardPolicy.Old;
  if (!have) {
    await kvm.create(b.bucket, {
      history: 1,
      ttl: b.ttl,
      max_bytes: b.max_bytes,
      storage: storageType(b.storage),
      replicas: b.replicas,
    });
    // The KV client offers no discard option: set it right after, before
    // anything is written.
    if (discard !== undefined) {
      const made = await jsm.streams.info(stream);
      if (made.config.discard !== discard) {
        await jsm.streams.update(stream, { ...made.config, discard });
      }
    }
    return { stream, kind: 'kv', action: 'created', changes: [], conflicts: [] };
  }
  const { update, changes, conflicts } = diff(have.config, {
    max_age: nanos(b.ttl),
    max_bytes: b.max_bytes,
    num_replicas: b.replicas,
    storage: storageType(b.storage),
    ...(discard === undefined ? {} : { discard }),
  });
  if (changes.length > 0) await jsm.streams.update(stream, { ...have.config, ...update });
  return {
    stream,
    kind: 'kv',
    action: changes.length > 0 ? 'updated' : 'unchanged',
    changes,
    conflicts,
  };
}
