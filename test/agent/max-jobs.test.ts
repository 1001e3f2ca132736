// agent.max_jobs bounds how many commands one agent runs at once, whichever
// consumer (host, _any, _all) brought them; the rest wait their turn.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir } from '../api/helpers.js';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

const HOST = 'mj-01';

let sys: TestSystem;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent(HOST, {}, { max_jobs: 2 });
  await sys.waitForAgents([HOST]);
  dir = tempDir('max-jobs');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

/** Most intervals open at once; an end at the same instant as a start does not overlap it. */
function maxOverlap(intervals: Array<{ start: bigint; end: bigint }>): number {
  const points = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  points.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.d - b.d));
  let open = 0;
  let most = 0;
  for (const p of points) {
    open += p.d;
    most = Math.max(most, open);
  }
  return most;
}

describe('max_jobs', () => {
  it('an agent with max_jobs 2 never runs more than 2 commands at once', async () => {
    const token = await sys.token();
    const log = join(dir.path, 'times');
    const job = (n: number) =>
      `echo "${n} start $(date +%s%N)" >> ${log}; sleep 0.4; echo "${n} end $(date +%s%N)" >> ${log}`;
    // Six jobs at once, through the host and the _any consumers alike.
    const targets = [HOST, '_any', HOST, '_any', HOST, '_any'];
    const answers = await Promise.all(
      targets.map((t, n) => post(sys, `/node/${t}/command/shell`, { command: job(n) }, token)),
    );
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(a.body.results).toEqual([
        expect.objectContaining({ hostname: HOST, exit_code: 0, status: 'completed' }),
      ]);
    }

    const byJob = new Map<number, { start?: bigint; end?: bigint }>();
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      const [n, what, t] = line.split(' ');
      const entry = byJob.get(Number(n)) ?? {};
      entry[what as 'start' | 'end'] = BigInt(t ?? '0');
      byJob.set(Number(n), entry);
    }
    expect([...byJob.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const intervals = [...byJob.values()].map((e) => {
      expect(e.start).toBeTypeOf('bigint');
      expect(e.end).toBeTypeOf('bigint');
      return { start: e.start ?? 0n, end: e.end ?? 0n };
    });
    const most = maxOverlap(intervals);
    expect(most).toBeLessThanOrEqual(2);
    // And it does use both slots: the measurement can see an overlap.
    expect(most).toBe(2);
  });
});
