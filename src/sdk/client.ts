// A typed client for the OSAPI REST API. The CLI reaches the API only through
// this module; its types come from the wire contract (src/contract), the same
// schemas the server validates with, so it needs none of the server's libraries.
import type {
  AgentInfo,
  AgentList,
  AgentStateChange,
  EnrollmentChange,
  ListPendingAgentsResponse,
} from '../contract/agent.js';
import type { AuditEntry } from '../contract/audit.js';
import type { CommandResponse, ExecRequest, ShellRequest } from '../contract/command.js';
import type { ErrorBody, FieldProblem } from '../contract/errors.js';
import type { FactKeysResponse } from '../contract/facts.js';
import type {
  FileDeleteResponse,
  FileInfoResponse,
  FileListResponse,
  FileUploadResponse,
  StaleDeploymentsResponse,
} from '../contract/file.js';
import type { HealthStatus } from '../contract/health.js';
import type {
  JobCreated,
  JobDetail,
  JobList,
  JobOperation,
  JobStats,
  StreamEndData,
  StreamOutputData,
  StreamResultData,
  StreamSkippedData,
} from '../contract/job.js';
import {
  fieldOfParam,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationAnswer,
  type OperationDeclaration,
  type OperationInput,
  type Operations,
  type OperationType,
  operationPathOf,
  pathParams,
  pathSegment,
  queryFields,
} from '../contract/operations.js';
import type { LoginCode, Session, WhoAmI } from '../contract/session.js';
import { readSse, type SseMessage } from './sse.js';

/** Base64 of bytes, in a browser as in Node. */
function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export type { OperationAnswer, OperationInput, OperationType } from '../contract/operations.js';
export type StatusResponse = OperationAnswer<'node.status.get'>;
export type HostnameResponse = OperationAnswer<'node.hostname.get'>;
export type DiskResponse = OperationAnswer<'node.disk.get'>;
export type MemoryResponse = OperationAnswer<'node.memory.get'>;
export type LoadResponse = OperationAnswer<'node.load.get'>;
export type OsResponse = OperationAnswer<'node.os.get'>;
export type UptimeResponse = OperationAnswer<'node.uptime.get'>;
export type PingResponse = OperationAnswer<'network.ping.do'>;
export type DnsResponse = OperationAnswer<'network.dns.get'>;
export type DnsUpdateRequest = OperationInput<'network.dns.update'>;
export type DnsUpdateResponse = OperationAnswer<'network.dns.update'>;
export type ServiceListResponse = OperationAnswer<'service.list'>;
export type DockerListResponse = OperationAnswer<'docker.container.list'>;
export type DockerExecResponse = OperationAnswer<'docker.container.exec'>;
export type ServiceGetResponse = OperationAnswer<'service.get'>;
/** The answer of every service change: create, update, delete, start, stop, restart, enable, disable. */
export type ServiceMutationResponse = OperationAnswer<'service.start'>;
export type ServiceCreateRequest = OperationInput<'service.create'>;
export type ServiceUpdateRequest = OperationInput<'service.update'>;
export type PackageListResponse = OperationAnswer<'package.list'>;
export type PackageGetResponse = OperationAnswer<'package.get'>;
export type PackageInstallRequest = OperationInput<'package.install'>;
export type PackageInstallResponse = OperationAnswer<'package.install'>;
export type PackageRemoveResponse = OperationAnswer<'package.remove'>;
export type PackageSourcesUpdateResponse = OperationAnswer<'package.sources.update'>;
export type PackageUpdatesResponse = OperationAnswer<'package.updates.list'>;
export type {
  AgentInfo,
  AgentList,
  AuditEntry,
  CommandResponse,
  ErrorBody,
  ExecRequest,
  FieldProblem,
  HealthStatus,
  JobCreated,
  JobDetail,
  JobList,
  JobOperation,
  JobStats,
  LoginCode,
  Session,
  ShellRequest,
  StreamEndData,
  StreamOutputData,
  StreamResultData,
  StreamSkippedData,
  WhoAmI,
};

/**
 * One event of `GET /job/{id}/stream`. `id` is what to pass back as
 * `lastEventId` to resume after it.
 */
export type JobStreamEvent =
  | { event: 'output'; id: string; data: StreamOutputData }
  | { event: 'result'; id: string; data: StreamResultData }
  | { event: 'skipped'; id: string; data: StreamSkippedData }
  | { event: 'end'; id: string; data: StreamEndData };

const STREAM_EVENTS: ReadonlySet<string> = new Set(['output', 'result', 'skipped', 'end']);

export interface StreamJobOptions {
  /** Resume after this event: the output still held after it, then every result again. */
  lastEventId?: string;
  /** Stops following (the job goes on). */
  signal?: AbortSignal;
}

/** The stream sent something that is not one of its events. */
export class OsapiStreamError extends Error {
  override name = 'OsapiStreamError';
}

/** Options of every operation's call (`commandExec`, `nodeStatus`, ..., `call`). */
export interface OperationOptions {
  /** Return the job id at once (`?async=true`) instead of waiting for the agents. */
  async?: boolean;
  /**
   * Sent as the `Idempotency-Key` header: the same key (same user, within
   * 24 h) returns the first request's job instead of running it again, so a
   * retry after a lost answer never runs a command twice.
   */
  idempotencyKey?: string;
}

/** The options of the command methods: those of every operation. */
export type CommandOptions = OperationOptions;

function idempotencyHeaders(key: string | undefined): Record<string, string> | undefined {
  return key === undefined ? undefined : { 'idempotency-key': key };
}

/** An operation's input and options; the input may be left out where it takes nothing. */
export type OperationArgs<T extends OperationType> =
  Record<string, never> extends OperationInput<T>
    ? [input?: OperationInput<T>, opts?: OperationOptions]
    : [input: OperationInput<T>, opts?: OperationOptions];

/**
 * A method per declared operation (src/contract/operations.ts), named as its
 * declaration's `sdk` says: `nodeStatus(target)`, `networkPing(target,
 * {address})`, `commandExec(target, body, {async: true})`, ...; each is
 * `call` with that operation's name.
 */
export type OperationMethods = {
  [T in OperationType as Operations[T]['sdk']]: (
    target: string,
    ...args: OperationArgs<T>
  ) => Promise<OsapiResponse<OperationAnswer<T>>>;
};

/** The route of an operation on a target: path fields from the input, `?async=true`. */
function operationPath(
  decl: OperationDeclaration,
  target: string,
  input: Record<string, unknown>,
  opts: OperationOptions,
): string {
  const path = operationPathOf(decl, target, input);
  const query = new URLSearchParams();
  if (opts.async) query.set('async', 'true');
  // A read's fields besides its path's, and those a declaration puts there, go in the query string.
  for (const name of queryFields(decl)) {
    const value = input[name];
    if (value !== undefined) query.set(name, String(value));
  }
  const q = query.toString();
  return q === '' ? path : `${path}?${q}`;
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Bearer token (JWT); omitted for the open endpoints. */
  token?: string;
  /** Per-request timeout in ms; default: none beyond the server's own. */
  timeoutMs?: number;
  /**
   * How requests are sent; default: the global fetch. In a short-lived Node process,
   * `nodeHttpFetch` (osapi's src/sdk/node-http.ts) starts and ends sooner.
   */
  fetch?: HttpFetch;
}

/** What the client reads of an HTTP response: the global fetch's Response has it all. */
export type HttpResponse = Pick<Response, 'status' | 'ok' | 'text' | 'body'>;

/** Sends one request; rejects (as fetch does) only when no answer came. */
export type HttpFetch = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<HttpResponse>;

/**
 * The API answered with an error status; `body` is its `{error, code, reason,
 * details?, fields?, ...}` (`details` a string; `fields` the per-field problems).
 */
export class OsapiApiError extends Error {
  override name = 'OsapiApiError';
  constructor(
    readonly status: number,
    readonly body: ErrorBody | unknown,
  ) {
    const msg =
      body && typeof body === 'object' && 'error' in body && typeof body.error === 'string'
        ? body.error
        : `HTTP ${status}`;
    super(msg);
  }
}

/** The API could not be reached at all. */
export class OsapiConnectionError extends Error {
  override name = 'OsapiConnectionError';
}

export interface OsapiResponse<T> {
  status: number;
  body: T;
}

/**
 * @example
 * const client = new OsapiClient({ url: 'http://127.0.0.1:8080', token });
 * const { body } = await client.commandExec('_all', { command: 'uname', args: ['-a'] });
 * for (const r of body.results) console.log(r.hostname, r.exit_code, r.stdout);
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface of its name declares the operation methods defined at the end of this file.
export class OsapiClient {
  constructor(private readonly opts: ClientOptions) {}

  /** GET /health: liveness, no token needed. */
  health(): Promise<OsapiResponse<{ status: string }>> {
    return this.request('GET', '/health');
  }

  /** GET /health/ready: 200 when NATS and the layout are available. */
  ready(): Promise<OsapiResponse<{ status: string }>> {
    return this.request('GET', '/health/ready');
  }

  /** GET /version: the server's version, no token needed. */
  version(): Promise<OsapiResponse<{ version: string }>> {
    return this.request('GET', '/version');
  }

  /**
   * GET /health/status (permission health:read): components, streams, buckets,
   * consumers, job counts and agents. A degraded system answers 503 with the
   * same body; that is returned like a 200 (`status: 503`), not thrown.
   * @example
   * const { body } = await client.healthStatus();
   * if (body.status === 'degraded') console.error(body.error);
   */
  async healthStatus(): Promise<OsapiResponse<HealthStatus>> {
    try {
      return await this.request('GET', '/health/status');
    } catch (err) {
      const body = err instanceof OsapiApiError ? err.body : undefined;
      if (
        err instanceof OsapiApiError &&
        err.status === 503 &&
        typeof body === 'object' &&
        body !== null &&
        'status' in body &&
        body.status === 'degraded'
      ) {
        return { status: 503, body: body as HealthStatus };
      }
      throw err;
    }
  }

  /**
   * GET /metrics: the server's Prometheus metrics, as text; no token needed.
   * @example
   * const { body } = await client.metrics();
   * console.log(body.split('\n').filter((l) => l.startsWith('osapi_agents_ready')));
   */
  async metrics(): Promise<OsapiResponse<string>> {
    const res = await this.fetchRaw('GET', '/metrics');
    return { status: res.status, body: await res.text() };
  }

  /**
   * GET /agent: every registered agent, or with `target` the Ready agents it would reach.
   * @example
   * const { body } = await client.agentList('group:web');
   * console.log(body.agents.map((a) => a.hostname));
   */
  agentList(target?: string): Promise<OsapiResponse<AgentList>> {
    const q = target === undefined ? '' : `?target=${encodeURIComponent(target)}`;
    return this.request('GET', `/agent${q}`);
  }

  /** GET /agent/{hostname}: one agent; OsapiApiError 404 when unknown. */
  async agentGet(hostname: string): Promise<OsapiResponse<AgentInfo>> {
    return this.request('GET', `/agent/${pathSegment(hostname, 'hostname')}`);
  }

  /** GET /agent/pending: agents whose key waits for an operator. */
  agentPending(): Promise<OsapiResponse<ListPendingAgentsResponse>> {
    return this.request('GET', '/agent/pending');
  }

  /**
   * POST /agent/{hostname}/accept: trusts the key the agent presents; with
   * `fingerprint`, only if it is that key (400 otherwise).
   */
  async agentAccept(
    hostname: string,
    fingerprint?: string,
  ): Promise<OsapiResponse<EnrollmentChange>> {
    const q = fingerprint === undefined ? '' : `?fingerprint=${encodeURIComponent(fingerprint)}`;
    return this.request('POST', `/agent/${pathSegment(hostname, 'hostname')}/accept${q}`);
  }

  /** POST /agent/{hostname}/reject: the key it presents is not trusted; it takes no jobs. */
  async agentReject(hostname: string): Promise<OsapiResponse<EnrollmentChange>> {
    return this.request('POST', `/agent/${pathSegment(hostname, 'hostname')}/reject`);
  }

  /** POST /agent/{hostname}/drain: it finishes what it runs and takes nothing new; 409 when already drained. */
  async agentDrain(hostname: string): Promise<OsapiResponse<AgentStateChange>> {
    return this.request('POST', `/agent/${pathSegment(hostname, 'hostname')}/drain`);
  }

  /** POST /agent/{hostname}/undrain: it takes jobs again; 409 when it is not drained. */
  async agentUndrain(hostname: string): Promise<OsapiResponse<AgentStateChange>> {
    return this.request('POST', `/agent/${pathSegment(hostname, 'hostname')}/undrain`);
  }

  /**
   * GET /facts/keys: the keys `@fact.<key>` may name in a request, built in
   * and in use by some agent.
   */
  factKeys(): Promise<OsapiResponse<FactKeysResponse>> {
    return this.request('GET', '/facts/keys');
  }

  /**
   * POST /file: stores an object in the file store (201). `changed` is false
   * when it already held this content; another content under the name is a
   * 409 `object_exists` unless `force`.
   * @example
   * await client.fileUpload('motd', new TextEncoder().encode('Hello {{hostname}}\n'), { contentType: 'template' });
   */
  fileUpload(
    name: string,
    content: Uint8Array,
    opts: { contentType?: 'raw' | 'template'; force?: boolean } = {},
  ): Promise<OsapiResponse<FileUploadResponse>> {
    return this.request('POST', `/file${opts.force ? '?force=true' : ''}`, {
      name,
      content: base64(content),
      ...(opts.contentType ? { content_type: opts.contentType } : {}),
    });
  }

  /** GET /file: every object of the file store. */
  fileList(): Promise<OsapiResponse<FileListResponse>> {
    return this.request('GET', '/file');
  }

  /** GET /file/{name}: one object's digest, size and content type; 404 when absent. */
  async fileGet(name: string): Promise<OsapiResponse<FileInfoResponse>> {
    return this.request('GET', `/file/${pathSegment(name, 'name')}`);
  }

  /** DELETE /file/{name}: files deployed from it stay on the hosts; 404 when absent. */
  async fileDelete(name: string): Promise<OsapiResponse<FileDeleteResponse>> {
    return this.request('DELETE', `/file/${pathSegment(name, 'name')}`);
  }

  /** GET /file/stale: deployments whose object changed (or was deleted) since. */
  fileStale(): Promise<OsapiResponse<StaleDeploymentsResponse>> {
    return this.request('GET', '/file/stale');
  }

  /**
   * POST /job: creates a job and returns at once; agents run it.
   * @example
   * const { body } = await client.jobAdd({ type: 'command.shell.execute', data: { command: 'uptime' } }, '_all');
   * const detail = await client.jobGet(body.job_id);
   */
  jobAdd(
    operation: JobOperation,
    targetHostname: string,
    opts: { idempotencyKey?: string } = {},
  ): Promise<OsapiResponse<JobCreated>> {
    return this.request(
      'POST',
      '/job',
      { operation, target_hostname: targetHostname },
      idempotencyHeaders(opts.idempotencyKey),
    );
  }

  /** GET /job: newest first, optionally by status, paged. */
  jobList(
    q: { status?: string; limit?: number; offset?: number } = {},
  ): Promise<OsapiResponse<JobList>> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.request('GET', `/job${qs ? `?${qs}` : ''}`);
  }

  /** GET /job/status: counts by status and operation, and the dead-letter count. */
  jobStatus(): Promise<OsapiResponse<JobStats>> {
    return this.request('GET', '/job/status');
  }

  /** GET /job/{id}: responses per host, agent states and the timeline. */
  async jobGet(id: string): Promise<OsapiResponse<JobDetail>> {
    return this.request('GET', `/job/${pathSegment(id, 'id')}`);
  }

  /** DELETE /job/{id}: 204; OsapiApiError 404 when unknown. */
  async jobDelete(id: string): Promise<OsapiResponse<null>> {
    return this.request('DELETE', `/job/${pathSegment(id, 'id')}`);
  }

  /**
   * POST /job/{id}/cancel: stops the job on every host still running it (its
   * process group is killed, the partial output kept) and keeps the hosts that
   * have not started from starting. Answers the job as it is once the running
   * hosts reported (or after a few seconds); 409 when it had already ended.
   */
  async jobCancel(id: string): Promise<OsapiResponse<JobDetail>> {
    return this.request('POST', `/job/${pathSegment(id, 'id')}/cancel`);
  }

  /** POST /job/{id}/retry: a new job with the same operation, optionally elsewhere. */
  async jobRetry(id: string, targetHostname?: string): Promise<OsapiResponse<JobCreated>> {
    return this.request(
      'POST',
      `/job/${pathSegment(id, 'id')}/retry`,
      targetHostname === undefined ? {} : { target_hostname: targetHostname },
    );
  }

  /**
   * GET /job/{id}/stream (job:read): the job as it happens, as events: a
   * command's `output` as agents send it, a `result` per host once final,
   * `skipped` when this client missed output (the stored result has it), and
   * `end`, after which the iteration stops. When the server closes the stream
   * without `end` it stops too, and a cut connection throws
   * OsapiConnectionError: resume with the last event's `id` as `lastEventId`.
   * Events of kinds this client does not know are passed over. The client's
   * `timeoutMs` does not apply; aborting `signal` ends the iteration quietly.
   * @example
   * const { body } = await client.commandShell('_all', { command: 'apt-get update' }, { async: true });
   * for await (const e of client.streamJob(body.job_id)) {
   *   if (e.event === 'output') process.stdout.write(`${e.data.hostname}: ${e.data.data}`);
   *   else if (e.event === 'result') console.log(e.data.hostname, e.data.state, e.data.exit_code);
   * }
   */
  async *streamJob(jobId: string, opts: StreamJobOptions = {}): AsyncGenerator<JobStreamEvent> {
    let res: HttpResponse;
    try {
      res = await this.fetchRaw(
        'GET',
        `/job/${pathSegment(jobId, 'job_id')}/stream`,
        undefined,
        opts.lastEventId ? { 'last-event-id': opts.lastEventId } : undefined,
        { accept: 'text/event-stream', ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    }
    if (!res.body) return;
    const messages = readSse(res.body as ReadableStream<Uint8Array>);
    try {
      for (;;) {
        let next: IteratorResult<SseMessage>;
        try {
          next = await messages.next();
        } catch (err) {
          if (opts.signal?.aborted) return;
          throw new OsapiConnectionError(
            `the job stream from ${this.opts.url} was cut (${err instanceof Error ? err.message : String(err)}); resume with the last event's id`,
            { cause: err },
          );
        }
        if (next.done) return;
        const m = next.value;
        if (!STREAM_EVENTS.has(m.event)) continue;
        let data: unknown;
        try {
          data = JSON.parse(m.data);
        } catch {
          throw new OsapiStreamError(
            `the job stream sent a ${m.event} event whose data is not JSON: ${m.data.slice(0, 80)}`,
          );
        }
        if (typeof data !== 'object' || data === null) {
          throw new OsapiStreamError(`the job stream sent a ${m.event} event without an object`);
        }
        yield { event: m.event, id: m.id, data } as JobStreamEvent;
        if (m.event === 'end') return;
      }
    } finally {
      // However the loop ends (end, an error, the caller's break), the connection is let go.
      await messages.return(undefined).catch(() => {});
    }
  }

  /**
   * GET /auth/me (any valid token): the token's subject, roles, effective
   * permissions and expiry, so a client offers only what the token allows.
   * @example
   * const { body } = await client.authMe();
   * if (!body.permissions.includes('command:execute')) console.log('read-only');
   */
  authMe(): Promise<OsapiResponse<WhoAmI>> {
    return this.request('GET', '/auth/me');
  }

  /**
   * POST /auth/login-code (any valid token): a one-time code, valid for two
   * minutes, that signs the web console in as this token's user at
   * `/ui/#login=<code>`. The token itself never goes into the link.
   * @example
   * const { body } = await client.authLoginCode();
   * console.log(`${url}/ui/#login=${body.code}`);
   */
  authLoginCode(): Promise<OsapiResponse<LoginCode>> {
    return this.request('POST', '/auth/login-code');
  }

  /**
   * POST /auth/session (no token): trades a login code, once, for a
   * short-lived session token with the same subject and roles; a used or
   * expired code is an OsapiApiError 401.
   * @example
   * const { body } = await new OsapiClient({ url }).authSession(code);
   * const console = new OsapiClient({ url, token: body.token });
   */
  authSession(code: string): Promise<OsapiResponse<Session>> {
    return this.request('POST', '/auth/session', { code });
  }

  /**
   * HEAD /ui/: whether this server serves the web console. 200 when it does,
   * 503 when its files are not built, 404 when it is turned off
   * (api.server.ui.enabled); 401 without a token in that last case.
   * @example
   * if ((await client.consoleStatus()) !== 200) console.error('no console here');
   */
  async consoleStatus(): Promise<number> {
    try {
      return (await this.fetchRaw('HEAD', '/ui/')).status;
    } catch (err) {
      if (err instanceof OsapiApiError) return err.status;
      throw err;
    }
  }

  /** GET /audit: entries newest first, paged (limit 1..100, default 20). */
  auditList(
    q: { limit?: number; offset?: number } = {},
  ): Promise<OsapiResponse<{ total_items: number; items: AuditEntry[] }>> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.request('GET', `/audit${qs ? `?${qs}` : ''}`);
  }

  /** GET /audit/{id}: one entry; OsapiApiError 404 when unknown. */
  async auditGet(id: string): Promise<OsapiResponse<{ entry: AuditEntry }>> {
    return this.request('GET', `/audit/${pathSegment(id, 'id')}`);
  }

  /**
   * GET /audit/export?format=jsonl: every entry, oldest first, one JSON per
   * line, as a stream (the log can be larger than memory).
   * @example
   * await pipeline(await client.auditExport(), createWriteStream('audit.jsonl'));
   */
  async auditExport(): Promise<NodeJS.ReadableStream> {
    const res = await this.fetchRaw('GET', '/audit/export?format=jsonl');
    if (!res.body) throw new OsapiApiError(res.status, null);
    const { Readable } = await import('node:stream');
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  }

  /**
   * Runs a declared operation on a target and answers one item per host (its
   * methods, e.g. `nodeStatus` or `commandExec`, call this). With
   * `{ async: true }` it answers at once with `results: []` and
   * `expected_hosts`; read the results with `jobGet(job_id)` or `streamJob`.
   * @example
   * const { body } = await client.call('network.ping.do', 'group:web', { address: '10.0.0.1' });
   * for (const r of body.results) console.log(r.hostname, r.packet_loss, r.avg_rtt);
   * @example
   * const { body } = await client.commandExec('_all', { command: 'sleep', args: ['60'] }, { async: true });
   * const detail = await client.jobGet(body.job_id); // status 'processing' until every host answered
   */
  async call<T extends OperationType>(
    type: T,
    target: string,
    ...args: OperationArgs<T>
  ): Promise<OsapiResponse<OperationAnswer<T>>> {
    const decl: OperationDeclaration = OPERATIONS[type];
    const input = (args[0] ?? {}) as Record<string, unknown>;
    const opts = args[1] ?? {};
    const elsewhere = new Set([...pathParams(decl).map(fieldOfParam), ...queryFields(decl)]);
    const body = Object.fromEntries(Object.entries(input).filter(([k]) => !elsewhere.has(k)));
    return this.request(
      decl.method,
      operationPath(decl, target, input, opts),
      decl.method === 'GET' ? undefined : body,
      idempotencyHeaders(opts.idempotencyKey),
    );
  }

  /**
   * Any route, for what has no method of its own yet: JSON in and out. An
   * error status throws OsapiApiError; an unreachable API OsapiConnectionError.
   * @example
   * const { body } = await client.request<{ version: string }>('GET', '/version');
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders?: Record<string, string>,
  ): Promise<OsapiResponse<T>> {
    const res = await this.fetchRaw(method, path, body, extraHeaders);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** The HTTP exchange itself: a connection failure or an error status throws. */
  private async fetchRaw(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders?: Record<string, string>,
    /** For a stream: what it accepts, and the caller's signal instead of the timeout. */
    stream?: { accept: string; signal?: AbortSignal },
  ): Promise<HttpResponse> {
    const url = new URL(path, this.opts.url.endsWith('/') ? this.opts.url : `${this.opts.url}/`);
    const headers: Record<string, string> = {
      accept: stream?.accept ?? 'application/json',
      ...extraHeaders,
    };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signal = stream
      ? stream.signal
      : this.opts.timeoutMs
        ? AbortSignal.timeout(this.opts.timeoutMs)
        : undefined;
    let res: HttpResponse;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      // The caller stopped it: not a connection problem.
      if (signal?.aborted && stream) throw err;
      const cause =
        err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new OsapiConnectionError(
        `cannot reach the OSAPI API at ${this.opts.url} (${cause}). Is it running? Start it with \`osapi start\`, or pass --url.`,
        { cause: err },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text for the error
      }
      throw new OsapiApiError(res.status, parsed);
    }
    return res;
  }
}

// The declared operations' methods, made from their declarations: the interface
// gives them their types, the loop their bodies.
export interface OsapiClient extends OperationMethods {}
for (const type of OPERATION_TYPES) {
  Object.defineProperty(OsapiClient.prototype, OPERATIONS[type].sdk, {
    value(this: OsapiClient, target: string, ...args: OperationArgs<typeof type>) {
      return this.call(type, target, ...args);
    },
    writable: true,
    configurable: true,
  });
}
