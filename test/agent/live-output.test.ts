// The agent's live output publisher against a real nats-server: pieces are
// gathered into few chunks, each stream stops at the cap with a chunk that
// says so, a character is never cut between chunks, and nothing goes out
// after close.
import { beforeAll, describe, expect, it } from 'vitest';
import { startLiveOutput } from '../../src/agent/live-output.js';
import { type OutputChunk, parseOutputChunk } from '../../src/job/live-output.js';
import { infraNames, outputFilter, parseOutputSubject } from '../../src/names/names.js';
import { waitFor } from '../api/helpers.js';
import { silentLogger, useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();
const names = infraNames(testLayout(`lo${crypto.randomUUID().slice(0, 8)}`));
const heard: Array<{ subject: string; chunk: OutputChunk }> = [];

beforeAll(async () => {
  t.nc.subscribe(outputFilter(names), {
    callback: (_err, m) => {
      heard.push({ subject: m.subject, chunk: parseOutputChunk(m.data) });
    },
  });
  await t.nc.flush();
});

function publisher(maxBytes = 1024 * 1024, over: { chunkBytes?: number; flushMs?: number } = {}) {
  const jobId = crypto.randomUUID();
  const live = startLiveOutput({
    nc: t.nc,
    names,
    jobId,
    hostname: 'web-01.example.com',
    maxBytes,
    logger: silentLogger,
    ...over,
  });
  const chunks = () => heard.filter((h) => h.chunk.job_id === jobId).map((h) => h.chunk);
  return { jobId, live, chunks };
}

const text = (chunks: OutputChunk[], stream: string) =>
  chunks
    .filter((c) => c.stream === stream)
    .map((c) => c.data)
    .join('');

describe('live output publisher', () => {
  it('gathers small pieces into one chunk and sends it without waiting for close', async () => {
    const { jobId, live, chunks } = publisher();
    for (const piece of ['a', 'b', 'c\n']) live.push('stdout', Buffer.from(piece));
    live.push('stderr', Buffer.from('warn\n'));
    // No close: the flush interval alone sends them.
    const got = await waitFor('both streams', () => (chunks().length >= 2 ? chunks() : false));
    expect(got).toEqual([
      { job_id: jobId, hostname: 'web-01.example.com', stream: 'stdout', seq: 0, data: 'abc\n' },
      { job_id: jobId, hostname: 'web-01.example.com', stream: 'stderr', seq: 1, data: 'warn\n' },
    ]);
    const subject = heard.find((h) => h.chunk.job_id === jobId)?.subject ?? '';
    expect(parseOutputSubject(names, subject)).toEqual({
      id: jobId,
      hostname: 'web-01.example.com',
    });
    live.close();
  });

  it('sends at once when a chunk is full, in pieces no larger than a chunk', async () => {
    const { live, chunks } = publisher(1024 * 1024, { chunkBytes: 1000, flushMs: 60_000 });
    live.push('stdout', Buffer.alloc(2500, 'x'));
    // The flush interval is a minute and there is no close: only the size sends these.
    const got = await waitFor('three chunks', () => (chunks().length >= 3 ? chunks() : false));
    expect(got.map((c) => c.data.length)).toEqual([1000, 1000, 500]);
    expect(got.map((c) => c.seq)).toEqual([0, 1, 2]);
    live.close();
  });

  it('never cuts a character between two chunks', async () => {
    const { live, chunks } = publisher(1024 * 1024, { chunkBytes: 5, flushMs: 60_000 });
    const bytes = Buffer.from('ééééé€€');
    // Fed a byte at a time, as a pipe may split them.
    for (const b of bytes) live.push('stdout', Buffer.from([b]));
    live.close();
    await waitFor('all of it', () => text(chunks(), 'stdout') === 'ééééé€€');
    expect(chunks().every((c) => !c.data.includes('\uFFFD'))).toBe(true);
  });

  it('stops each stream at the cap, with a chunk that says so', async () => {
    const { live, chunks } = publisher(10);
    live.push('stdout', Buffer.from('0123456789ABCDEF'));
    live.push('stdout', Buffer.from('more'));
    live.push('stderr', Buffer.from('e'.repeat(10)));
    live.push('stderr', Buffer.from('beyond'));
    live.close();
    await waitFor('both streams capped', () => chunks().filter((c) => c.truncated).length === 2);
    expect(text(chunks(), 'stdout')).toBe('0123456789');
    expect(text(chunks(), 'stderr')).toBe('e'.repeat(10));
    // Nothing after the capped chunk of each stream.
    for (const stream of ['stdout', 'stderr']) {
      const own = chunks().filter((c) => c.stream === stream);
      expect(own.at(-1)?.truncated).toBe(true);
      expect(own.filter((c) => c.truncated)).toHaveLength(1);
    }
  });

  it('sends nothing after close, and nothing at all with a cap of 0 but the notice', async () => {
    const { live, chunks } = publisher(0);
    live.push('stdout', Buffer.from('hidden'));
    live.close();
    live.push('stdout', Buffer.from('late'));
    await waitFor('the cap notice', () => chunks().length === 1);
    await t.nc.flush();
    expect(chunks()).toMatchObject([{ stream: 'stdout', data: '', truncated: true }]);
  });
});
