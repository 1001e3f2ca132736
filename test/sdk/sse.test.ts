// The SDK's Server-Sent Events reader, on the stream formats the standard
// allows, split into pieces at every possible place (as a network splits it).
import { describe, expect, it } from 'vitest';
import { readSse, type SseMessage } from '../../src/sdk/sse.js';

function body(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of pieces) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
}

async function read(pieces: string[]): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of readSse(body(pieces))) out.push(m);
  return out;
}

const STREAM = [
  'retry: 2000',
  '',
  ': a comment',
  'event: output',
  'id: abc-1',
  'data: {"a":1}',
  '',
  'data: first',
  'data:second',
  '',
  'event: end',
  'data',
  '',
  'data: unfinished',
].join('\n');

const EXPECTED: SseMessage[] = [
  { event: 'output', data: '{"a":1}', id: 'abc-1' },
  // The id stays until another is sent; the event type does not.
  { event: 'message', data: 'first\nsecond', id: 'abc-1' },
  { event: 'end', data: '', id: 'abc-1' },
];

describe('readSse', () => {
  it('reads events, joins data lines, keeps the last id, skips comments and retry', async () => {
    expect(await read([STREAM])).toEqual(EXPECTED);
  });

  it('reads the same whatever the line ends (CRLF, CR)', async () => {
    expect(await read([STREAM.replaceAll('\n', '\r\n')])).toEqual(EXPECTED);
    expect(await read([STREAM.replaceAll('\n', '\r')])).toEqual(EXPECTED);
  });

  it('reads the same however the body is split', async () => {
    for (const text of [STREAM, STREAM.replaceAll('\n', '\r\n')]) {
      for (let i = 1; i < text.length; i++) {
        expect(await read([text.slice(0, i), text.slice(i)])).toEqual(EXPECTED);
      }
    }
  });

  it('keeps a character split between two pieces whole', async () => {
    const bytes = new TextEncoder().encode('data: été\n\n');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const b of bytes) controller.enqueue(new Uint8Array([b]));
        controller.close();
      },
    });
    const out: SseMessage[] = [];
    for await (const m of readSse(stream)) out.push(m);
    expect(out).toEqual([{ event: 'message', data: 'été', id: '' }]);
  });
});
