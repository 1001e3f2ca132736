// GET /job/{id}/stream (job:read): one job as Server-Sent Events. `output`
// events come from the live output hub as agents send them; a `result` event
// per host once its state is final (its stored result read for the exit code);
// `end` once the job is. Output is a log a client resumes in with
// Last-Event-ID; results and the end are state, sent again on every connection.
// A client that reads slowly falls behind in the hub's log, never holds data
// of its own, and is told when output it had not read was dropped.
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  JobIdParams,
  type StreamEndData,
  StreamHeaders,
  type StreamOutputData,
  type StreamResultData,
  type StreamSkippedData,
} from '../../contract/job.js';
import type { JobsView } from '../../job/jobs-view.js';
import { CommandResult, type JobResponse } from '../../job/records.js';
import type { ResponseWatch } from '../../job/response-watch.js';
import { validatorOf } from '../../job/schema-check.js';
import { isFinalHostState } from '../../job/status.js';
import { type JobStore, readResponse } from '../../job/store.js';
import { ApiError } from '../errors.js';
import { findJob } from './find.js';
import type { OutputHub, OutputPosition } from './output-hub.js';

export interface JobStreamSettings {
  /** A comment line this often keeps proxies from closing a quiet stream; states are checked again too. */
  heartbeatMs: number;
  /** Bytes waiting in the response's buffer past which no more output is written until the client reads. */
  slowReaderBytes: number;
  /**
   * Streams one token subject may hold open at once (api.server.limits.max_streams_per_user):
   * each holds a connection, so one token must not take them all.
   */
  maxPerUser: number;
}

export const DEFAULT_STREAM_SETTINGS: JobStreamSettings = {
  heartbeatMs: 15_000,
  slowReaderBytes: 256 * 1024,
  maxPerUser: 20,
};

export interface JobStreamDeps {
  store: JobStore;
  jobs: JobsView;
  responses: ResponseWatch;
  output: OutputHub;
  stream?: Partial<JobStreamSettings>;
}

/** Output events read from the hub at a time, between checks of the client's buffer. */
const BATCH = 64;

const ID_PATTERN = /^(?:0|([0-9a-f]{8,16})-(\d{1,15}))$/;

const SKIPPED_MESSAGE =
  'output was skipped: this client read more slowly than it came, or connected after it was dropped from the buffer; the stored result has it whole (GET /job/{id})';

/** `0` or `<log tag>-<index>`, as this route writes ids; anything else is refused. */
export function parseLastEventId(raw: string | undefined): OutputPosition | null {
  if (raw === undefined || raw === '') return null;
  const m = ID_PATTERN.exec(raw);
  if (!m) {
    throw new ApiError(
      'invalid_request',
      `invalid header: Last-Event-ID must be an id this stream sent (0, or like 3f2a9c1e-42), got "${raw.slice(0, 64)}"`,
      { fields: [{ field: 'last-event-id', message: 'is not an id this stream sent' }] },
    );
  }
  return m[1] && m[2] ? { tag: m[1], index: Number(m[2]) } : null;
}

interface Answer {
  status: StreamResultData['status'];
  exit_code: number | null;
  error?: string;
  /** Live output chunks the agent sent, and when it finished (to wait for recent ones). */
  outputChunks?: number;
  finishedAtMs?: number;
}

function answerOf(r: JobResponse): Answer {
  return {
    status: r.status,
    exit_code: validatorOf(CommandResult).Check(r.data) ? r.data.exit_code : null,
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.output_chunks !== undefined ? { outputChunks: r.output_chunks } : {}),
    finishedAtMs: Date.parse(r.finished_at),
  };
}

/**
 * How long a host's result waits for the live output the agent says it sent
 * before it: output and results reach the API by different streams, so the
 * last chunks may come a moment after the result.
 */
const OUTPUT_CATCH_UP_MS = 2_000;
/** Only a result this recent waits: older output is gone or was never followed. */
const RECENT_RESULT_MS = 10_000;

type StateEvent =
  | { event: 'result'; data: StreamResultData }
  | { event: 'end'; data: StreamEndData };

class JobStreamSession {
  private cursor: OutputPosition | null;
  /** Results and the end, waiting for the output before them to be written. */
  private readonly queued: StateEvent[] = [];
  private readonly sent = new Set<string>();
  private readonly answers = new Map<string, Answer>();
  /** Hosts whose result waits for its last output chunks, since when. */
  private readonly awaitingOutput = new Map<string, number>();
  private readonly cleanups: Array<() => void> = [];
  private ending = false;
  private closed = false;
  private waitingForDrain = false;
  private checking = false;
  private checkAgain = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly jobId: string,
    private readonly deps: JobStreamDeps,
    private readonly settings: JobStreamSettings,
    after: OutputPosition | null,
    private readonly log: FastifyBaseLogger,
  ) {
    this.cursor = after;
  }

  start(onClose: () => void): void {
    const { res, deps, jobId } = this;
    // A client gone before this point closed the response already: no 'close' event comes.
    if (res.destroyed) {
      this.closed = true;
      onClose();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold events back to fill their buffers.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    res.once('close', () => {
      this.close();
      onClose();
    });
    // Every source is listened to before anything is read, so nothing falls between.
    this.cleanups.push(
      deps.output.watch(jobId, () => {
        this.pump();
        if (this.awaitingOutput.size > 0) this.check();
      }),
    );
    this.cleanups.push(
      deps.responses.register(jobId, (r) => {
        this.answers.set(r.hostname, answerOf(r));
        this.check();
      }),
    );
    this.cleanups.push(deps.jobs.onChange(jobId, () => this.check()));
    const beat = setInterval(() => {
      if (res.writableLength === 0) res.write(': keep-alive\n\n');
      // States that change with time alone (a host that never answered) are seen here.
      this.check();
    }, this.settings.heartbeatMs);
    this.cleanups.push(() => clearInterval(beat));
    this.pump();
    this.check();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.cleanups.splice(0)) fn();
    if (!this.res.writableEnded) this.res.end();
  }

  private id(): string {
    return this.cursor ? `${this.cursor.tag}-${this.cursor.index}` : '0';
  }

  private write(event: string, id: string, data: unknown): void {
    this.res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes held output the client has not had, while its buffer allows; then results and the end. */
  private pump(): void {
    if (this.closed || this.waitingForDrain) return;
    const { res, deps, jobId } = this;
    for (;;) {
      if (res.writableLength >= this.settings.slowReaderBytes) {
        this.waitingForDrain = true;
        res.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        return;
      }
      const read = deps.output.read(jobId, this.cursor, BATCH);
      if (!read) break;
      const first = read.events[0];
      if (read.skipped > 0) {
        const before = first ? first.index - 1 : read.through;
        const skipped: StreamSkippedData = { events: read.skipped, message: SKIPPED_MESSAGE };
        this.write('skipped', `${read.tag}-${before}`, skipped);
      }
      for (const e of read.events) {
        const data: StreamOutputData = {
          hostname: e.hostname,
          stream: e.stream,
          data: e.data,
          ...(e.truncated ? { truncated: true as const } : {}),
        };
        this.write('output', `${read.tag}-${e.index}`, data);
      }
      this.cursor = { tag: read.tag, index: read.through };
      if (read.events.length < BATCH) break;
    }
    // Output has caught up: a host's result follows the output it closes.
    for (const q of this.queued.splice(0)) this.write(q.event, this.id(), q.data);
    if (this.ending) this.close();
  }

  /** Looks for hosts whose state became final and for the job's end; one look at a time. */
  private check(): void {
    if (this.closed || this.ending) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    void this.look()
      .catch((err: unknown) => {
        this.log.warn({ job_id: this.jobId, err: String(err) }, 'job stream check failed');
      })
      .finally(() => {
        this.checking = false;
        if (this.checkAgain) {
          this.checkAgain = false;
          this.check();
        }
      });
  }

  /**
   * True while the host's result should wait for live output the agent
   * sent before it and that has not arrived: at most OUTPUT_CATCH_UP_MS, and
   * only for a recent result (an old job's output is not followed any more).
   */
  private outputStillComing(hostname: string, answer: Answer): boolean {
    const want = answer.outputChunks ?? 0;
    if (want === 0 || this.deps.output.arrived(this.jobId, hostname) >= want) {
      this.awaitingOutput.delete(hostname);
      return false;
    }
    const now = Date.now();
    if (answer.finishedAtMs === undefined || now - answer.finishedAtMs > RECENT_RESULT_MS) {
      return false;
    }
    const since = this.awaitingOutput.get(hostname);
    if (since === undefined) {
      this.awaitingOutput.set(hostname, now);
      // A little past the bound, so the look it triggers finds the wait over.
      const timer = setTimeout(() => this.check(), OUTPUT_CATCH_UP_MS + 50);
      this.cleanups.push(() => clearTimeout(timer));
      return true;
    }
    return now - since < OUTPUT_CATCH_UP_MS;
  }

  private async look(): Promise<void> {
    const { deps, jobId } = this;
    const entry = deps.jobs.get(jobId);
    if (!entry) {
      // Deleted (or expired) while followed: nothing more will come; GET says 404.
      this.close();
      return;
    }
    const derived = deps.jobs.derive(entry);
    for (const [hostname, host] of Object.entries(derived.hosts).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      if (this.sent.has(hostname) || !isFinalHostState(host.status)) continue;
      let answer = this.answers.get(hostname);
      if (!answer) {
        // Stored before this client came (or its watch event is still on the way).
        const stored = await readResponse(deps.store, jobId, hostname).catch(() => null);
        if (this.closed) return;
        answer = stored ? answerOf(stored) : { status: null, exit_code: null };
        if (stored) this.answers.set(hostname, answer);
      }
      if (this.sent.has(hostname)) continue;
      if (this.outputStillComing(hostname, answer)) continue;
      this.sent.add(hostname);
      const error = answer.error ?? host.error;
      this.queued.push({
        event: 'result',
        data: {
          hostname,
          status: answer.status,
          exit_code: answer.exit_code,
          state: host.status,
          ...(error !== undefined ? { error } : {}),
        },
      });
    }
    const now = deps.jobs.derive(deps.jobs.get(jobId) ?? entry);
    if (now.final && Object.keys(now.hosts).every((h) => this.sent.has(h))) {
      this.ending = true;
      this.queued.push({ event: 'end', data: { status: now.status } });
    }
    this.pump();
  }
}

const EXAMPLE = [
  'retry: 2000',
  '',
  'event: output',
  'id: 3f2a9c1e-1',
  'data: {"hostname":"web-01","stream":"stdout","data":"starting\\n"}',
  '',
  'event: result',
  'id: 3f2a9c1e-1',
  'data: {"hostname":"web-01","status":"completed","exit_code":0,"state":"completed"}',
  '',
  'event: end',
  'id: 3f2a9c1e-1',
  'data: {"status":"completed"}',
  '',
  '',
].join('\n');

const DESCRIPTION = [
  'The job as Server-Sent Events, live: a command’s output as agents send it, each host’s result, and the end.',
  '',
  '- `output` `{hostname, stream, data, truncated?}`: a piece of stdout or stderr (not cut at lines); `truncated` on the last piece of a stream that reached the agent’s cap (agent.max_output_bytes).',
  '- `result` `{hostname, status, exit_code, state, error?}`: once a host’s state is final; `status` and `exit_code` from its stored result (null when it has none), `state` as in `agent_states`.',
  '- `skipped` `{events, message}`: output this client did not get (it read too slowly, or came after the output was dropped from the buffer); the stored result has it whole.',
  '- `end` `{status}`: the job is final; the server then closes the stream. A job already final when connecting gets its results and `end` at once.',
  '',
  'Each event has an `id`; reconnecting with `Last-Event-ID` sends the output held after it, then every result again (a result is one per host: a repeat is the same fact). A comment line every 15 s keeps a quiet stream open. Live output is held in memory for a while, bounded; the stored result (GET /job/{id}) is the record.',
  '',
  'One token subject may hold `api.server.limits.max_streams_per_user` streams open at once (default 20); one more is refused with 429 `too_many_streams`.',
].join('\n');

/** Registers the route; `preClose` ends every open stream so the server can close. */
export function registerJobStreamRoute(app: FastifyInstance, deps: JobStreamDeps): void {
  const open = new Set<JobStreamSession>();
  // Open streams per token subject. A Map: a subject is any string a token holds.
  const perUser = new Map<string, number>();
  const settings = { ...DEFAULT_STREAM_SETTINGS, ...deps.stream };
  app.addHook('preClose', (done) => {
    for (const s of open) s.close();
    done();
  });

  app.get<{ Params: { id: string }; Headers: { 'last-event-id'?: string } }>(
    '/job/:id/stream',
    {
      config: { permission: 'job:read' },
      // A HEAD request would hold a stream open that it never reads.
      exposeHeadRoute: false,
      schema: {
        summary: 'Follow a job live (Server-Sent Events)',
        description: DESCRIPTION,
        params: JobIdParams,
        headers: StreamHeaders,
        response: {
          200: {
            description: 'An event stream: `output`, `result`, `skipped` and `end` events.',
            content: {
              'text/event-stream': {
                schema: Type.String({ examples: [EXAMPLE] }),
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const after = parseLastEventId(req.headers['last-event-id']);
      const id = req.params.id;
      await findJob(deps, id);
      const subject = req.user?.subject ?? '';
      const held = perUser.get(subject) ?? 0;
      if (held >= settings.maxPerUser) {
        throw new ApiError(
          'too_many_streams',
          `${subject} already follows ${held} job streams, the most one token subject may hold open at once (api.server.limits.max_streams_per_user); close one and try again`,
          { max_streams_per_user: settings.maxPerUser },
        );
      }
      perUser.set(subject, held + 1);
      reply.hijack();
      const session = new JobStreamSession(reply.raw, id, deps, settings, after, req.log);
      open.add(session);
      let released = false;
      session.start(() => {
        if (released) return;
        released = true;
        open.delete(session);
        const left = (perUser.get(subject) ?? 1) - 1;
        if (left > 0) perUser.set(subject, left);
        else perUser.delete(subject);
      });
    },
  );
}
