// A typed client for the OSAPI REST API. The CLI reaches the API only through
// this module; its types come from the wire contract (src/contract), the same
// schemas the server validates with, so it needs none of the server's libraries.
import type { AgentInfo, AgentList } from '../contract/agent.js';
import type { AuditEntry } from '../contract/audit.js';
import type { CommandResponse } from '../contract/command.js';
import type { ErrorBody, FieldProblem } from '../contract/errors.js';
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
import type {
  DiskResponse,
  DnsResponse,
  DnsUpdateRequest,
  DnsUpdateResponse,
  HostnameResponse,
  LoadResponse,
  MemoryResponse,
  OsResponse,
  PingResponse,
  StatusResponse,
  UptimeResponse,
} from '../contract/node.js';
import type { ExecRequest, ShellRequest } from '../contract/operations.js';
import type { LoginCode, Session, WhoAmI } from '../contract/session.js';
import { readSse, type SseMessage } from './sse.js';

export type {
  DiskResponse,
  DnsResponse,
  DnsUpdateRequest,
  DnsUpdateResponse,
  HostnameResponse,
  LoadResponse,
  MemoryResponse,
  OsResponse,
  PingResponse,
  StatusResponse,
  UptimeResponse,
} from '../contract/node.js';
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

/** Options of `commandExec` and `commandShell`. */
export interface CommandOptions {
  /** Return the job id at once (`?async=true`) instead of waiting for the agents. */
  async?: boolean;
  /**
   * Sent as the `Idempotency-Key` header: the same key (same user, within
   * 24 h) returns the first request's job instead of running it again, so a
   * retry after a lost answer never runs a command twice.
   */
  idempotencyKey?: string;
}

function idempotencyHeaders(key: string | undefined): Record<string, string> | undefined {
  return key === undefined ? undefined : { 'idempotency-key': key };
}

function commandPath(target: string, mode: 'exec' | 'shell', opts: CommandOptions): string {
  return `/node/${encodeURIComponent(target)}/command/${mode}${opts.async ? '?async=true' : ''}`;
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
  agentGet(hostname: string): Promise<OsapiResponse<AgentInfo>> {
    return this.request('GET', `/agent/${encodeURIComponent(hostname)}`);
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
  jobGet(id: string): Promise<OsapiResponse<JobDetail>> {
    return this.request('GET', `/job/${encodeURIComponent(id)}`);
  }

  /** DELETE /job/{id}: 204; OsapiApiError 404 when unknown. */
  jobDelete(id: string): Promise<OsapiResponse<null>> {
    return this.request('DELETE', `/job/${encodeURIComponent(id)}`);
  }

  /**
   * POST /job/{id}/cancel: stops the job on every host still running it (its
   * process group is killed, the partial output kept) and keeps the hosts that
   * have not started from starting. Answers the job as it is once the running
   * hosts reported (or after a few seconds); 409 when it had already ended.
   */
  jobCancel(id: string): Promise<OsapiResponse<JobDetail>> {
    return this.request('POST', `/job/${encodeURIComponent(id)}/cancel`);
  }

  /** POST /job/{id}/retry: a new job with the same operation, optionally elsewhere. */
  jobRetry(id: string, targetHostname?: string): Promise<OsapiResponse<JobCreated>> {
    return this.request(
      'POST',
      `/job/${encodeURIComponent(id)}/retry`,
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
        `/job/${encodeURIComponent(jobId)}/stream`,
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
  auditGet(id: string): Promise<OsapiResponse<{ entry: AuditEntry }>> {
    return this.request('GET', `/audit/${encodeURIComponent(id)}`);
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
   * POST /node/{target}/command/exec: runs a program with an argv list, no shell.
   * With `{ async: true }` it answers at once with `results: []` and
   * `expected_hosts`; read the results with `jobGet(job_id)`.
   * @example
   * const { body } = await client.commandExec('_all', { command: 'sleep', args: ['60'] }, { async: true });
   * const detail = await client.jobGet(body.job_id); // status 'processing' until every host answered
   */
  commandExec(
    target: string,
    body: ExecRequest,
    opts: CommandOptions = {},
  ): Promise<OsapiResponse<CommandResponse>> {
    return this.request(
      'POST',
      commandPath(target, 'exec', opts),
      body,
      idempotencyHeaders(opts.idempotencyKey),
    );
  }

  /**
   * POST /node/{target}/command/shell: runs `/bin/sh -c command`; `async` as for `commandExec`.
   * Both also take `env` (over the agent's environment), `stdin` and `user` (the agent must run as root).
   * @example
   * await client.commandShell('db-01', { command: 'psql -At', user: 'postgres', stdin: 'SELECT 1;', env: { PGDATABASE: 'app' } });
   */
  commandShell(
    target: string,
    body: ShellRequest,
    opts: CommandOptions = {},
  ): Promise<OsapiResponse<CommandResponse>> {
    return this.request(
      'POST',
      commandPath(target, 'shell', opts),
      body,
      idempotencyHeaders(opts.idempotencyKey),
    );
  }

  /**
   * GET /node/{target} (node:read): uptime, load, memory, disks and OS, one item per agent.
   * @example
   * const { body } = await client.nodeStatus('_all');
   * for (const r of body.results) console.log(r.hostname, r.uptime, r.memory?.used);
   */
  nodeStatus(target: string): Promise<OsapiResponse<StatusResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}`);
  }

  /** GET /node/{target}/hostname (node:read): each agent's name, labels and kernel hostname. */
  nodeHostname(target: string): Promise<OsapiResponse<HostnameResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/hostname`);
  }

  /** GET /node/{target}/disk (node:read): mounted local filesystems, sizes in bytes. */
  nodeDisk(target: string): Promise<OsapiResponse<DiskResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/disk`);
  }

  /** GET /node/{target}/memory (node:read): total, free and used bytes. */
  nodeMemory(target: string): Promise<OsapiResponse<MemoryResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/memory`);
  }

  /** GET /node/{target}/load (node:read): 1, 5 and 15 minute load averages. */
  nodeLoad(target: string): Promise<OsapiResponse<LoadResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/load`);
  }

  /** GET /node/{target}/os (node:read): distribution and version. */
  nodeOs(target: string): Promise<OsapiResponse<OsResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/os`);
  }

  /** GET /node/{target}/uptime (node:read): uptime as a duration string. */
  nodeUptime(target: string): Promise<OsapiResponse<UptimeResponse>> {
    return this.request('GET', `/node/${encodeURIComponent(target)}/uptime`);
  }

  /**
   * POST /node/{target}/network/ping (network:write): each host pings an IPv4
   * or IPv6 address (a hostname is refused with a 400).
   * @example
   * const { body } = await client.networkPing('group:web', '10.0.0.1');
   * for (const r of body.results) console.log(r.hostname, r.packet_loss, r.avg_rtt);
   */
  networkPing(target: string, address: string): Promise<OsapiResponse<PingResponse>> {
    return this.request('POST', `/node/${encodeURIComponent(target)}/network/ping`, { address });
  }

  /**
   * GET /node/{target}/network/dns/{interfaceName} (network:read): DNS servers
   * and search domains of that interface on each host.
   * @example
   * const { body } = await client.networkDnsGet('_all', 'eth0');
   * for (const r of body.results) console.log(r.hostname, r.servers, r.error ?? '');
   */
  networkDnsGet(target: string, interfaceName: string): Promise<OsapiResponse<DnsResponse>> {
    return this.request(
      'GET',
      `/node/${encodeURIComponent(target)}/network/dns/${encodeURIComponent(interfaceName)}`,
    );
  }

  /**
   * PUT /node/{target}/network/dns (network:write): sets the DNS servers
   * and/or search domains of an interface on each host (at least one of the
   * two lists; `search_domains: []` clears the search list). Each item is
   * `ok` or `failed`; `changed` is false where the host already had that
   * configuration. Through systemd-resolved where it runs, else the agent's
   * resolv.conf (agent.dns.resolv_conf), replaced atomically.
   * @example
   * const { body } = await client.networkDnsUpdate('group:web', {
   *   servers: ['192.0.2.53', '2001:db8::53'],
   *   search_domains: ['corp.example'],
   *   interface_name: 'eth0',
   * });
   * for (const r of body.results) console.log(r.hostname, r.status, r.changed, r.error ?? '');
   */
  networkDnsUpdate(
    target: string,
    body: DnsUpdateRequest,
  ): Promise<OsapiResponse<DnsUpdateResponse>> {
    return this.request('PUT', `/node/${encodeURIComponent(target)}/network/dns`, body);
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
