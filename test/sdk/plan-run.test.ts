// Plans run through a real API, nats-server and three agents: steps in order
// and side by side, a host that fails, guards on facts and on an earlier
// step's results, a retry that succeeds, on_error stop and continue, a
// re-run with the same run id that runs nothing again, and the dry run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { parsePlan } from '../../src/sdk/plan.js';
import { type PlanEvent, type PlanReport, previewPlan, runPlan } from '../../src/sdk/plan-run.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let client: OsapiClient;
let dir: string;
const HOSTS = ['pl-01', 'pl-02', 'pl-03'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-plan-'));
  sys = await startTestSystem();
  for (const [i, h] of HOSTS.entries()) {
    const role = i < 2 ? 'web' : 'db';
    await sys.startAgent(h, {}, { facts: { ...sys.config.agent.facts, custom: { role } } });
  }
  await sys.waitForAgents(HOSTS);
  client = new OsapiClient({ url: sys.url, token: await sys.token() });
});
afterAll(async () => {
  await sys?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory for one test's marker files. */
function scratch(): string {
  return mkdtempSync(join(dir, 'case-'));
}

/** The report as step → host → [status, attempts]. */
function outcomes(report: PlanReport): Record<string, Record<string, [string, number]>> {
  return Object.fromEntries(
    report.steps.map((s) => [
      s.name,
      Object.fromEntries(s.hosts.map((h) => [h.hostname, [h.status, h.attempts]])),
    ]),
  );
}

describe('runPlan', () => {
  it('runs three steps across three agents: a failing host, guards, side by side', async () => {
    const d = scratch();
    const plan = parsePlan(`
name: three
steps:
  - name: prepare
    operation: command.shell.execute
    target: _all
    # fails on pl-03 only
    args: { command: 'echo prepared >> ${d}/@fact.hostname; test @fact.hostname != pl-03' }
    on_error: continue
  - name: repair
    operation: command.shell.execute
    target: _all
    only_if_failed: prepare
    args: { command: 'echo repaired >> ${d}/@fact.hostname' }
  - name: web
    operation: command.exec.execute
    target: _all
    after: prepare
    when: fact:custom.role=web
    args: { command: 'true' }
  - name: never
    operation: node.uptime.get
    target: _all
    when: fact:custom.role=mail
`);
    const events: PlanEvent[] = [];
    const report = await runPlan(plan, { client, onEvent: (e) => events.push(e) });
    expect(report.name).toBe('three');
    expect(report.succeeded).toBe(false);
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([
      ['prepare', 'failed'],
      ['repair', 'succeeded'],
      ['web', 'succeeded'],
      ['never', 'skipped'],
    ]);
    expect(outcomes(report)).toEqual({
      prepare: { 'pl-01': ['ok', 1], 'pl-02': ['ok', 1], 'pl-03': ['failed', 1] },
      repair: { 'pl-01': ['not_selected', 0], 'pl-02': ['not_selected', 0], 'pl-03': ['ok', 1] },
      web: { 'pl-01': ['ok', 1], 'pl-02': ['ok', 1], 'pl-03': ['not_selected', 0] },
      never: {
        'pl-01': ['not_selected', 0],
        'pl-02': ['not_selected', 0],
        'pl-03': ['not_selected', 0],
      },
    });
    const hostsOf = (step: string) => report.steps.find((s) => s.name === step)?.hosts ?? [];
    expect(hostsOf('prepare').find((h) => h.hostname === 'pl-03')?.error).toMatch(/code 1/);
    expect(hostsOf('repair')[0]?.error).toBe('step "prepare" did not fail here');
    expect(hostsOf('web')[2]?.error).toBe('when: fact:custom.role=web does not hold here');
    expect(readFileSync(join(d, 'pl-03'), 'utf8')).toBe('prepared\nrepaired\n');
    expect(readFileSync(join(d, 'pl-01'), 'utf8')).toBe('prepared\n');
    // Each step started, then ended; `never` waited for nothing, so it started with prepare.
    const started = events.filter((e) => e.kind === 'step_started').map((e) => e.step);
    expect(started.slice(0, 2).sort()).toEqual(['never', 'prepare']);
    expect(started).toHaveLength(4);
    expect(events.filter((e) => e.kind === 'step_ended')).toHaveLength(4);
  });

  it('retries on the hosts that failed until the command succeeds', async () => {
    const d = scratch();
    // Fails the first time on each host (it leaves a marker), succeeds the second.
    const plan = parsePlan(`
steps:
  - name: flaky
    operation: command.shell.execute
    target: _all
    args: { command: 'if [ -e ${d}/@fact.hostname ]; then exit 0; fi; touch ${d}/@fact.hostname; test @fact.hostname = pl-01' }
    retry: { attempts: 3, backoff: 50ms }
`);
    const events: PlanEvent[] = [];
    const report = await runPlan(plan, { client, onEvent: (e) => events.push(e) });
    expect(report.succeeded).toBe(true);
    expect(outcomes(report).flaky).toEqual({
      'pl-01': ['ok', 1],
      'pl-02': ['ok', 2],
      'pl-03': ['ok', 2],
    });
    expect(events.filter((e) => e.kind === 'retrying')).toEqual([
      { kind: 'retrying', step: 'flaky', attempt: 2, hosts: ['pl-02', 'pl-03'], delay_ms: 50 },
    ]);
  });

  it('gives up after the last attempt', async () => {
    const plan = parsePlan(`
steps:
  - { name: fails, operation: command.exec.execute, target: pl-02, args: { command: 'false' }, retry: { attempts: 2, backoff: 0s } }
`);
    const report = await runPlan(plan, { client });
    expect(report.succeeded).toBe(false);
    expect(outcomes(report)).toEqual({ fails: { 'pl-02': ['failed', 2] } });
  });

  it('on_error: stop starts nothing more; continue goes on', async () => {
    const plan = (onError: string) =>
      parsePlan(`
steps:
  - { name: breaks, operation: command.exec.execute, target: _all, args: { command: 'false' }, on_error: ${onError} }
  - { name: beside, operation: command.exec.execute, target: pl-01, args: { command: 'true' } }
  - { name: then, operation: command.exec.execute, target: _all, args: { command: 'true' }, after: breaks }
`);
    const stopped = await runPlan(plan('stop'), { client });
    expect(stopped.steps.map((s) => [s.name, s.status])).toEqual([
      ['breaks', 'failed'],
      ['beside', 'succeeded'],
      ['then', 'not_run'],
    ]);
    expect(stopped.steps[2]?.error).toBe('the plan stopped: step "breaks" failed (on_error: stop)');
    const continued = await runPlan(plan('continue'), { client });
    expect(continued.steps.map((s) => [s.name, s.status])).toEqual([
      ['breaks', 'failed'],
      ['beside', 'succeeded'],
      ['then', 'succeeded'],
    ]);
    expect(continued.succeeded).toBe(false);
  });

  it('runs only where an earlier step changed something', async () => {
    const plan = parsePlan(`
steps:
  - { name: look, operation: node.uptime.get, target: _all }
  - { name: after-change, operation: command.exec.execute, target: _all, args: { command: 'true' }, only_if_changed: look }
`);
    const report = await runPlan(plan, { client });
    // A read changes nothing: the guarded step selects no host.
    expect(report.steps.map((s) => s.status)).toEqual(['succeeded', 'skipped']);
    expect(report.steps[1]?.hosts.map((h) => h.error)).toEqual([
      'step "look" changed nothing here',
      'step "look" changed nothing here',
      'step "look" changed nothing here',
    ]);
    expect(report.succeeded).toBe(true);
  });

  it('run again with the same run id, runs nothing again', async () => {
    const d = scratch();
    const log = join(d, 'runs');
    writeFileSync(log, '');
    const plan = parsePlan(`
steps:
  - { name: count, operation: command.shell.execute, target: _all, args: { command: 'echo @fact.hostname >> ${log}' } }
  - { name: once, operation: command.shell.execute, target: pl-02, args: { command: 'echo once >> ${log}' }, after: count }
`);
    const runId = `osapitest-${crypto.randomUUID().slice(0, 8)}`;
    const first = await runPlan(plan, { client, runId });
    expect(first.succeeded).toBe(true);
    expect(first.run_id).toBe(runId);
    const lines = () => readFileSync(log, 'utf8').trim().split('\n').sort();
    expect(lines()).toEqual(['once', 'pl-01', 'pl-02', 'pl-03']);
    const again = await runPlan(plan, { client, runId });
    expect(again.succeeded).toBe(true);
    expect(lines()).toEqual(['once', 'pl-01', 'pl-02', 'pl-03']);
    const jobs = (r: PlanReport) => r.steps.flatMap((s) => s.hosts.map((h) => h.job_id));
    expect(jobs(again)).toEqual(jobs(first));
    // A new run id runs it again.
    await runPlan(plan, { client });
    expect(lines()).toHaveLength(8);
  });

  it('runs an _any step on one agent, and retries it on _any', async () => {
    const d = scratch();
    const plan = parsePlan(`
steps:
  - name: one
    operation: command.shell.execute
    target: _any
    args: { command: 'if [ -e ${d}/tried ]; then exit 0; fi; touch ${d}/tried; exit 3' }
    retry: { attempts: 2, backoff: 0s }
`);
    const events: PlanEvent[] = [];
    const report = await runPlan(plan, { client, onEvent: (e) => events.push(e) });
    expect(report.succeeded).toBe(true);
    expect(report.steps[0]?.hosts).toEqual([
      expect.objectContaining({
        status: 'ok',
        attempts: 2,
        hostname: expect.stringMatching(/^pl-0[123]$/),
      }),
    ]);
    expect(events[0]).toEqual({ kind: 'step_started', step: 'one', hosts: null });
    expect(events[1]).toEqual({
      kind: 'retrying',
      step: 'one',
      attempt: 2,
      hosts: [],
      delay_ms: 0,
    });
  });

  it('fails a step whose target reaches no agent', async () => {
    const plan = parsePlan(`
steps:
  - { name: nowhere, operation: node.uptime.get, target: 'group:none' }
`);
    const report = await runPlan(plan, { client });
    expect(report.steps[0]).toMatchObject({
      status: 'failed',
      error: 'no Ready agent matches the target group:none',
      hosts: [],
    });
  });
});

describe('runPlan with a token that may not', () => {
  it('reports the API refusing a step on each host, authorised as the token says', async () => {
    const reader = new OsapiClient({ url: sys.url, token: await sys.token(['read']) });
    const plan = parsePlan(`
steps:
  - { name: look, operation: node.uptime.get, target: _all }
  - { name: run, operation: command.exec.execute, target: _all, args: { command: 'true' } }
`);
    const report = await runPlan(plan, { client: reader });
    expect(report.steps.map((s) => s.status)).toEqual(['succeeded', 'failed']);
    const run = report.steps[1];
    expect(run?.hosts.map((h) => [h.hostname, h.status])).toEqual([
      ['pl-01', 'failed'],
      ['pl-02', 'failed'],
      ['pl-03', 'failed'],
    ]);
    expect(run?.hosts[0]?.error).toMatch(/^the API answered 403: /);
  });

  it('fails a step whose hosts it cannot preview, saying what the token needs', async () => {
    const runner = new OsapiClient({
      url: sys.url,
      token: await sys.token(['write'], ['command:execute']),
    });
    const plan = parsePlan(`
steps:
  - { name: run, operation: command.exec.execute, target: _all, args: { command: 'true' } }
`);
    const report = await runPlan(plan, { client: runner });
    expect(report.steps[0]).toMatchObject({ status: 'failed', hosts: [] });
    expect(report.steps[0]?.error).toMatch(/GET \/agent\?target=.*403.*needs agent:read$/);
  });
});

describe('previewPlan', () => {
  it('gives the order and the hosts each step would reach, running nothing', async () => {
    const plan = parsePlan(`
steps:
  - { name: a, operation: node.uptime.get, target: _all }
  - { name: b, operation: node.uptime.get, target: _any }
  - { name: c, operation: node.uptime.get, target: _all, when: 'fact:custom.role=web', after: a }
  - { name: d, operation: node.uptime.get, target: pl-03, only_if_failed: c }
`);
    const preview = await previewPlan(plan, { client });
    expect(preview.levels.map((l) => l.map((s) => [s.name, s.hosts]))).toEqual([
      [
        ['a', HOSTS],
        ['b', null],
      ],
      [['c', ['pl-01', 'pl-02']]],
      [['d', ['pl-03']]],
    ]);
    expect(preview.levels[2]?.[0]).toMatchObject({ only_if_failed: 'c', after: ['c'] });
  });
});
