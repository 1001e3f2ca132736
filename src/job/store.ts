// The job client shared by the API and the agent: writes job definitions,
// append-only status events, claims and results to KV, and publishes the
// notification for a target. Spells no names itself: see names.ts.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { errors, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { type HostFacts, HostFacts as HostFactsSchema } from '../contract/facts.js';
import { type OperationType, operationCategory } from '../contract/operations.js';
import type { Logger } from '../log/logger.js';
import {
  API_EVENT_HOST,
  cancelKey,
  claimFilter,
  claimKey,
  controlSubject,
  EXPECTED_DEFLATED_HEADER,
  EXPECTED_HEADER,
  expectedKey,
  factsKey,
  GO_HEADER,
  hostFromToken,
  hostnameOfFactsKey,
  hostToken,
  type InfraNames,
  JOB_HEADER,
  jobIdFromRolloutKey,
  jobKey,
  KV_OPERATION_HEADER,
  kvStream,
  kvSubject,
  notifySubject,
  parseResponseKey,
  parseStatusKey,
  RESULT_ERROR_HEADER,
  RESULT_STATE_HEADER,
  ROLLOUT_FILTER,
  registryKey,
  responseFilter,
  responseKey,
  rolloutKey,
  type StatusEvent,
  statusFilter,
  statusKey,
} from '../names/names.js';
import { isWrongLastSequence } from '../nats/errors.js';
import { traceHeaders } from '../trace/tracing.js';
import type { Clock } from './clock.js';
import { newTimeOrderedId } from './ids.js';
import { followKv, type KvFollow } from './kv-follow.js';
import {
  type AgentStateRecord,
  type EnrollmentRecord,
  type FinalHostState,
  finalStateOf,
  type JobRecord,
  type JobResponse,
  parseAgentState,
  parseEnrollment,
  parseExpectedHosts,
  parseJobRecord,
  parseJobResponse,
  parseRolloutProgress,
  parseStatusEvent,
  RecordError,
  type RolloutProgress,
  recordParser,
  type StatusEventRecord,
} from './records.js';
import {
  type ResultSigner,
  type ResultTrust,
  resultDistrust,
  signResult,
} from './result-signing.js';
import { encodeResponse, resultBudget } from './result-size.js';
import { expectedDigest, type JobSigner } from './signing.js';
import { formatTarget, isBroadcast, routeOf, type Target } from './target.js';

export interface JobStore {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: InfraNames;
  readonly clock: Clock;
  /** Signs job definitions; only the API holds one (signing.ts). */
  readonly signer?: JobSigner;
  /** Signs the results this process stores (result-signing.ts): an agent's key, or the API's. */
  readonly resultSigner?: ResultSigner;
  /** Which results to believe (the API's): read results not signed as it says are left out. */
  readonly trust?: ResultTrust;
}

/** The buckets behind a store. Only this module reads or writes them: every key is spelled here. */
interface Buckets {
  readonly jobs: KV;
  readonly responses: KV;
  readonly registry: KV;
  readonly facts: KV;
  readonly agentState: KV;
  readonly enrollment: KV;
  /** JetStream with a short request timeout, for the consumers made to read a job's results. */
  readonly quick: JetStreamClient;
  /** The JetStream manager, for reads of a result with its headers. */
  readonly manager: () => Promise<JetStreamManager>;
}

/**
 * How long the server may take to make a short-lived consumer. It takes
 * milliseconds; a request that gets no answer went to a cluster node that is
 * gone (see retryOnTimeout), and the default 5 s per try, three tries, made
 * each GET /job/{id} wait 15 s after a node was lost.
 */
const CONSUMER_MAKE_TIMEOUT_MS = 2_000;

/** How long one fetch of a job's results waits for messages it was told of. */
const FETCH_EXPIRES_MS = 2_000;

const BUCKETS = new WeakMap<JobStore, Buckets>();

/** `make` called on first use only, its promise kept. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= make();
    return p;
  };
}

const parseHostFacts = recordParser(HostFactsSchema, 'host facts');

function kv(store: JobStore): Buckets {
  const buckets = BUCKETS.get(store);
  if (!buckets) throw new Error('this job store was not made by openJobStore');
  return buckets;
}

/** Opens the buckets the layout made; fails clearly if the layout is missing. */
export async function openJobStore(
  nc: NatsConnection,
  names: InfraNames,
  clock: Clock,
  signer?: JobSigner,
  results: { signer?: ResultSigner; trust?: ResultTrust } = {},
): Promise<JobStore> {
  const js = jetstream(nc);
  const kvm = new Kvm(js);
  const [jobs, responses, registry, facts, agentState, enrollment] = await Promise.all([
    kvm.open(names.jobsBucket),
    kvm.open(names.responsesBucket),
    kvm.open(names.registryBucket),
    kvm.open(names.factsBucket),
    kvm.open(names.agentStateBucket),
    kvm.open(names.enrollmentBucket),
  ]);
  const store: JobStore = {
    nc,
    js,
    names,
    clock,
    ...(signer ? { signer } : {}),
    ...(results.signer ? { resultSigner: results.signer } : {}),
    ...(results.trust ? { trust: results.trust } : {}),
  };
  BUCKETS.set(store, {
    jobs,
    responses,
    registry,
    facts,
    agentState,
    enrollment,
    quick: jetstream(nc, { timeout: CONSUMER_MAKE_TIMEOUT_MS }),
    manager: once(() => js.jetstreamManager(false)),
  });
  return store;
}

export interface NewJob {
  /** Chosen by the caller when it must listen for results before publishing. */
  id?: string;
  type: OperationType;
  data: unknown;
  target: Target;
  createdBy: string;
  /** How long an agent may still start the job after it was created. */
  startWithinMs: number;
  expectedHosts?: string[];
  /** The requester's command policy; agents enforce it from the signed record. */
  commandPolicy?: NonNullable<JobRecord['command_policy']>;
  /**
   * A rate-controlled broadcast: the limits are recorded, and no notification
   * goes to the target; the API's rollout notifies each host in turn.
   */
  rollout?: { max_concurrency: number; max_errors: number };
}

/** The stored definition and the KV revision it was stored at. */
export type PublishedJob = JobRecord & { revision: number };

/**
 * Stores the job definition and its `submitted` event, then publishes the
 * notification. The definition is written first so an agent that hears of the
 * job can always read it; a broadcast's expected hosts go before it, under
 * their own key, so whoever sees the definition finds them too.
 */
export async function publishJob(store: JobStore, job: NewJob): Promise<PublishedJob> {
  const now = store.clock.now();
  const unsigned: JobRecord = {
    id: job.id ?? newTimeOrderedId(now.getTime()),
    operation: { type: job.type, data: job.data },
    category: operationCategory(job.type),
    target_hostname: formatTarget(job.target),
    created: now.toISOString(),
    created_by: job.createdBy,
    deadline: new Date(now.getTime() + job.startWithinMs).toISOString(),
    ...(job.commandPolicy ? { command_policy: job.commandPolicy } : {}),
    ...(job.rollout ? { rollout: job.rollout } : {}),
    // A broadcast is signed with the hosts it was sent to: an agent that joined
    // later, or one a copied notification reached, does not run it.
    ...(isBroadcast(job.target)
      ? { expected_digest: expectedDigest(job.expectedHosts ?? []) }
      : {}),
  };
  const record = store.signer ? store.signer.sign(unsigned) : unsigned;
  if (job.expectedHosts) {
    await kv(store).jobs.create(expectedKey(record.id), JSON.stringify(job.expectedHosts));
  }
  const revision = await kv(store).jobs.create(jobKey(record.id), JSON.stringify(record));
  const subject = notifySubject(store.names, record.category, routeOf(job.target));
  // No `submitted` event is stored: the definition says who submitted it,
  // when and for what, and the timeline shows it from there (status.ts
  // timelineOf). A rollout's hosts are told by its driver (api/rollout.ts).
  if (!job.rollout) {
    // msgID makes a retried publish a no-op inside the stream's duplicate window.
    await store.js.publish(
      subject,
      record.id,
      withHeaders({ msgID: record.id }, carrying(record, job.expectedHosts)),
    );
  }
  return {
    ...record,
    // Frozen, as a view's copy is: a rollout tells each host with this list.
    ...(job.expectedHosts
      ? { expected_hosts: Object.freeze([...job.expectedHosts]) as string[] }
      : {}),
    revision,
  };
}

/**
 * The most a notification carries of its job (JOB_HEADER): past this (a
 * large stdin, say) the agent reads the definition from KV instead, so a
 * broadcast does not copy a large job to every agent through the server.
 */
const CARRIED_JOB_MAX_BYTES = 16 * 1024;

/** A broadcast's expected hosts longer than this go deflated (EXPECTED_DEFLATED_HEADER). */
const DEFLATE_EXPECTED_OVER_BYTES = 1024;

/**
 * The most a deflated list may inflate to: far beyond any fleet's list, and
 * a bound on what a forged header can make an agent allocate.
 */
const INFLATED_EXPECTED_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Headers carrying the signed definition and, for a broadcast, its expected
 * hosts: each only when no larger than CARRIED_JOB_MAX_BYTES (the agent reads
 * what is not carried from KV); and the trace context when tracing is on.
 */
function carrying(job: JobRecord, expectedHosts?: readonly string[]): MsgHdrs | undefined {
  // Only what was signed: a view's copy may add expected_hosts, a published
  // one its revision.
  const { expected_hosts: _hosts, revision: _revision, ...record } = job as PublishedJob;
  // JSON escapes line breaks inside strings, so each value is one header line.
  const text = JSON.stringify(record);
  const fits = (t: string) => t !== '' && Buffer.byteLength(t) <= CARRIED_JOB_MAX_BYTES;
  const hosts = record.expected_digest !== undefined ? carriedList(expectedHosts ?? []) : null;
  // The active span's context (`traceparent`), when tracing is on: stored in
  // the stream with the notification, so an agent catching up finds it too.
  const trace = traceHeaders();
  const hostsFit = hosts !== null && fits(hosts.value);
  if (!fits(text) && !hostsFit && !trace) return undefined;
  const h = headers();
  if (fits(text)) h.set(JOB_HEADER, text);
  if (hostsFit) h.set(hosts.header, hosts.value);
  for (const [name, value] of Object.entries(trace ?? {})) h.set(name, value);
  return h;
}

/**
 * A broadcast's expected hosts as carried: their JSON, deflated when long.
 * Made once per list: a rollout tells each of its hosts in turn with the
 * same job, and deflating 3,000 names each time would cost a millisecond a
 * host.
 */
function carriedList(hosts: readonly string[]): { header: string; value: string } {
  const known = carriedForms.get(hosts);
  if (known) return known;
  const json = JSON.stringify(hosts);
  const form =
    Buffer.byteLength(json) <= DEFLATE_EXPECTED_OVER_BYTES
      ? { header: EXPECTED_HEADER, value: json }
      : { header: EXPECTED_DEFLATED_HEADER, value: deflateRawSync(json).toString('base64') };
  // Only a list that cannot change may be remembered by its identity.
  if (Object.isFrozen(hosts)) carriedForms.set(hosts, form);
  return form;
}

const carriedForms = new WeakMap<readonly string[], { header: string; value: string }>();

function withHeaders<T extends object>(opts: T, h: MsgHdrs | undefined): T & { headers?: MsgHdrs } {
  return h ? { ...opts, headers: h } : opts;
}

/**
 * The definition a notification carries (JOB_HEADER), checked like one read
 * from KV; undefined when it carries none. Trusted only once its signature
 * verifies, exactly as a definition read from KV.
 */
export function carriedJob(h: MsgHdrs | undefined, id: string): JobRecord | undefined {
  const raw = h?.get(JOB_HEADER);
  if (!raw) return undefined;
  const job = parseJobRecord(raw);
  if (job.id !== id) throw new RecordError(`job record: carries job ${job.id}, not ${id}`);
  return job;
}

/**
 * The expected hosts a notification carries (EXPECTED_HEADER), or undefined
 * when it carries none. Trusted only once their digest matches the signed
 * definition's.
 */
export function carriedExpectedHosts(h: MsgHdrs | undefined): string[] | undefined {
  const raw = h?.get(EXPECTED_HEADER);
  const deflated = raw ? '' : (h?.get(EXPECTED_DEFLATED_HEADER) ?? '');
  if (!raw && !deflated) return undefined;
  // Agents sharing one process (the scale bench hosts hundreds) hear the
  // same broadcast each: its list is parsed once. Frozen, so no holder can
  // change what another reads. (A JSON list starts with `[`, never with `~`.)
  const key = raw || `~${deflated}`;
  let hosts = carriedLists.get(key);
  if (!hosts) {
    hosts = Object.freeze(parseExpectedHosts(raw || inflatedList(deflated))) as string[];
    carriedLists.set(key, hosts);
    if (carriedLists.size > CARRIED_LISTS_KEPT) {
      const oldest = carriedLists.keys().next().value;
      if (oldest !== undefined) carriedLists.delete(oldest);
    }
  }
  return hosts;
}

/** The JSON of a deflated expected-hosts header; a RecordError when it is not one. */
function inflatedList(deflated: string): string {
  try {
    const packed = Buffer.from(deflated, 'base64');
    return inflateRawSync(packed, { maxOutputLength: INFLATED_EXPECTED_MAX_BYTES }).toString();
  } catch {
    throw new RecordError(
      `expected hosts: the ${EXPECTED_DEFLATED_HEADER} header is not a deflated list of at most ${INFLATED_EXPECTED_MAX_BYTES} bytes`,
    );
  }
}

const carriedLists = new Map<string, string[]>();
const CARRIED_LISTS_KEPT = 16;

/** Tells one host of a job meant for several (a rate-controlled broadcast) to run it now. */
export async function notifyHost(store: JobStore, job: JobRecord, hostname: string): Promise<void> {
  const subject = notifySubject(store.names, job.category, { kind: 'host', hostname });
  const h = carrying(job, job.expected_hosts) ?? headers();
  if (store.signer) h.set(GO_HEADER, store.signer.signGo(job.id, hostname));
  const opts = withHeaders({ msgID: `${job.id}.${hostToken(hostname)}` }, h);
  await store.js.publish(subject, job.id, opts);
}

export async function appendStatus(
  store: JobStore,
  id: string,
  event: StatusEvent,
  hostname: string,
  detail: { message?: string; error?: string; state?: FinalHostState } = {},
  opts: { acknowledged: boolean } = { acknowledged: true },
): Promise<void> {
  const value: StatusEventRecord = {
    timestamp: store.clock.now().toISOString(),
    event,
    hostname,
    ...detail,
  };
  await putKey(
    store,
    kvSubject(store.names.jobsBucket, statusKey(id, event, hostname, store.clock.nanos())),
    JSON.stringify(value),
    opts,
  );
}

/**
 * An agent's registry entry (its heartbeat), acknowledged or not (putKey):
 * the next beat follows a lost one.
 */
export function putAgentInfo(
  store: JobStore,
  hostname: string,
  info: string,
  opts: { acknowledged: boolean },
): Promise<void> {
  return putKey(store, kvSubject(store.names.registryBucket, registryKey(hostname)), info, opts);
}

/**
 * A KV put made as what it is, a publish on the key's subject: with headers,
 * and with or without waiting for the stream's acknowledgment. Unacknowledged,
 * the value is stored all the same; only a failure goes unheard, for callers
 * that would only have logged it (the agent's first events of a run, a
 * query's result, heartbeats). Either way a failure rejects, never throws at
 * once: a plain publish on a closed connection throws.
 */
async function putKey(
  store: JobStore,
  subject: string,
  body: string | Uint8Array,
  opts: { acknowledged: boolean; headers?: MsgHdrs },
): Promise<void> {
  const headers = opts.headers ? { headers: opts.headers } : {};
  if (opts.acknowledged) await store.js.publish(subject, body, headers);
  else store.nc.publish(subject, body, headers);
}

/**
 * Takes the (job, scope) pair for this agent. Only one create of a key can
 * succeed, so exactly one claimant runs an `_any` job, and a redelivered
 * notification finds its own claim and never runs the command again.
 */
export async function claimJob(
  store: JobStore,
  id: string,
  scope: { any: true } | { hostname: string },
  hostname: string,
): Promise<boolean> {
  return createIfAbsent(kv(store).jobs, claimKey(id, scope), hostname);
}

/** Who holds the claim, when someone does. */
export async function claimHolder(
  store: JobStore,
  id: string,
  scope: { any: true } | { hostname: string },
): Promise<string | null> {
  return (await readClaim(store, id, scope))?.holder ?? null;
}

/** The claim with the time NATS stored it, when someone holds it. */
export async function readClaim(
  store: JobStore,
  id: string,
  scope: { any: true } | { hostname: string },
): Promise<{ holder: string; created: Date } | null> {
  const e = await kv(store).jobs.get(claimKey(id, scope));
  return e && e.operation === 'PUT' ? { holder: e.string(), created: e.created } : null;
}

/** Creates `key` unless it exists: true when this call made it, false when it was there. */
async function createIfAbsent(bucket: KV, key: string, value: string): Promise<boolean> {
  try {
    await bucket.create(key, value);
    return true;
  } catch (err) {
    // The server answers a create on an existing key with "wrong last sequence".
    if (isWrongLastSequence(err)) return false;
    throw err;
  }
}

/**
 * How a result ended, as headers beside it (RESULT_STATE_HEADER), signed by
 * this process's result key when it has one (result-signing.ts).
 */
export function resultHeaders(store: JobStore, r: JobResponse, body: Uint8Array | string): MsgHdrs {
  const h = headers();
  h.set(RESULT_STATE_HEADER, finalStateOf(r));
  if (r.error !== undefined) h.set(RESULT_ERROR_HEADER, JSON.stringify(r.error));
  if (store.resultSigner) signResult(h, r.job_id, r.hostname, body, store.resultSigner);
  return h;
}

/** Whether a stored result is to be believed: always, unless this store has a trust to check. */
function believed(
  store: JobStore,
  r: JobResponse,
  h: MsgHdrs | undefined,
  body: Uint8Array,
): boolean {
  if (!store.trust) return true;
  const why = resultDistrust(store.trust, r.job_id, r.hostname, h, body);
  if (why) store.trust.refused?.(r.job_id, r.hostname, why);
  return why === null;
}

/**
 * Stores a result. With `acknowledged: false` the agent does not wait for the
 * stream's acknowledgment: for a query, whose result is also heard at once
 * by a waiting request, and which a broadcast asks of thousands of agents,
 * the acknowledgment would be a message more per agent for the server.
 */
export async function storeResponse(
  store: JobStore,
  r: JobResponse,
  opts: { acknowledged: boolean } = { acknowledged: true },
): Promise<void> {
  const body = encodeResponse(r, resultBudget(store.nc.info?.max_payload));
  await putKey(
    store,
    kvSubject(store.names.responsesBucket, responseKey(r.job_id, r.hostname)),
    body,
    { ...opts, headers: resultHeaders(store, r, body) },
  );
}

/**
 * Records that a host will never run a job (skipped, cancelled before it
 * started): its result and its closing event, written by the API.
 */
export async function recordNotRun(
  store: JobStore,
  jobId: string,
  hostname: string,
  state: 'skipped' | 'cancelled',
  error: string,
): Promise<void> {
  const now = store.clock.now().toISOString();
  await storeResponse(store, {
    job_id: jobId,
    hostname,
    status: 'failed',
    data: null,
    error,
    state,
    started_at: now,
    finished_at: now,
  });
  await appendStatus(store, jobId, 'failed', hostname, { state, error });
}

export async function readResponse(
  store: JobStore,
  id: string,
  hostname: string,
): Promise<JobResponse | null> {
  const bucket = store.names.responsesBucket;
  // A direct get, which any replica answers (a cluster that lost a node).
  const m = await (await kv(store).manager()).direct.getMessage(kvStream(bucket), {
    last_by_subj: kvSubject(bucket, responseKey(id, hostname)),
  });
  if (!m) return null;
  const op = m.header?.get(KV_OPERATION_HEADER);
  if (op === 'DEL' || op === 'PURGE') return null;
  const r = parseJobResponse(m.data);
  if (r.hostname !== hostname || r.job_id !== id) return null;
  return believed(store, r, m.header, m.data) ? r : null;
}

export async function readJob(store: JobStore, id: string): Promise<JobRecord | null> {
  const e = await kv(store).jobs.get(jobKey(id));
  return e && e.operation === 'PUT' ? parseJobRecord(e.value) : null;
}

/** The hosts a broadcast was sent to; null for a job sent to one agent (or unknown). */
export async function readExpectedHosts(store: JobStore, id: string): Promise<string[] | null> {
  const e = await kv(store).jobs.get(expectedKey(id));
  return e && e.operation === 'PUT' ? parseExpectedHosts(e.value) : null;
}

/**
 * A stored job as the API's jobs view shows it, its definition signed as
 * stored, with a broadcast's expected hosts put back (they are stored under
 * their own key); null when it is not stored.
 */
export async function readJobWithHosts(store: JobStore, id: string): Promise<JobRecord | null> {
  const record = await readJob(store, id);
  if (!record) return null;
  const hosts = record.expected_hosts ?? (await readExpectedHosts(store, id));
  return hosts ? { ...record, expected_hosts: hosts } : record;
}

export interface StatusEntry extends StatusEventRecord {
  nanos: bigint;
}

/** Marks the job cancelled for agents that receive it from now on; false when it already was. */
export async function markCancelled(store: JobStore, id: string, by: string): Promise<boolean> {
  return createIfAbsent(kv(store).jobs, cancelKey(id), by);
}

export async function isCancelled(store: JobStore, id: string): Promise<boolean> {
  const e = await kv(store).jobs.get(cancelKey(id));
  return e?.operation === 'PUT';
}

/** Every status event of a job, oldest first. */
export async function readStatusEvents(store: JobStore, id: string): Promise<StatusEntry[]> {
  const out: StatusEntry[] = [];
  const keys = await kv(store).jobs.keys(statusFilter(id));
  const names: string[] = [];
  for await (const k of keys) names.push(k);
  for (const k of names) {
    const parsed = parseStatusKey(k);
    if (!parsed) continue;
    const e = await kv(store).jobs.get(k);
    if (e?.operation !== 'PUT') continue;
    out.push({ ...parseStatusEvent(e.value), nanos: parsed.nanos });
  }
  return out.sort((a, b) => (a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0));
}

/**
 * Every result stored for a job, by hostname. When `knownHosts` names a few
 * hosts (a one-host job, a small broadcast), each is read with a direct get.
 * Otherwise one consumer reads them all (the last message of each key), not
 * a request per key: a broadcast has a result per agent, thousands of them.
 * When that fails (on a
 * cluster that just lost a node, nats-server 2.9 may keep placing the
 * consumer on the node that is gone), the results of the hosts `knownHosts`
 * gives are read one by one with direct gets, which any replica answers.
 */
export async function readResponses(
  store: JobStore,
  id: string,
  knownHosts: () => Iterable<string> = () => [],
): Promise<JobResponse[]> {
  const names = () => [...new Set(knownHosts())].filter((h) => h !== API_EVENT_HOST);
  const byKey = async (hosts: string[]) =>
    (await Promise.all(hosts.map((h) => readResponse(store, id, h)))).filter(
      (r): r is JobResponse => r !== null,
    );
  let out: JobResponse[];
  const few = names();
  if (few.length > 0 && few.length <= READ_BY_KEY_MAX) {
    // A few hosts: a direct get each, which any replica answers, costs less
    // than a consumer and cannot land on a node that is gone.
    out = await byKey(few);
  } else {
    try {
      out = await readResponsesAtOnce(store, id);
    } catch (err) {
      const all = names();
      if (all.length === 0) throw err;
      out = await byKey(all);
    }
  }
  return out.sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** Up to this many known hosts, a job's results are read by key rather than through a consumer. */
const READ_BY_KEY_MAX = 32;

async function readResponsesAtOnce(store: JobStore, id: string): Promise<JobResponse[]> {
  const bucket = store.names.responsesBucket;
  const consumer = await retryOnTimeout(() =>
    kv(store).quick.consumers.get(kvStream(bucket), {
      filter_subjects: kvSubject(bucket, responseFilter(id)),
      deliver_policy: DeliverPolicy.LastPerSubject,
    }),
  );
  let pending = (await consumer.info(true)).num_pending;
  const out: JobResponse[] = [];
  while (pending > 0) {
    let got = 0;
    // The count the consumer gave can be above what it delivers (a key
    // written more than once before it was made): stop at the last message
    // (pending 0), and never wait past a short expiry for the rest.
    for await (const m of await consumer.fetch({
      max_messages: Math.min(pending, 1000),
      expires: FETCH_EXPIRES_MS,
    })) {
      got++;
      pending = m.info.pending;
      const op = m.headers?.get(KV_OPERATION_HEADER);
      if (op !== 'DEL' && op !== 'PURGE') {
        const r = parseJobResponse(m.data);
        // A result is its key's host's (as the live watch takes it): one whose
        // body names another host or job is someone writing in another's name.
        const key = parseResponseKey(m.subject.slice(kvSubject(bucket, '').length));
        if (key && key.hostname === r.hostname && key.id === r.job_id) {
          if (believed(store, r, m.headers, m.data)) out.push(r);
        }
      }
      if (pending === 0) break;
    }
    if (got === 0) break;
  }
  await consumer.delete().catch(() => false);
  return out;
}

/**
 * Makes a short-lived consumer, again when the server does not answer: on a
 * cluster that lost a node, nats-server 2.9 may place a new one-replica
 * consumer on the node that is gone, and the request times out; the next
 * try lands elsewhere.
 */
async function retryOnTimeout<T>(make: () => Promise<T>, attempts = 2): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await make();
    } catch (err) {
      if (i >= attempts || !(err instanceof errors.TimeoutError)) throw err;
    }
  }
}

/**
 * Removes a job: its definition, status events, claims and results. Returns
 * false when there was no such job. Purged, not just deleted, so nothing of
 * it stays in the buckets' history.
 */
export async function deleteJob(store: JobStore, id: string): Promise<boolean> {
  const def = await kv(store).jobs.get(jobKey(id));
  if (def?.operation !== 'PUT') return false;
  const jobKeys: string[] = [];
  // One filter per call: nats-server 2.9 takes one filter subject per consumer.
  for (const filter of [statusFilter(id), claimFilter(id)]) {
    for await (const k of await kv(store).jobs.keys(filter)) jobKeys.push(k);
  }
  const responseKeys: string[] = [];
  for await (const k of await kv(store).responses.keys(responseFilter(id))) responseKeys.push(k);
  await Promise.all([
    ...jobKeys.map((k) => kv(store).jobs.purge(k)),
    ...responseKeys.map((k) => kv(store).responses.purge(k)),
  ]);
  // The definition goes last: while it exists, the job is still findable.
  await kv(store).jobs.purge(expectedKey(id));
  await kv(store).jobs.purge(cancelKey(id));
  await kv(store).jobs.purge(rolloutKey(id));
  await kv(store).jobs.purge(jobKey(id));
  return true;
}

// ---- facts -------------------------------------------------------------------

/** Stores this agent's facts (contract/facts.ts HostFacts) under its hostname. */
export async function putFacts(store: JobStore, facts: HostFacts): Promise<void> {
  await kv(store).facts.put(factsKey(facts.hostname), JSON.stringify(facts));
}

/**
 * Follows every agent's facts: `on` hears them, or null when they were
 * removed. An entry that does not parse, or is stored under another host's
 * name than its own, is skipped with a warning (once per host).
 */
export function followFacts(
  store: JobStore,
  logger: Logger,
  on: (hostname: string, facts: HostFacts | null) => void,
): Promise<KvFollow> {
  const source = { nc: store.nc, js: store.js, bucket: store.names.factsBucket };
  const warned = new Set<string>();
  return followKv(source, { keys: '>', from: 'last', logger }, (e) => {
    const hostname = hostnameOfFactsKey(e.key);
    if (e.operation !== 'PUT') {
      on(hostname, null);
      return;
    }
    try {
      const facts = parseHostFacts(e.value);
      if (facts.hostname !== hostname) throw new RecordError('facts of another host');
      on(hostname, facts);
    } catch (err) {
      if (warned.has(hostname)) return;
      warned.add(hostname);
      logger.warn({ hostname, err: String(err) }, 'ignoring invalid facts');
    }
  });
}

// ---- what API servers decide of agents -----------------------------------------
// Drained or not (agent-state) and which key is trusted (agent-enrollment):
// one entry per hostname, written by API servers only, each write
// conditional on the revision read, and told to the agent on its control
// subject so it reads its entry again.

/** A host's entry in one of these buckets and its revision, or null. */
async function readHostEntry<T>(
  bucket: KV,
  hostname: string,
  parse: (raw: Uint8Array) => T,
): Promise<{ record: T; revision: number } | null> {
  const e = await bucket.get(hostToken(hostname));
  if (e?.operation !== 'PUT') return null;
  return { record: parse(e.value), revision: e.revision };
}

/**
 * Writes a host's entry if still at `revision` (0: none): the new revision,
 * or null when another wrote first.
 */
async function saveHostEntry(
  store: JobStore,
  bucket: KV,
  hostname: string,
  record: unknown,
  revision: number,
): Promise<number | null> {
  const key = hostToken(hostname);
  let written: number;
  try {
    written =
      revision === 0
        ? await bucket.create(key, JSON.stringify(record))
        : await bucket.update(key, JSON.stringify(record), revision);
  } catch (err) {
    if (isWrongLastSequence(err)) return null;
    throw err;
  }
  store.nc.publish(controlSubject(store.names, hostname));
  return written;
}

/** Follows every host's entry of one bucket: `on` hears it, or null when removed. */
function followHostEntries<T>(
  store: JobStore,
  bucket: string,
  logger: Logger,
  parse: (raw: Uint8Array) => T,
  on: (hostname: string, record: T | null, revision: number) => void,
): Promise<KvFollow> {
  const source = { nc: store.nc, js: store.js, bucket };
  return followKv(source, { keys: '>', from: 'last', logger }, (e) => {
    const hostname = hostFromToken(e.key);
    if (e.operation !== 'PUT') {
      on(hostname, null, e.revision);
      return;
    }
    try {
      on(hostname, parse(e.value), e.revision);
    } catch (err) {
      logger.warn({ bucket, hostname, err: String(err) }, 'ignoring an invalid entry');
    }
  });
}

/** Whether operators drained an agent: its entry and revision, or null. */
export function readAgentState(store: JobStore, hostname: string) {
  return readHostEntry(kv(store).agentState, hostname, parseAgentState);
}

export function saveAgentState(
  store: JobStore,
  record: AgentStateRecord,
  revision: number,
): Promise<number | null> {
  return saveHostEntry(store, kv(store).agentState, record.hostname, record, revision);
}

export function followAgentStates(
  store: JobStore,
  logger: Logger,
  on: (hostname: string, record: AgentStateRecord | null, revision: number) => void,
): Promise<KvFollow> {
  return followHostEntries(store, store.names.agentStateBucket, logger, parseAgentState, on);
}

/** The key an agent was accepted or rejected with: its entry and revision, or null. */
export function readEnrollment(store: JobStore, hostname: string) {
  return readHostEntry(kv(store).enrollment, hostname, parseEnrollment);
}

export function saveEnrollment(
  store: JobStore,
  record: EnrollmentRecord,
  revision: number,
): Promise<number | null> {
  return saveHostEntry(store, kv(store).enrollment, record.hostname, record, revision);
}

export function followEnrollments(
  store: JobStore,
  logger: Logger,
  on: (hostname: string, record: EnrollmentRecord | null, revision: number) => void,
): Promise<KvFollow> {
  return followHostEntries(store, store.names.enrollmentBucket, logger, parseEnrollment, on);
}

// ---- rollout progress ---------------------------------------------------------
// Written by API servers only (agents may not: nats/permissions.ts), each write
// conditional on the revision the writer last saw, so two API servers never
// both drive one rollout: the second write of a pair fails.

/** Stores a new rollout's progress; its revision. */
export async function createRolloutProgress(
  store: JobStore,
  id: string,
  progress: RolloutProgress,
): Promise<number> {
  return kv(store).jobs.create(rolloutKey(id), JSON.stringify(progress));
}

/**
 * Replaces a rollout's progress if it is still at `revision`: the new
 * revision, or null when another API server wrote it since.
 */
export async function saveRolloutProgress(
  store: JobStore,
  id: string,
  progress: RolloutProgress,
  revision: number,
): Promise<number | null> {
  try {
    return await kv(store).jobs.update(rolloutKey(id), JSON.stringify(progress), revision);
  } catch (err) {
    if (isWrongLastSequence(err)) return null;
    throw err;
  }
}

/**
 * Follows every rollout's progress: `on` hears its value and revision, or
 * null when it was removed. An invalid value is skipped with a warning.
 */
export function followRolloutProgress(
  store: JobStore,
  logger: Logger,
  on: (id: string, progress: RolloutProgress | null, revision: number) => void,
): Promise<KvFollow> {
  const source = { nc: store.nc, js: store.js, bucket: store.names.jobsBucket };
  return followKv(source, { keys: ROLLOUT_FILTER, from: 'last', logger }, (e) => {
    const id = jobIdFromRolloutKey(e.key);
    if (id === null) return;
    if (e.operation !== 'PUT') {
      on(id, null, e.revision);
      return;
    }
    try {
      on(id, parseRolloutProgress(e.value), e.revision);
    } catch (err) {
      logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid rollout progress entry');
    }
  });
}

// ---- idempotency reservations ------------------------------------------------
// Kept in the jobs bucket under their own keys (names.ts `idempotencyKey`), so a
// reservation and the job it made live and expire together.

/** Reserves `key` with `value`; false when it is already held (read it then). */
export async function createReservation(
  store: JobStore,
  key: string,
  value: string,
): Promise<boolean> {
  return createIfAbsent(kv(store).jobs, key, value);
}

/** The reservation under `key` and its revision, or null when there is none (or it was released). */
export async function readReservation(
  store: JobStore,
  key: string,
): Promise<{ text: string; revision: number } | null> {
  const e = await kv(store).jobs.get(key);
  return e?.operation === 'PUT' ? { text: e.string(), revision: e.revision } : null;
}

/** Replaces an expired reservation; false when someone else changed it first. */
export async function replaceReservation(
  store: JobStore,
  key: string,
  value: string,
  revision: number,
): Promise<boolean> {
  try {
    await kv(store).jobs.update(key, value, revision);
    return true;
  } catch {
    return false;
  }
}

/** Frees a reservation; a failure leaves it to expire with its window. */
export async function releaseReservation(store: JobStore, key: string): Promise<void> {
  await kv(store)
    .jobs.purge(key)
    .catch(() => {});
}

/** The revision of a job's definition, or 0 when it has none (deleted). */
export async function jobRevision(store: JobStore, id: string): Promise<number> {
  return (await kv(store).jobs.get(jobKey(id)))?.revision ?? 0;
}

/** Resolves when the registry's stream answers: JetStream is there for heartbeats. */
export async function registryAnswers(store: JobStore): Promise<void> {
  await kv(store).registry.status();
}

/** Removes an agent's registry entry, as it stops. */
export async function removeAgentInfo(store: JobStore, hostname: string): Promise<void> {
  await kv(store).registry.delete(registryKey(hostname));
}
