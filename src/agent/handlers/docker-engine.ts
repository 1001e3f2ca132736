// The Docker Engine API over its unix socket, as plain HTTP/1.1: a request
// with a JSON body, its JSON answer, and the multiplexed output stream of an
// exec. The version is pinned in every path, so a newer daemon answers as
// this version did (Debian 12's docker.io 20.10 speaks 1.41), and an older
// one says it is too old instead of answering in a shape not read here.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { errorText } from '../../exec/errno.js';
import { OutputCap } from '../../exec/output-cap.js';

export const DOCKER_API_VERSION = 'v1.41';
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The most of a JSON answer read: a listing of thousands of containers fits. */
const JSON_ANSWER_MAX_BYTES = 32 * 1024 * 1024;

/** No daemon answers on the socket: the host cannot run the operation (`skipped`). */
export class EngineUnreachable extends Error {}

export interface EngineAnswer {
  status: number;
  /** The parsed JSON body, or the text when it is not JSON, or null when empty. */
  body: unknown;
}

export interface EngineRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
  timeoutMs: number;
}

/** The socket's error as the person who asked reads it, or EngineUnreachable when nothing listens. */
function socketError(socket: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') {
    return new EngineUnreachable(
      `no Docker daemon answers on ${socket} (${code}): install and start Docker (Debian's docker.io), or set agent.docker.socket to the daemon's socket`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new Error(
      `the Docker daemon's socket ${socket} refuses this agent (${code}): the agent must run as root or in the socket's group`,
    );
  }
  return new Error(`the Docker daemon on ${socket} did not answer: ${errorText(err)}`);
}

function pathOf(req: { path: string; query?: Record<string, string> }): string {
  const query = req.query ? new URLSearchParams(req.query).toString() : '';
  return `/${DOCKER_API_VERSION}${req.path}${query ? `?${query}` : ''}`;
}

/** Sends the request; `onResponse` reads the answer and settles the promise. */
function send<T>(
  socket: string,
  req: EngineRequest,
  onResponse: (res: IncomingMessage, resolve: (v: T) => void, reject: (e: Error) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (req.signal.aborted) {
      reject(new Error('cancelled before the Docker daemon was asked'));
      return;
    }
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const r = httpRequest({
      socketPath: socket,
      method: req.method,
      path: pathOf(req),
      headers: {
        Host: 'docker',
        ...(payload
          ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }
          : {}),
      },
    });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (e: Error) => settle(() => reject(e));
    const onAbort = () => {
      fail(new Error('cancelled while the Docker daemon was working on it'));
      r.destroy();
    };
    const timer = setTimeout(() => {
      fail(
        new Error(`the Docker daemon did not answer within ${Math.round(req.timeoutMs / 1000)} s`),
      );
      r.destroy();
    }, req.timeoutMs);
    req.signal.addEventListener('abort', onAbort, { once: true });
    r.on('error', (err) => fail(socketError(socket, err)));
    r.on('response', (res) => {
      res.on('error', (err) => fail(socketError(socket, err)));
      onResponse(
        res,
        (v) => settle(() => resolve(v)),
        (e) => {
          fail(e);
          res.destroy();
        },
      );
    });
    r.end(payload);
  });
}

/** One request with a JSON (or empty) answer. */
export function engineCall(socket: string, req: EngineRequest): Promise<EngineAnswer> {
  return send<EngineAnswer>(socket, req, (res, resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > JSON_ANSWER_MAX_BYTES) {
        reject(new Error(`the Docker daemon's answer passed ${JSON_ANSWER_MAX_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: res.statusCode ?? 0, body: parseBody(text) });
    });
  });
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The daemon's own message in an error answer (`{"message": "..."}`). */
export function engineMessage(answer: EngineAnswer): string {
  const b = answer.body as { message?: unknown } | string | null;
  if (typeof b === 'string' && b.trim() !== '') return b.trim();
  if (b && typeof b === 'object' && typeof b.message === 'string') return b.message;
  return `HTTP status ${answer.status}`;
}

export interface StreamOutput {
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

/**
 * Starts an exec and reads its output until the command ends. Without a
 * TTY the daemon multiplexes both streams: each frame is an 8-byte header
 * (the stream: 1 stdout, 2 stderr; three zero bytes; the payload's length,
 * big-endian) and its payload. Each stream is kept within `maxBytes` as a
 * command's is (head and tail, the middle counted).
 */
export function engineExecStream(
  socket: string,
  req: EngineRequest,
  maxBytes: number,
): Promise<{ status: number; output: StreamOutput; error?: string }> {
  return send(socket, req, (res, resolve) => {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
      res.on('end', () => {
        const message = engineMessage({
          status,
          body: parseBody(Buffer.concat(chunks).toString('utf8')),
        });
        resolve({ status, output: emptyOutput(), error: message });
      });
      return;
    }
    const demux = new StreamDemux(maxBytes);
    res.on('data', (chunk: Buffer) => demux.push(chunk));
    res.on('end', () => resolve({ status, output: demux.finish() }));
  });
}

function emptyOutput(): StreamOutput {
  return { stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false };
}

/** Splits the daemon's multiplexed stream into stdout and stderr, each capped. */
export class StreamDemux {
  readonly #out: OutputCap;
  readonly #err: OutputCap;
  #pending: Buffer = Buffer.alloc(0);
  /** Bytes of the current frame's payload still to come, and whose they are. */
  #left = 0;
  #stream = 1;

  constructor(maxBytes: number) {
    this.#out = new OutputCap(maxBytes);
    this.#err = new OutputCap(maxBytes);
  }

  push(chunk: Buffer): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, buf.length);
        (this.#stream === 2 ? this.#err : this.#out).push(buf.subarray(0, take));
        this.#left -= take;
        buf = buf.subarray(take);
        continue;
      }
      if (buf.length < 8) {
        this.#pending = Buffer.from(buf);
        return;
      }
      this.#stream = buf[0] ?? 1;
      this.#left = buf.readUInt32BE(4);
      buf = buf.subarray(8);
    }
  }

  finish(): StreamOutput {
    const out = this.#out.finish();
    const err = this.#err.finish();
    return {
      stdout: out.text,
      stderr: err.text,
      stdoutTruncated: out.truncated,
      stderrTruncated: err.truncated,
    };
  }
}
