// The console's pure parts: the Run form's body, output pieces into lines,
// grouping by identical output, places in the URL, and what a token allows.

import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/contract/operations.js';
import type { JobDetail } from '../../src/sdk/client.js';
import {
  allowedPages,
  lacking,
  PAGES,
  pageWhyNot,
  retryNeeds,
  whyNot,
} from '../../src/ui/access.js';
import { isFinal, summary } from '../../src/ui/job.js';
import { groupOutputs, hostColours, MAX_LINES, OutputLog } from '../../src/ui/output.js';
import { href, loginCodeIn, parseRoute } from '../../src/ui/router.js';
import { type RunFields, runRequest } from '../../src/ui/run-form.js';

const fields = (over: Partial<RunFields>): RunFields => ({
  mode: 'shell',
  command: 'uptime',
  args: '',
  cwd: '',
  timeout: '',
  maxConcurrency: '',
  maxErrors: '',
  ...over,
});

describe('runRequest', () => {
  it('makes a shell body with only the fields given', () => {
    expect(runRequest(fields({}))).toEqual({
      ok: true,
      mode: 'shell',
      body: { command: 'uptime' },
    });
    expect(
      runRequest(fields({ cwd: ' /tmp ', timeout: '10', maxConcurrency: '10%', maxErrors: '0' })),
    ).toEqual({
      ok: true,
      mode: 'shell',
      body: { command: 'uptime', cwd: '/tmp', timeout: 10, max_concurrency: '10%', max_errors: 0 },
    });
  });

  it('takes exec arguments one per line, literally, an empty one in the middle too', () => {
    const r = runRequest(fields({ mode: 'exec', command: 'printf', args: '%s|\n\na b\n\n' }));
    expect(r).toEqual({
      ok: true,
      mode: 'exec',
      body: { command: 'printf', args: ['%s|', '', 'a b'] },
    });
  });

  it('names the field it refuses', () => {
    expect(runRequest(fields({ command: '  ' }))).toMatchObject({ ok: false, field: 'command' });
    for (const timeout of ['0', '301', '1.5', 'x']) {
      expect(runRequest(fields({ timeout }))).toMatchObject({ ok: false, field: 'timeout' });
    }
    expect(runRequest(fields({ maxConcurrency: '0' }))).toMatchObject({
      ok: false,
      field: 'maxConcurrency',
    });
    expect(runRequest(fields({ maxErrors: '101%' }))).toMatchObject({
      ok: false,
      field: 'maxErrors',
    });
  });
});

describe('OutputLog', () => {
  it('joins pieces into lines per host and stream, and keeps an unfinished line apart', () => {
    const log = new OutputLog();
    log.add('a', 'stdout', 'one\ntw');
    log.add('b', 'stdout', 'x\n');
    log.add('a', 'stderr', 'oops');
    log.add('a', 'stdout', 'o\nthr');
    expect(log.lines()).toEqual([
      { host: 'a', stream: 'stdout', text: 'one' },
      { host: 'b', stream: 'stdout', text: 'x' },
      { host: 'a', stream: 'stdout', text: 'two' },
      { host: 'a', stream: 'stdout', text: 'thr', partial: true },
      { host: 'a', stream: 'stderr', text: 'oops', partial: true },
    ]);
    log.finish('a');
    expect(log.lines().filter((l) => l.partial)).toEqual([]);
    expect(log.text('a')).toEqual({ stdout: 'one\ntwo\nthr', stderr: 'oops' });
    expect(log.has('b', 'stderr')).toBe(false);
  });

  it('keeps at most MAX_LINES, counting what it dropped', () => {
    const log = new OutputLog();
    log.add('a', 'stdout', 'l\n'.repeat(MAX_LINES + 5));
    expect(log.lines()).toHaveLength(MAX_LINES);
    expect(log.dropped).toBe(5);
    expect(log.text('a').stdout).toHaveLength((MAX_LINES + 5) * 2);
  });
});

describe('groupOutputs and hostColours', () => {
  it('folds hosts with the same output and state, largest group first', () => {
    const groups = groupOutputs([
      { host: 'c', stdout: 'x', stderr: '', state: 'failed' },
      { host: 'a', stdout: 'ok', stderr: '', state: 'succeeded' },
      { host: 'b', stdout: 'ok', stderr: '', state: 'succeeded' },
      { host: 'd', stdout: 'ok', stderr: '', state: 'running' },
    ]);
    expect(groups.map((g) => g.hosts)).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('gives the first eight hosts distinct colours, whatever order they come in', () => {
    const c = hostColours(['h3', 'h1', 'h2', 'h1']);
    expect([...c]).toEqual([
      ['h1', 0],
      ['h2', 1],
      ['h3', 2],
    ]);
  });
});

describe('router', () => {
  it('parses and builds places', () => {
    expect(parseRoute('#/jobs?status=failed&offset=20')).toMatchObject({ page: 'jobs' });
    expect(parseRoute('#/jobs?status=failed').params.get('status')).toBe('failed');
    expect(parseRoute('#/jobs/0190-ab')).toMatchObject({ page: 'job', id: '0190-ab' });
    expect(parseRoute('')).toMatchObject({ page: 'home' });
    expect(parseRoute('#/nowhere')).toMatchObject({ page: 'home' });
    expect(parseRoute('#/operations?op=file.status').params.get('op')).toBe('file.status');
    expect(parseRoute('#/fleet/web-01')).toMatchObject({ page: 'host', hostname: 'web-01' });
    expect(href('host', { id: 'web 01' })).toBe('#/fleet/web%2001');
    expect(href('jobs', { params: { status: 'failed', offset: 0, x: undefined } })).toBe(
      '#/jobs?status=failed&offset=0',
    );
    expect(href('job', { id: 'a/b' })).toBe('#/jobs/a%2Fb');
  });

  it('finds a login code only in its exact form', () => {
    expect(loginCodeIn('#login=abc_DEF-1')).toBe('abc_DEF-1');
    expect(loginCodeIn('#/fleet')).toBeNull();
    expect(loginCodeIn('#login=a b')).toBeNull();
  });
});

describe('access', () => {
  it('offers each page when the token holds all it needs, and says why not', () => {
    const read = ['agent:read', 'node:read', 'network:read', 'job:read', 'health:read'];
    expect(allowedPages(read).map((p) => p.id)).toEqual(['fleet', 'operations', 'jobs']);
    expect(allowedPages(['command:execute']).map((p) => p.id)).toEqual([]);
    // Operations is of use with any one operation's permission.
    expect(allowedPages(['file:read']).map((p) => p.id)).toEqual(['operations']);
    const operations = PAGES.find((p) => p.id === 'operations');
    // Each permission some declared operation needs, once, in the order they first appear.
    const needed = [...new Set(Object.values(OPERATIONS).map((d) => d.permission))].filter(
      (p) => p !== 'command:execute',
    );
    expect(operations && pageWhyNot(['job:read'], operations)).toBe(
      `needs one of ${needed.join(', ')}, which this token does not grant`,
    );
    expect(whyNot(lacking(read, ['command:execute', 'job:read']))).toBe(
      'needs command:execute, which this token does not grant',
    );
    expect(retryNeeds('command.shell.execute')).toEqual(['job:write', 'command:execute']);
    expect(retryNeeds('node.os.get')).toEqual(['job:write', 'node:read']);
  });
});

describe('job', () => {
  const job = (states: Record<string, string>, status = 'processing') =>
    ({
      status,
      agent_states: Object.fromEntries(Object.entries(states).map(([h, s]) => [h, { status: s }])),
      responses: {},
    }) as unknown as JobDetail;

  it('is final only once every host ended and the job has a final status', () => {
    expect(isFinal(job({ a: 'succeeded', b: 'running' }))).toBe(false);
    expect(isFinal(job({ a: 'succeeded', b: 'failed' }, 'partial_failure'))).toBe(true);
    expect(summary(job({ a: 'succeeded', b: 'timed_out', c: 'succeeded' }))).toBe(
      '3 hosts: 2 succeeded, 1 timed out',
    );
  });
});
