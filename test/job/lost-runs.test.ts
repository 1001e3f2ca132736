// Which runs can no longer end on their own: the rules alone, on records
// made by hand (the fault suite kills real agents: test/faults/).
import { describe, expect, it } from 'vitest';
import type { JobEntry } from '../../src/job/jobs-view.js';
import { findLostRuns, RUN_RESULT_GRACE_MS } from '../../src/job/lost-runs.js';
import type { AgentInfoRecord, JobRecord } from '../../src/job/records.js';
import type { AgentView } from '../../src/job/registry-view.js';
import { deriveStatus } from '../../src/job/status.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const TTL = 3000;

const record: JobRecord = {
  id: '0190a000-0000-7000-8000-000000000001',
  operation: { type: 'command.exec.execute', data: {} },
  category: 'modify',
  target_hostname: '_all',
  created: iso(0),
  created_by: 'test',
  deadline: iso(600_000),
  expected_hosts: ['a', 'b'],
};

let nanos = 0n;
function entry(
  events: Array<[string, 'acknowledged' | 'started' | 'completed', number]>,
): JobEntry {
  return {
    record,
    events: events.map(([hostname, event, ms]) => ({
      hostname,
      event,
      timestamp: iso(ms),
      nanos: ++nanos,
    })),
    answers: new Map(),
  };
}

/** An agent whose clock is `behindMs` behind the bucket's: its last beat says so. */
function agent(hostname: string, startedMs: number, seenMs: number, behindMs = 0): AgentView {
  const info = {
    hostname,
    started_at: iso(startedMs),
    registered_at: iso(seenMs - behindMs),
  } as AgentInfoRecord;
  return { info, seenAt: at(seenMs), ready: true };
}

function lost(e: JobEntry, agents: AgentView[], nowMs: number, listeningMs = -60_000) {
  // Ready as the registry view says when the registry had no stall: a beat within the TTL.
  const map = new Map(
    agents.map((a) => [
      a.info.hostname,
      { ...a, ready: at(nowMs).getTime() - a.seenAt.getTime() < TTL } satisfies AgentView,
    ]),
  );
  return findLostRuns(e, deriveStatus(e.record, e.events, at(nowMs), e.answers), map, {
    now: at(nowMs),
    ttlMs: TTL,
    listeningSince: at(listeningMs),
  }).map((r) => ({ hostname: r.hostname, reason: r.reason }));
}

/** Both agents alive at `nowMs` (seen 500 ms before), their clocks `behindMs` behind. */
const alive = (nowMs: number, behindMs = 0) => [
  agent('a', -5000, nowMs - 500, behindMs),
  agent('b', -5000, nowMs - 500, behindMs),
];

/** The hosts found lost at `nowMs` while both agents are alive. */
const lostAt = (e: JobEntry, nowMs: number, behindMs = 0) =>
  lost(e, alive(nowMs, behindMs), nowMs).map((r) => r.hostname);

const running = entry([
  ['a', 'acknowledged', 100],
  ['a', 'started', 110],
  ['b', 'acknowledged', 100],
  ['b', 'started', 120],
]);

describe('findLostRuns', () => {
  it('finds none while every agent running the job keeps its heartbeat', () => {
    expect(lost(running, [agent('a', -5000, 9000), agent('b', -5000, 9500)], 10_000)).toEqual([]);
  });

  it('finds a host whose agent went silent for longer than the registry TTL', () => {
    expect(lost(running, [agent('a', -5000, 9000), agent('b', -5000, 6000)], 10_000)).toEqual([
      {
        hostname: 'b',
        reason: expect.stringMatching(
          /^the agent stopped sending heartbeats \(the last at 2026-01-01T00:00:06\.000Z\).*not run again/,
        ),
      },
    ]);
  });

  it('finds none for an agent the registry view still holds Ready past its TTL (a beat lost to a stall)', () => {
    const e = running;
    const map = new Map([
      ['a', agent('a', -5000, 9000)],
      // Its last beat is 4 s old (TTL 3 s), but it fell due in a stall: Ready by the view.
      ['b', agent('b', -5000, 6000)],
    ]);
    expect(
      findLostRuns(e, deriveStatus(e.record, e.events, at(10_000), e.answers), map, {
        now: at(10_000),
        ttlMs: TTL,
        listeningSince: at(-60_000),
      }),
    ).toEqual([]);
  });

  it('finds a host whose agent left the registry, once its last word is older than the TTL', () => {
    expect(lost(running, [agent('a', -5000, 9000)], 3000)).toEqual([]);
    expect(lost(running, [agent('a', -5000, 9000)], 10_000)).toEqual([
      { hostname: 'b', reason: expect.stringMatching(/^the agent left the registry/) },
    ]);
  });

  it('finds a host whose agent restarted after it took the job, at once', () => {
    expect(lost(running, [agent('a', -5000, 900), agent('b', 500, 900)], 1000)).toEqual([
      { hostname: 'b', reason: expect.stringMatching(/^the agent restarted \(at .*not run again/) },
    ]);
  });

  it('gives agents a whole TTL after this process was cut off from NATS', () => {
    const agents = [agent('a', -5000, 9000), agent('b', -5000, 1000)];
    expect(lost(running, agents, 10_000, 8000)).toEqual([]);
    expect(lost(running, agents, 11_500, 8000)).toHaveLength(1);
  });

  it('leaves finished hosts and hosts that never took the job to the job status rules', () => {
    const e = entry([
      ['a', 'acknowledged', 100],
      ['a', 'started', 110],
      ['a', 'completed', 200],
    ]);
    expect(lost(e, [], 60_000)).toEqual([]);
  });

  it('leaves a host whose result is stored, closing event or not, even if its agent restarted', () => {
    const answered: JobEntry = {
      ...running,
      answers: new Map([['b', { state: 'succeeded', at: iso(150) }]]),
    };
    expect(lost(answered, [agent('a', -5000, 900), agent('b', 500, 900)], 1000)).toEqual([]);
    expect(lost(answered, [agent('a', -5000, 900)], 60_000)).toEqual([
      { hostname: 'a', reason: expect.stringMatching(/^the agent stopped sending heartbeats/) },
    ]);
  });

  it('finds a run of a live agent that outlived its timeout and the grace without a result', () => {
    // A command with the default timeout (30 s) started at 110 and 120 ms.
    const endB = 120 + 30_000 + RUN_RESULT_GRACE_MS;
    expect(lost(running, alive(endB), endB)).toEqual([
      {
        hostname: 'a',
        reason: expect.stringMatching(
          /^no result came 30 s \(its timeout\) plus 15 s after .*not run again/,
        ),
      },
    ]);
    expect(lostAt(running, endB + 1)).toEqual(['a', 'b']);
  });

  it("times a run by its own timeout: a command's data, a node operation's declared one", () => {
    const withData = (operation: JobRecord['operation']): JobEntry => ({
      ...running,
      record: { ...record, operation },
    });
    const short = withData({
      type: 'command.shell.execute',
      data: { command: 'x', args: [], timeout: 2 },
    });
    expect(lostAt(short, 120 + 2000 + RUN_RESULT_GRACE_MS + 1)).toEqual(['a', 'b']);
    const query = withData({ type: 'node.os.get', data: {} });
    expect(lostAt(query, 110 + 10_000 + RUN_RESULT_GRACE_MS)).toEqual([]);
    expect(lostAt(query, 120 + 10_000 + RUN_RESULT_GRACE_MS + 1)).toEqual(['a', 'b']);
  });

  it("judges a run by the agent's clock moved onto the bucket's, so a slow clock is no lost run", () => {
    // Both agents' clocks run 60 s behind: their `started` (110, 120 ms) is 60 s later on ours.
    const endA = 110 + 60_000 + 30_000 + RUN_RESULT_GRACE_MS;
    expect(lostAt(running, endA, 60_000)).toEqual([]);
    expect(lostAt(running, endA + 1, 60_000)).toEqual(['a']);
  });
});
