// The API's live output buffer, fed message by message as its subscription
// feeds it: readers are positions in a job's log, every bound holds (bytes per
// job, bytes in all, jobs, idle time), and a message that is not a valid chunk
// of the job and host its subject names is ignored.
import { describe, expect, it } from 'vitest';
import { createOutputHub, type OutputHubLimits } from '../../src/api/job/output-hub.js';
import { infraNames, outputSubject } from '../../src/names/names.js';
import { silentLogger } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const names = infraNames(testLayout('hub'));
const encoder = new TextEncoder();

function hub(limits: Partial<OutputHubLimits> = {}, clock = { now: 0 }) {
  const h = createOutputHub({ names, logger: silentLogger, limits, now: () => clock.now });
  const send = (jobId: string, data: string, hostname = 'web-01', extra = {}) =>
    h.accept(
      outputSubject(names, jobId, hostname),
      encoder.encode(
        JSON.stringify({ job_id: jobId, hostname, stream: 'stdout', seq: 0, data, ...extra }),
      ),
    );
  return { h, send, clock };
}

describe('output hub', () => {
  it('reads a job from the start, after a position, and in batches', () => {
    const { h, send } = hub();
    const job = crypto.randomUUID();
    for (const d of ['a', 'b', 'c']) send(job, d);
    const all = h.read(job, null, 10);
    expect(all?.events.map((e) => [e.index, e.data])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(all?.skipped).toBe(0);
    expect(all?.through).toBe(3);
    const tag = all?.tag ?? '';
    expect(h.read(job, { tag, index: 1 }, 10)?.events.map((e) => e.data)).toEqual(['b', 'c']);
    expect(h.read(job, { tag, index: 3 }, 10)).toMatchObject({ events: [], through: 3 });
    const batch = h.read(job, null, 2);
    expect(batch?.events.map((e) => e.data)).toEqual(['a', 'b']);
    expect(batch?.through).toBe(2);
    // A position in another log (another process, or this job's log begun again) starts over.
    expect(h.read(job, { tag: 'ffffffff', index: 2 }, 10)?.events).toHaveLength(3);
    expect(h.read(crypto.randomUUID(), null, 10)).toBeNull();
  });

  it('drops a job’s oldest output past its byte bound, and says how much a reader missed', () => {
    const { h, send } = hub({ jobBytes: 1000 });
    const job = crypto.randomUUID();
    for (let i = 0; i < 20; i++) send(job, `${i}`.padEnd(100, '.'));
    const usage = h.usage();
    expect(usage.bytes).toBeLessThanOrEqual(1000);
    const read = h.read(job, null, 100);
    const held = read?.events ?? [];
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(20);
    expect(held.at(-1)?.index).toBe(20);
    expect(read?.skipped).toBe(20 - held.length);
    const tag = read?.tag ?? '';
    expect(h.read(job, { tag, index: 2 }, 100)?.skipped).toBe(20 - held.length - 2);
  });

  it('keeps within its total bytes and job count, dropping the jobs least recently written', () => {
    const { h, send } = hub({ jobBytes: 10_000, totalBytes: 3_000, maxJobs: 2 });
    const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    send(a, 'x'.repeat(500));
    send(b, 'x'.repeat(500));
    send(a, 'x'.repeat(500));
    // Three jobs for two places: b was written least recently.
    send(c, 'x'.repeat(500));
    expect(h.read(b, null, 10)).toBeNull();
    expect(h.read(a, null, 10)?.events).toHaveLength(2);
    expect(h.usage().jobs).toBe(2);
    // Over the byte total: a goes, c (written now) stays.
    send(c, 'x'.repeat(2000));
    expect(h.usage().bytes).toBeLessThanOrEqual(3_000);
    expect(h.read(a, null, 10)).toBeNull();
    expect(h.read(c, null, 10)?.events).toHaveLength(2);
    // A job alone over the total keeps only its newest output.
    send(c, 'x'.repeat(2500));
    expect(h.usage().bytes).toBeLessThanOrEqual(3_000);
    expect(h.read(c, null, 10)?.events.map((e) => e.index)).toEqual([3]);
  });

  it('forgets a job nobody reads once idle, but keeps the name of one being read', () => {
    const clock = { now: 0 };
    const { h, send } = hub({ idleMs: 1000 }, clock);
    const [idle, watched, fresh] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    send(idle, 'old');
    send(watched, 'old');
    const tag = h.read(watched, null, 1)?.tag;
    const stop = h.watch(watched, () => {});
    clock.now = 5000;
    send(fresh, 'new');
    expect(h.read(idle, null, 10)).toBeNull();
    // Its output is let go, its log stays: a reader's position still means the same.
    expect(h.read(watched, null, 10)).toMatchObject({ tag, events: [], skipped: 1 });
    stop();
    expect(h.usage().jobs).toBe(1);
  });

  it('counts each host’s chunks that arrived, and names a log by its first chunk’s stream sequence', () => {
    const { h } = hub();
    const job = crypto.randomUUID();
    const chunk = (hostname: string, seq: number) =>
      encoder.encode(
        JSON.stringify({ job_id: job, hostname, stream: 'stdout', seq, data: `${seq}` }),
      );
    h.accept(outputSubject(names, job, 'web-01'), chunk('web-01', 0), 41);
    h.accept(outputSubject(names, job, 'web-01'), chunk('web-01', 2), 43);
    h.accept(outputSubject(names, job, 'web-02'), chunk('web-02', 0), 44);
    // One past the highest seq (one host's chunks come in order; one lost is not waited for).
    expect(h.arrived(job, 'web-01')).toBe(3);
    expect(h.arrived(job, 'web-02')).toBe(1);
    expect(h.arrived(job, 'web-03')).toBe(0);
    expect(h.arrived(crypto.randomUUID(), 'web-01')).toBe(0);
    // The same on every API server that followed the stream from before the job.
    expect(h.read(job, null, 10)?.tag).toBe('00000029');
  });

  it('tells watchers of new output, and stops when asked', () => {
    const { h, send } = hub();
    const job = crypto.randomUUID();
    let told = 0;
    const stop = h.watch(job, () => {
      told++;
    });
    send(job, 'a');
    send(crypto.randomUUID(), 'other job');
    send(job, 'b');
    stop();
    send(job, 'c');
    expect(told).toBe(2);
  });

  it('ignores messages that are not valid chunks of the job and host their subject names', () => {
    const { h } = hub();
    const job = crypto.randomUUID();
    const subject = outputSubject(names, job, 'web-01');
    const chunk = { job_id: job, hostname: 'web-01', stream: 'stdout', seq: 0, data: 'x' };
    const bad: Array<[string, unknown]> = [
      [subject, 'not json'],
      [subject, { ...chunk, stream: 'stdin' }],
      [subject, { ...chunk, seq: -1 }],
      [subject, { ...chunk, hostname: 'web-02' }],
      [subject, { ...chunk, job_id: crypto.randomUUID() }],
      [subject, { ...chunk, data: 'x'.repeat(20_000) }],
      [`${names.namespace}.elsewhere.${job}.web-01`, chunk],
    ];
    for (const [s, body] of bad) {
      h.accept(s, encoder.encode(typeof body === 'string' ? body : JSON.stringify(body)));
    }
    expect(h.read(job, null, 10)).toBeNull();
    h.accept(subject, encoder.encode(JSON.stringify(chunk)));
    expect(h.read(job, null, 10)?.events).toHaveLength(1);
  });
});
