// Sends a running command's output to whoever watches it live: pieces are
// gathered for a moment (OUTPUT_FLUSH_MS or OUTPUT_CHUNK_BYTES, whichever
// comes first) and published with core NATS, which never waits for a reader.
// Each stream stops at the cap the stored result has; the result is the record.
import type { NatsConnection } from '@nats-io/transport-node';
import type { OutputStream } from '../contract/states.js';
import { completeUtf8Length } from '../exec/output-cap.js';
import { OUTPUT_CHUNK_BYTES, OUTPUT_FLUSH_MS, type OutputChunk } from '../job/live-output.js';
import type { Logger } from '../log/logger.js';
import { type InfraNames, outputSubject } from '../names/names.js';

export interface LiveOutput {
  /** The runner's onOutput: never blocks, never throws. */
  push(stream: OutputStream, chunk: Buffer): void;
  /** Sends what is still gathered; nothing is sent after. Returns how many chunks were sent. */
  close(): number;
}

export interface LiveOutputOptions {
  nc: NatsConnection;
  names: InfraNames;
  jobId: string;
  hostname: string;
  /** Per stream, as agent.max_output_bytes caps the stored result. */
  maxBytes: number;
  logger: Logger;
  flushMs?: number;
  chunkBytes?: number;
}

interface StreamState {
  pending: Buffer[];
  pendingBytes: number;
  /** Bytes taken for sending so far, against the cap. */
  taken: number;
  /** The cap was reached: the chunk that says so is still to be sent. */
  capReached: boolean;
  done: boolean;
}

export function startLiveOutput(opts: LiveOutputOptions): LiveOutput {
  const flushMs = opts.flushMs ?? OUTPUT_FLUSH_MS;
  const chunkBytes = opts.chunkBytes ?? OUTPUT_CHUNK_BYTES;
  const subject = outputSubject(opts.names, opts.jobId, opts.hostname);
  const streams: Record<OutputStream, StreamState> = {
    stdout: fresh(),
    stderr: fresh(),
  };
  const encoder = new TextEncoder();
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failed = false;

  const publish = (stream: OutputStream, data: string, truncated: boolean) => {
    const chunk: OutputChunk = {
      job_id: opts.jobId,
      hostname: opts.hostname,
      stream,
      seq: seq++,
      data,
      ...(truncated ? { truncated: true as const } : {}),
    };
    try {
      opts.nc.publish(subject, encoder.encode(JSON.stringify(chunk)));
    } catch (err) {
      // The connection is closing or closed: live output is lost, the result is not.
      if (!failed) {
        failed = true;
        opts.logger.debug(
          { job_id: opts.jobId, err: String(err) },
          'live output could not be sent; the stored result keeps it',
        );
      }
    }
  };

  /** Sends what is gathered for one stream, in pieces of at most chunkBytes. */
  const flush = (stream: OutputStream, final: boolean) => {
    const s = streams[stream];
    if (s.done) return;
    const all = s.pending.length === 1 ? (s.pending[0] as Buffer) : Buffer.concat(s.pending);
    // A character cut between two pieces waits for its rest; at the very end
    // of the output it goes as it is, and at the cap it is left out.
    const sendable = final && !s.capReached ? all.length : completeUtf8Length(all);
    let offset = 0;
    while (offset < sendable) {
      let end = Math.min(offset + chunkBytes, sendable);
      if (end < sendable) {
        const whole = completeUtf8Length(all.subarray(offset, end));
        if (whole > 0) end = offset + whole;
      }
      publish(stream, all.subarray(offset, end).toString('utf8'), s.capReached && end === sendable);
      offset = end;
    }
    if (s.capReached && sendable === 0) publish(stream, '', true);
    const rest = all.subarray(sendable);
    s.pending = rest.length > 0 && !s.capReached ? [rest] : [];
    s.pendingBytes = s.pending.length > 0 ? rest.length : 0;
    if (s.capReached || final) s.done = true;
  };

  const flushAll = () => {
    timer = undefined;
    flush('stdout', false);
    flush('stderr', false);
  };

  return {
    push(stream, chunk) {
      const s = streams[stream];
      if (closed || s.done || s.capReached) return;
      const room = opts.maxBytes - s.taken;
      const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (chunk.length > room) s.capReached = true;
      s.taken += take.length;
      if (take.length > 0) {
        // The runner's buffer is its own: keep a copy only of what is sent.
        s.pending.push(Buffer.from(take));
        s.pendingBytes += take.length;
      }
      if (s.capReached || s.pendingBytes >= chunkBytes) flush(stream, false);
      else timer ??= setTimeout(flushAll, flushMs);
    },
    close() {
      if (closed) return seq;
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      flush('stdout', true);
      flush('stderr', true);
      return seq;
    },
  };
}

function fresh(): StreamState {
  return { pending: [], pendingBytes: 0, taken: 0, capReached: false, done: false };
}
