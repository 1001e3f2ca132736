// The only place that spells a NATS subject, a stream or bucket name, or a KV
// key. API, agent, job store and NATS layout all build names here, so the
// namespace rule and the key layout (docs/architecture.md) live in one
// module. It imports only the agent name rule (src/contract/agent-name.ts,
// which imports nothing): src/job and src/nats both use it without importing
// each other (test/job/names-home.test.ts).

import { AGENT_NAME_PATTERN } from '../contract/agent-name.js';

/** Infrastructure names, with the namespace prefix applied. */
export interface InfraNames {
  readonly namespace: string;
  readonly stream: string;
  /** Filter for everything on the jobs stream, e.g. `osapi.jobs.>`. */
  readonly streamSubjects: string;
  readonly dlqStream: string;
  /**
   * Live output as agents send it (`<ns>.output.>`), held briefly in memory:
   * its sequence orders every chunk the same way for every API server, so a
   * job stream's event ids mean the same on each (api/job/output-hub.ts).
   */
  readonly outputStream: string;
  readonly jobsBucket: string;
  readonly responsesBucket: string;
  /** Audit entries of requests that carried a valid token: their room is their own. */
  readonly auditBucket: string;
  /**
   * Audit entries of requests without a valid token (401s, unknown paths,
   * malformed requests): anyone can make them, so they live apart, in a
   * smaller bucket that drops its oldest entries when full, and never take
   * the room of the authenticated ones.
   */
  readonly unauthenticatedAuditBucket: string;
  readonly registryBucket: string;
  /**
   * The web console's one-time login codes, shared by every API server on
   * the same NATS: what each code grants (never a token), until it is used
   * or expires. Only API servers can reach it.
   */
  readonly loginCodesBucket: string;
  /** What each agent knows of its host (contract/facts.ts), under its hostname. */
  readonly factsBucket: string;
  /**
   * What operators asked of each agent (drained or not) and when, under its
   * hostname; written by API servers only, kept until changed.
   */
  readonly agentStateBucket: string;
  /**
   * Which key each agent was accepted (or rejected) with, under its
   * hostname; written by API servers only.
   */
  readonly enrollmentBucket: string;
  /** The file store: objects uploaded by POST /file (a JetStream object store). */
  readonly filesBucket: string;
  /** Where each agent records what it deployed, under `<host>.<path digest>`. */
  readonly deploymentsBucket: string;
}

export interface NameSettings {
  namespace: string;
  stream: { name: string; subjects: string };
  kv: { bucket: string; response_bucket: string };
  audit: { bucket: string };
  registry: { bucket: string };
}

/** Joins a namespace to an infrastructure name: `osapi` + `JOBS` → `osapi-JOBS`. */
function infra(namespace: string, name: string): string {
  return namespace ? `${namespace}-${name}` : name;
}

/** Joins a namespace to a subject: `osapi` + `jobs.>` → `osapi.jobs.>`. */
function subject(namespace: string, s: string): string {
  return namespace ? `${namespace}.${s}` : s;
}

export function infraNames(s: NameSettings): InfraNames {
  return {
    namespace: s.namespace,
    stream: infra(s.namespace, s.stream.name),
    streamSubjects: subject(s.namespace, s.stream.subjects),
    dlqStream: infra(s.namespace, `${s.stream.name}-DLQ`),
    outputStream: infra(s.namespace, `${s.stream.name}-OUTPUT`),
    jobsBucket: infra(s.namespace, s.kv.bucket),
    responsesBucket: infra(s.namespace, s.kv.response_bucket),
    auditBucket: infra(s.namespace, s.audit.bucket),
    unauthenticatedAuditBucket: infra(s.namespace, `${s.audit.bucket}-unauthenticated`),
    registryBucket: infra(s.namespace, s.registry.bucket),
    loginCodesBucket: infra(s.namespace, 'login-codes'),
    factsBucket: infra(s.namespace, 'agent-facts'),
    agentStateBucket: infra(s.namespace, 'agent-state'),
    enrollmentBucket: infra(s.namespace, 'agent-enrollment'),
    filesBucket: infra(s.namespace, 'files'),
    deploymentsBucket: infra(s.namespace, 'file-deployments'),
  };
}

/**
 * Subjects the DLQ stream captures: JetStream's advisory for a notification
 * that reached max_deliver on any consumer of the jobs stream.
 */
export function dlqAdvisorySubject(names: InfraNames): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${names.stream}.*`;
}

/**
 * Hostnames may hold dots (FQDNs), which would split a subject or key token.
 * '=' is legal in both and never in a hostname, so the mapping is reversible.
 */
export function hostToken(hostname: string): string {
  return hostname.replaceAll('.', '=');
}

export function hostFromToken(token: string): string {
  return token.replaceAll('=', '.');
}

export type JobCategory = 'query' | 'modify';

/** A target as routed on NATS. Labels carry the value prefix being addressed. */
export type RouteTarget =
  | { kind: 'any' }
  | { kind: 'all' }
  | { kind: 'host'; hostname: string }
  | { kind: 'label'; key: string; value: string };

/** `jobs.{query|modify}.{_any|_all|host.<h>|label.<k>.<v>}` under the namespace. */
export function notifySubject(names: InfraNames, category: JobCategory, t: RouteTarget): string {
  const tail =
    t.kind === 'any'
      ? '_any'
      : t.kind === 'all'
        ? '_all'
        : t.kind === 'host'
          ? `host.${hostToken(t.hostname)}`
          : `label.${t.key}.${t.value}`;
  return subject(names.namespace, `jobs.${category}.${tail}`);
}

/**
 * The category and target a notification subject addresses, or null when the
 * subject is not a job notification of this namespace.
 */
export function parseNotifySubject(
  names: InfraNames,
  subj: string,
): { category: JobCategory; target: RouteTarget } | null {
  const prefix = subject(names.namespace, 'jobs.');
  if (!subj.startsWith(prefix)) return null;
  const parts = subj.slice(prefix.length).split('.');
  const [category, kind, ...rest] = parts;
  if (category !== 'query' && category !== 'modify') return null;
  if (kind === '_any' && rest.length === 0) return { category, target: { kind: 'any' } };
  if (kind === '_all' && rest.length === 0) return { category, target: { kind: 'all' } };
  if (kind === 'host' && rest.length === 1 && rest[0]) {
    return { category, target: { kind: 'host', hostname: hostFromToken(rest[0]) } };
  }
  if (kind === 'label' && rest.length >= 2 && rest[0]) {
    return { category, target: { kind: 'label', key: rest[0], value: rest.slice(1).join('.') } };
  }
  return null;
}

/**
 * The notification header carrying the signed job definition, so that an
 * agent need not read `jobs.<id>` back from KV for every job it hears of.
 * The body stays the job id.
 */
export const JOB_HEADER = 'Osapi-Job';

/**
 * The notification header carrying a broadcast's expected hosts (a JSON
 * array), so that each agent can check it is one of them without reading
 * `expected.<id>`; its digest is in the signed definition.
 */
export const EXPECTED_HEADER = 'Osapi-Expected';

/**
 * The same list when longer than a few hundred names: raw DEFLATE, in
 * base64. A fleet's names share most of their letters, so a list of 3,000 is
 * carried in 9 KB instead of 42 KB, to each of them. A separate header, so
 * that an agent of an earlier version, which knows only the other, reads the
 * list from KV instead of refusing what it cannot parse.
 */
export const EXPECTED_DEFLATED_HEADER = 'Osapi-Expected-Deflated';

/**
 * The notification header of a rate-controlled broadcast telling one host it
 * may start now: the API's signature over the job id and that hostname.
 */
export const GO_HEADER = 'Osapi-Go';

/**
 * Headers on a stored result saying how it ended for its host (a final host
 * state: src/contract/states.ts FINAL_HOST_STATES) and, when it failed, why (a JSON
 * string): the API follows results by their headers alone, without reading
 * every output.
 */
export const RESULT_STATE_HEADER = 'Osapi-State';
export const RESULT_ERROR_HEADER = 'Osapi-Error';

/**
 * Headers proving who stored a result (job/result-signing.ts): the SHA-256 of
 * its body, who signed (`agent`: the host's own accepted key; `api`: the API's
 * job-signing key, for results the API records itself), and the Ed25519
 * signature over the job, host, state, error and digest.
 */
export const RESULT_DIGEST_HEADER = 'Osapi-Digest';
export const RESULT_SIGNER_HEADER = 'Osapi-Signer';
export const RESULT_SIGNATURE_HEADER = 'Osapi-Sig';
/**
 * An agent's HMAC-SHA256 over the same bytes as its signature, under the key
 * it shares with the API servers (job/result-mac.ts): checked in place of the
 * signature, at a small part of the cost.
 */
export const RESULT_MAC_HEADER = 'Osapi-Mac';

/**
 * `<ns>.output.<id>.<host>`: live output chunks of one job on one host,
 * held a few minutes by the output stream (outputStream) for their order;
 * the stored result is the record. Outside the jobs stream's `jobs.>`.
 */
export function outputSubject(names: InfraNames, id: string, hostname: string): string {
  return subject(names.namespace, `output.${id}.${hostToken(hostname)}`);
}

/** Every live output chunk of every job: what the API subscribes to, and agents may publish on. */
export function outputFilter(names: InfraNames): string {
  return subject(names.namespace, 'output.>');
}

/** The job id and hostname an output subject names, or null when it is not one. */
export function parseOutputSubject(
  names: InfraNames,
  s: string,
): { id: string; hostname: string } | null {
  const prefix = subject(names.namespace, 'output.');
  if (!s.startsWith(prefix)) return null;
  const parts = s.slice(prefix.length).split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  return { id: parts[0], hostname: hostFromToken(parts[1]) };
}

// ---- KV keys -------------------------------------------------------------

export const STATUS_EVENTS = [
  'submitted',
  'acknowledged',
  'started',
  'completed',
  'failed',
  'retried',
  // An operator cancelled the job (written by `_api`).
  'cancelled',
  // An agent refused a copy of the notification that reached it where the
  // signed target did not send it (agent/addressed.ts); nothing ran.
  'refused',
] as const;
export type StatusEvent = (typeof STATUS_EVENTS)[number];

/** The host name the API writes its own status events under (submitted, cancelled, retried). */
export const API_EVENT_HOST = '_api';

/** `jobs.<id>`: the immutable job definition in the job-queue bucket. */
export function jobKey(id: string): string {
  return `jobs.${id}`;
}

/** `status.<id>.<event>.<hostname>.<unix-nanos>`: one append-only status event. */
export function statusKey(id: string, event: StatusEvent, hostname: string, nanos: bigint): string {
  return `status.${id}.${event}.${hostToken(hostname)}.${nanos}`;
}

/** Filter for every status event of one job. */
export function statusFilter(id: string): string {
  return `status.${id}.>`;
}

export interface ParsedStatusKey {
  id: string;
  event: StatusEvent;
  hostname: string;
  nanos: bigint;
}

export function parseStatusKey(key: string): ParsedStatusKey | null {
  const parts = key.split('.');
  if (parts.length !== 5 || parts[0] !== 'status') return null;
  const [, id, event, host, nanos] = parts as [string, string, string, string, string];
  if (!(STATUS_EVENTS as readonly string[]).includes(event) || !/^\d+$/.test(nanos)) return null;
  return { id, event: event as StatusEvent, hostname: hostFromToken(host), nanos: BigInt(nanos) };
}

/**
 * `claims.<id>.<scope>`: created (never overwritten) by the agent that takes a
 * (job, host) pair. Scope is `_any` for an any-agent job, else the hostname:
 * a create that fails means someone already ran or is running it.
 */
export function claimKey(id: string, scope: { any: true } | { hostname: string }): string {
  return `claims.${id}.${'any' in scope ? '_any' : hostToken(scope.hostname)}`;
}

/**
 * `expected.<id>`: the hosts a broadcast was sent to, kept beside the job
 * definition rather than in it, so that every agent reading the definition
 * does not also read the whole fleet's hostnames.
 */
export function expectedKey(id: string): string {
  return `expected.${id}`;
}

/** The job id of a `jobs.<id>` key, or null when it is not one. */
export function jobIdFromKey(key: string): string | null {
  return key.startsWith('jobs.') ? key.slice('jobs.'.length) : null;
}

/** The job id of an `expected.<id>` key, or null when it is not one. */
export function jobIdFromExpectedKey(key: string): string | null {
  return key.startsWith('expected.') ? key.slice('expected.'.length) : null;
}

/**
 * `rollouts.<id>` in the job-queue bucket: a rate-controlled broadcast's
 * progress (which hosts were told, and which API drives it), written only by
 * API servers, each write conditional on the revision it read.
 */
export function rolloutKey(id: string): string {
  return `rollouts.${id}`;
}

/** Filter for every rollout's progress. */
export const ROLLOUT_FILTER = 'rollouts.>';

/** The job id of a `rollouts.<id>` key, or null when it is not one. */
export function jobIdFromRolloutKey(key: string): string | null {
  return key.startsWith('rollouts.') ? key.slice('rollouts.'.length) : null;
}

/** True for a `status.…` key (parseStatusKey says whether it is a valid one). */
export function isStatusKey(key: string): boolean {
  return key.startsWith('status.');
}

/** Filter for every claim of one job. */
export function claimFilter(id: string): string {
  return `claims.${id}.>`;
}

/** `cancel.<id>` in the job-queue bucket: present once an operator cancelled the job. */
export function cancelKey(id: string): string {
  return `cancel.${id}`;
}

/**
 * `idempotency.<digest>` in the job-queue bucket: the job a client's
 * Idempotency-Key made. The digest covers the user and the key, so neither
 * leaks into a key name and two users never share one.
 */
export function idempotencyKey(digest: string): string {
  return `idempotency.${digest}`;
}

/**
 * `<ns>.cancel.<id>` (core NATS, outside the jobs stream): tells agents
 * running the job to stop it now. Agents that get the job later read
 * `cancelKey` instead, so a missed message does not matter.
 */
export function cancelSubject(names: InfraNames, id: string): string {
  return subject(names.namespace, `cancel.${id}`);
}

/** What every agent subscribes to, for cancellations of any job. */
export function cancelSubjectAll(names: InfraNames): string {
  return subject(names.namespace, 'cancel.*');
}

/** The job id a cancel subject names, or null when it is not one. */
export function jobIdFromCancelSubject(names: InfraNames, s: string): string | null {
  const prefix = subject(names.namespace, 'cancel.');
  return s.startsWith(prefix) ? s.slice(prefix.length) : null;
}

/** Filter for every result of one job in the job-responses bucket. */
export function responseFilter(id: string): string {
  return `${id}.>`;
}

/** `<id>.<hostname>` in the job-responses bucket: one result per (job, host). */
export function responseKey(id: string, hostname: string): string {
  return `${id}.${hostToken(hostname)}`;
}

export function parseResponseKey(key: string): { id: string; hostname: string } | null {
  const dot = key.indexOf('.');
  if (dot <= 0) return null;
  return { id: key.slice(0, dot), hostname: hostFromToken(key.slice(dot + 1)) };
}

/** `entries.<id>` in either audit bucket; ids are UUIDv7, so keys sort by time. */
export function auditKey(id: string): string {
  return `entries.${id}`;
}

export const AUDIT_FILTER = 'entries.>';

export function auditIdFromKey(key: string): string | null {
  return key.startsWith('entries.') ? key.slice('entries.'.length) : null;
}

/** `agents.<hostname>` in the agent-registry bucket. */
export function registryKey(hostname: string): string {
  return `agents.${hostToken(hostname)}`;
}

/**
 * A deployment's key: its host, then a hex digest of its path (a path holds
 * what keys may not); the caller digests, this module imports nothing.
 */
export function deploymentKey(hostname: string, pathDigest: string): string {
  return `${hostToken(hostname)}.${pathDigest}`;
}

/** The hostname of a key in the file-deployments bucket. */
export function hostnameOfDeploymentKey(key: string): string {
  return hostFromToken(key.slice(0, key.indexOf('.')));
}

/** The object store's stream: `OBJ_<bucket>`. */
export function objectStream(bucket: string): string {
  return `OBJ_${bucket}`;
}

/** An object store's subjects: `$O.<bucket>.>` (metadata and chunks). */
export function objectSubjects(bucket: string): string {
  return `$O.${bucket}.>`;
}

/** An agent's facts in the agent-facts bucket: its hostname, as a key token. */
export function factsKey(hostname: string): string {
  return hostToken(hostname);
}

/** The hostname of a key in the agent-facts bucket. */
export function hostnameOfFactsKey(key: string): string {
  return hostFromToken(key);
}

/**
 * `<ns>.control.<host>` (core NATS): the API tells an agent its entry in the
 * agent-state bucket changed. The message says nothing more: the agent reads
 * the entry, which only API servers can write.
 */
export function controlSubject(names: InfraNames, hostname: string): string {
  return subject(names.namespace, `control.${hostToken(hostname)}`);
}

/** Every agent's control subject, for a fleet sharing one agent user. */
export function controlFilter(names: InfraNames): string {
  return subject(names.namespace, 'control.*');
}

/** Every agent's entry in the agent-registry bucket. */
export const REGISTRY_FILTER = 'agents.>';

export function hostnameFromRegistryKey(key: string): string | null {
  return key.startsWith('agents.') ? hostFromToken(key.slice('agents.'.length)) : null;
}

/** Durable consumer names; one filter subject each (nats-server 2.9). */
export function consumerName(base: string, _scope: { any: true }): string {
  return `${base}-any`;
}

/**
 * Name prefixes of the per-agent durable consumers agents of earlier versions
 * made for `_all` (`<base>-all-<host>`), their host (`<base>-host-<host>`) and
 * their labels (`<base>-label-<host>-<label>`); now only ever removed.
 */
export function retiredConsumerPrefixes(base: string): string[] {
  return [`${base}-all-`, `${base}-host-`, `${base}-label-`];
}

/**
 * The keys and subjects an agent writes, as filters: with a hostname, only
 * that host's own (its claims, status events, results, registry entry and
 * live output, and the one `_any` claim per job); without, every agent's.
 */
export function agentWrites(
  names: InfraNames,
  hostname?: string,
): {
  claims: string[];
  status: string;
  response: string;
  registry: string;
  facts: string;
  deployments: string;
  output: string;
} {
  if (hostname === undefined) {
    return {
      claims: ['claims.>'],
      status: 'status.>',
      response: '>',
      registry: '>',
      facts: '>',
      deployments: '>',
      output: outputFilter(names),
    };
  }
  const h = hostToken(hostname);
  return {
    claims: [`claims.*.${h}`, 'claims.*._any'],
    status: `status.*.*.${h}.*`,
    response: `*.${h}`,
    registry: registryKey(hostname),
    facts: factsKey(hostname),
    deployments: `${h}.*`,
    output: subject(names.namespace, `output.*.${h}`),
  };
}

/** What an agent's consumer filters on: the target's subject for either category. */
export function listenSubject(names: InfraNames, t: RouteTarget): string {
  return notifySubject(names, '*' as JobCategory, t);
}

// ---- NATS's own subjects ---------------------------------------------------
// For the JetStream API and for KV keys, as nats-server and the nats.js
// clients (3.x) use them: for the agent's permission lists and for the KV
// writes that bypass the KV client (results with headers, heartbeats and
// timeline events sent without confirmation).

/** The API prefix of JetStream requests in the default domain. */
export const JS_API = '$JS.API';

/**
 * The JetStream API subjects an agent's permissions name (`$JS.API.<verb>`),
 * each for one stream (and consumer); the `All` forms cover every subject
 * under it (`.>`), as a consumer's name or a direct get's key follows.
 */
export const jsApiSubject = {
  accountInfo: (): string => `${JS_API}.INFO`,
  streamInfo: (stream: string): string => `${JS_API}.STREAM.INFO.${stream}`,
  consumerInfo: (stream: string, consumer: string): string =>
    `${JS_API}.CONSUMER.INFO.${stream}.${consumer}`,
  consumerNext: (stream: string, consumer: string): string =>
    `${JS_API}.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  msgGet: (stream: string): string => `${JS_API}.STREAM.MSG.GET.${stream}`,
  directGet: (stream: string): string => `${JS_API}.DIRECT.GET.${stream}`,
  directGetAll: (stream: string): string => `${JS_API}.DIRECT.GET.${stream}.>`,
  consumerCreate: (stream: string): string => `${JS_API}.CONSUMER.CREATE.${stream}`,
  consumerCreateAll: (stream: string): string => `${JS_API}.CONSUMER.CREATE.${stream}.>`,
  durableCreateAll: (stream: string): string => `${JS_API}.CONSUMER.DURABLE.CREATE.${stream}.>`,
  consumerDeleteAll: (stream: string): string => `${JS_API}.CONSUMER.DELETE.${stream}.>`,
} as const;

/** The prefix of JetStream acknowledgements of a consumer's deliveries. */
export function jsAckFilter(stream: string, consumer: string): string {
  return `$JS.ACK.${stream}.${consumer}.>`;
}

/** The stream behind a KV bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject a KV put, delete or purge of `key` is published on. */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}

/** The header the KV clients mark a delete or purge with (`DEL`, `PURGE`). */
export const KV_OPERATION_HEADER = 'KV-Operation';

/** Every key of a bucket (or, with a prefix, those under it). */
export function kvKeys(bucket: string, prefix?: string): string {
  return prefix ? `$KV.${bucket}.${prefix}.>` : `$KV.${bucket}.>`;
}

/** The inbox prefix agents' connections use (the client's default). */
export const AGENT_INBOX_PREFIX = '_INBOX';

/**
 * The inbox prefix of the API server's connection. Replies to the API (job
 * results arriving on the pulls of the buckets it follows, above all) travel
 * on its inbox, so it must not share the `_INBOX.` prefix that agents may
 * subscribe to.
 */
export const API_INBOX_PREFIX = '_INBOX_API';

/** Every reply subject under an inbox prefix. */
export function inboxFilter(prefix: string): string {
  return `${prefix}.>`;
}

/** The subjects the jobs stream captures by default, before the namespace. */
export const DEFAULT_STREAM_SUBJECTS = 'jobs.>';

// ---- Hostnames as name tokens ----------------------------------------------

/** One token of a hostname or label: what a subject or key token may hold. */
export const NAME_SEGMENT = /^[A-Za-z0-9_-]+$/;

const AGENT_NAME = new RegExp(AGENT_NAME_PATTERN);

/** True for names an agent may use as its hostname (AGENT_NAME_PATTERN). */
export function isValidHostname(name: string): boolean {
  return AGENT_NAME.test(name);
}
