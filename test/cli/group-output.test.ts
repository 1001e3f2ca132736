// Grouped output and the summary line, on made-up results from many hosts
// (the end-to-end test has one agent only).
import { describe, expect, it } from 'vitest';
import {
  failureReason,
  groupedText,
  groupResults,
  summaryLine,
} from '../../src/cli/group-output.js';
import { foldHosts } from '../../src/format/hosts.js';
import type { CommandResponse } from '../../src/sdk/client.js';

type Result = CommandResponse['results'][number];

function result(hostname: string, over: Partial<Result> = {}): Result {
  return {
    hostname,
    stdout: '',
    stderr: '',
    exit_code: 0,
    duration_ms: 5,
    changed: true,
    status: 'completed',
    state: over.exit_code || over.error ? 'failed' : 'succeeded',
    stdout_truncated: false,
    stderr_truncated: false,
    ...over,
  };
}

const JOB = '0190a8b2-0000-7000-8000-000000000001';
const body = (results: Result[]): CommandResponse => ({ job_id: JOB, results });

describe('groupResults', () => {
  it('puts hosts with identical stdout, stderr and exit code in one group, largest first', () => {
    const groups = groupResults([
      result('db-01', { stdout: 'v2\n' }),
      result('web-01', { stdout: 'v1\n' }),
      result('web-02', { stdout: 'v1\n' }),
      result('web-03', { stdout: 'v1\n' }),
    ]);
    expect(groups.map((g) => g.hosts)).toEqual([['web-01', 'web-02', 'web-03'], ['db-01']]);
    expect(groups[0]).toMatchObject({ stdout: 'v1\n', stderr: '', exit_code: 0 });
  });

  it('splits on stderr alone and on exit code alone', () => {
    const groups = groupResults([
      result('a', { stdout: 'x' }),
      result('b', { stdout: 'x', stderr: 'warn' }),
      result('c', { stdout: 'x', exit_code: 1 }),
      result('d', { stdout: 'x' }),
    ]);
    expect(groups.map((g) => g.hosts)).toEqual([['a', 'd'], ['b'], ['c']]);
  });

  it('never merges a host that timed out with one that exited 124 by itself', () => {
    const groups = groupResults([
      result('a', { exit_code: 124 }),
      result('b', { exit_code: 124, error: 'timed out after 5 s', status: 'failed' }),
    ]);
    expect(groups).toHaveLength(2);
  });

  it('identical hosts everywhere make one group; no hosts make none', () => {
    const many = Array.from({ length: 50 }, (_, i) =>
      result(`n-${String(i + 1).padStart(2, '0')}`, { stdout: 'same\n' }),
    );
    expect(groupResults(many)).toHaveLength(1);
    expect(groupResults(many)[0]?.hosts).toHaveLength(50);
    expect(groupResults([])).toEqual([]);
  });

  it('marks a group truncated when any of its hosts was cut', () => {
    const [g] = groupResults([
      result('a', { stdout: 'x' }),
      result('b', { stdout: 'x', stdout_truncated: true }),
    ]);
    expect(g?.stdout_truncated).toBe(true);
  });
});

describe('foldHosts', () => {
  it.each([
    [['web-01', 'web-02', 'web-03'], 'web-[01-03]'],
    [['web-01', 'web-02', 'web-04', 'web-05', 'web-07'], 'web-[01-02,04-05,07]'],
    [['web-01', 'db-02', 'web-02'], 'web-[01-02],db-02'],
    [['web-1', 'web-01'], 'web-1,web-01'],
    [['alpha', 'beta'], 'alpha,beta'],
    [['web-07'], 'web-07'],
    [['10', '11'], '[10-11]'],
    [[], ''],
  ])('%j → %s', (hosts, folded) => {
    expect(foldHosts(hosts)).toBe(folded);
  });
});

describe('summaryLine', () => {
  it('the example of the issue: 48 ok, 2 failed, each named with its reason', () => {
    const results = [
      ...Array.from({ length: 48 }, (_, i) => result(`ok-${String(i + 1).padStart(2, '0')}`)),
      result('web-07', { exit_code: 1 }),
      result('db-02', { exit_code: 124, error: 'timed out after 30 s', status: 'failed' }),
    ];
    expect(summaryLine(results)).toBe('48 ok, 2 failed: web-07 (exit 1), db-02 (timed out)');
  });

  it('all ok', () => {
    expect(summaryLine([result('a'), result('b')])).toBe('2 ok');
  });

  it('lists failed hosts with the same reason together, folded', () => {
    const results = [
      result('web-01', { exit_code: 2 }),
      result('web-02', { exit_code: 2 }),
      result('web-03', { exit_code: 2 }),
      result('db-01', { exit_code: 3 }),
    ];
    expect(summaryLine(results)).toBe('0 ok, 4 failed: web-[01-03] (exit 2), db-01 (exit 3)');
  });

  it.each([
    [{ exit_code: 127, error: 'program not found: nope', status: 'failed' }, 'not found'],
    [
      { exit_code: -1, error: 'no answer from this agent within 30 s', status: 'no_answer' },
      'no answer',
    ],
    [{ exit_code: 130, error: 'cancelled', status: 'failed' }, 'cancelled'],
    [{ exit_code: 126, error: 'permission denied: /x', status: 'failed' }, 'permission denied'],
    [{ exit_code: 125, error: 'working directory /nope does not exist' }, 'bad working directory'],
    [{ exit_code: 137, error: 'killed by signal SIGKILL' }, 'killed'],
    [{ exit_code: -1, error: 'the agent stopped while this command was running' }, 'agent stopped'],
    [{ exit_code: -1, error: 'something odd happened; details' }, 'something odd happened'],
    [{ exit_code: 0, error: 'refused by policy' }, 'refused by policy'],
  ] as Array<[Partial<Result>, string]>)('%j → %s', (over, reason) => {
    const r = result('h', over);
    expect(failureReason(r)).toBe(reason);
    expect(summaryLine([r])).toBe(`0 ok, 1 failed: h (${reason})`);
  });
});

describe('groupedText', () => {
  it('one block per distinct output, headed by the folded host list, then the summary', () => {
    const text = groupedText(
      body([
        result('web-01', { stdout: 'hello\n' }),
        result('web-02', { stdout: 'hello\n' }),
        result('web-03', { stdout: '', stderr: 'boom\n', exit_code: 1 }),
        result('db-01', { exit_code: 124, error: 'timed out after 5 s', status: 'failed' }),
      ]),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe(`Job ID: ${JOB}`);
    expect(text).toContain('web-[01-02] (2 hosts)\n');
    // The rule is as wide as the header (at least 16).
    const rule = '-'.repeat('web-[01-02] (2 hosts)'.length);
    expect(text).toContain(`${rule}\nweb-[01-02] (2 hosts)\n${rule}\nhello\n[exit 0]\n`);
    expect(text).toContain('web-03 (1 host)\n----------------\n[stderr]\nboom\n[exit 1]\n');
    expect(text).toContain('db-01 (1 host)\n----------------\n[error: timed out after 5 s]\n');
    // The 2-host group comes first, and the summary is the last line.
    expect(text.indexOf('web-[01-02]')).toBeLessThan(text.indexOf('web-03 (1 host)'));
    expect(lines.at(-2)).toBe('2 ok, 2 failed: web-03 (exit 1), db-01 (timed out)');
    expect(lines.at(-1)).toBe('');
    // Each output is printed once, whatever the number of hosts.
    expect(text.match(/hello/g)).toHaveLength(1);
  });

  it('keeps output without a final newline on its own line, and says when it was cut', () => {
    const text = groupedText(body([result('a', { stdout: 'no newline', stdout_truncated: true })]));
    expect(text).toContain('no newline\n[output truncated by the agent]\n[exit 0]\n');
  });
});
