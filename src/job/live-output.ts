// The live output record: a piece of a command's stdout or stderr, published
// by the agent while the command runs (subject: names.ts `outputSubject`) and
// read by the API. Best effort and bounded; the stored result stays the record.
import { type Static, Type } from 'typebox';
import { OUTPUT_STREAMS } from '../contract/states.js';
import { recordParser } from './records.js';

/** An agent sends what a command wrote at least this often while it writes... */
export const OUTPUT_FLUSH_MS = 50;
/** ...or as soon as this much of one stream is waiting; no chunk holds more. */
export const OUTPUT_CHUNK_BYTES = 16 * 1024;

export const OutputChunk = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  stream: Type.Enum(OUTPUT_STREAMS),
  /** Per (job, host), from 0, across both streams: the order the agent sent them in. */
  seq: Type.Integer({ minimum: 0 }),
  /** UTF-8 text; bytes that are not UTF-8 arrive as U+FFFD (the stored result is decoded alike). */
  data: Type.String({ maxLength: OUTPUT_CHUNK_BYTES }),
  /**
   * Set on the last chunk of a stream that reached the agent's cap
   * (agent.max_output_bytes): nothing more of that stream is sent live. The
   * stored result keeps the head and the tail.
   */
  truncated: Type.Optional(Type.Literal(true)),
});
export type OutputChunk = Static<typeof OutputChunk>;

export const parseOutputChunk = recordParser(OutputChunk, 'output chunk');
