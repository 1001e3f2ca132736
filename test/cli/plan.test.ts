// `osapi plan run` (the compiled CLI) against an in-process API with a real
// nats-server and three agents: progress on stderr and a report on stdout,
// exit 1 when a host failed, -j for the report as JSON, --dry-run runs
// nothing, --run-id resumes a run, and a plan that is not valid is refused
// with exit 2 before anything runs. The steps' jobs are in the audit log.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { childEnv, cleanup, ROOT, runOsapi, tempDir } from './helpers.js';

const HOSTS = ['cp-01', 'cp-02', 'cp-03'];
let sys: TestSystem;
let token: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const [i, h] of HOSTS.entries()) {
    const role = i < 2 ? 'web' : 'db';
    await sys.startAgent(h, {}, { facts: { ...sys.config.agent.facts, custom: { role } } });
  }
  await sys.waitForAgents(HOSTS);
  token = await sys.token(['admin']);
});
afterAll(async () => {
  await sys?.stop();
  await cleanup();
}, 30_000);

/** `osapi plan run ...ARGS --url URL` with the token from the environment. */
function plan(args: string[]) {
  return runOsapi(['plan', 'run', ...args, '--url', sys.url], {
    env: childEnv(tempDir('osapi-plan-state-'), {
      OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
    }),
    timeoutMs: 60_000,
  });
}

/** A plan file in a temp dir, and the dir for the steps' marker files. */
function planFile(text: (dir: string) => string): { file: string; dir: string } {
  const dir = tempDir('osapitest-plan-');
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text(dir));
  return { file, dir };
}

const THREE_STEPS = (dir: string) => `
name: cli
steps:
  - name: prepare
    operation: command.shell.execute
    target: _all
    args: { command: 'echo @fact.hostname >> ${dir}/log; test @fact.hostname != cp-03' }
    on_error: continue
  - name: web
    operation: node.uptime.get
    target: _all
    when: fact:custom.role=web
    after: prepare
  - name: repair
    operation: command.exec.execute
    target: _all
    only_if_failed: prepare
    args: { command: 'true' }
`;

describe('osapi plan run', () => {
  it('shows progress, a report per step and host, and exits 1 when a host failed', async () => {
    const { file, dir } = planFile(THREE_STEPS);
    const r = await plan([file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Run ID: [0-9a-f-]{36} \(run again with --run-id /);
    expect(r.stderr).toContain('[prepare] running on cp-01, cp-02, cp-03');
    expect(r.stderr).toContain('[prepare] failed (2 ok, 1 failed)');
    expect(r.stderr).toContain('[web] succeeded (2 ok, 1 not_selected)');
    expect(r.stderr).toContain('[repair] running on cp-03');
    expect(r.stderr).toContain('[repair] succeeded (1 ok, 2 not_selected)');
    expect(r.stdout).toMatch(/^Run ID: /);
    expect(r.stdout).toMatch(
      /│ prepare\s+│ failed\s+│ cp-03\s+│ failed\s+│ true\s+│ 1\s+│ exited with code 1/,
    );
    expect(r.stdout).toMatch(/│ web\s+│ succeeded\s+│ cp-03\s+│ not_selected\s+│/);
    expect(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').sort()).toEqual(HOSTS);
  });

  it('-j prints the report as JSON; --run-id again runs nothing again', async () => {
    const { file, dir } = planFile(THREE_STEPS);
    const runId = `osapitest-${crypto.randomUUID().slice(0, 8)}`;
    const first = await plan([file, '--run-id', runId, '-j']);
    expect(first.code).toBe(1);
    const report = JSON.parse(first.stdout) as AnyJson;
    expect(report).toMatchObject({ run_id: runId, name: 'cli', succeeded: false });
    expect(report.steps.map((s: AnyJson) => [s.name, s.status])).toEqual([
      ['prepare', 'failed'],
      ['web', 'succeeded'],
      ['repair', 'succeeded'],
    ]);
    const again = await plan([file, '--run-id', runId, '-j']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual(report);
    expect(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n')).toHaveLength(3);
    // Each step's job is an ordinary one: in the audit log under the token's user.
    const audit = await request(sys, 'GET', '/audit?limit=100', undefined, token);
    const paths = (audit.body.items as AnyJson[]).map((e) => `${e.method} ${e.path}`);
    expect(paths).toContain('POST /node/_all/command/shell');
    expect(paths).toContain('POST /node/cp-03/command/exec');
  });

  it('exits 0 when every step succeeded', async () => {
    const { file } = planFile(
      () => `
steps:
  - { name: up, operation: node.uptime.get, target: _all }
  - { name: echo, operation: command.exec.execute, target: cp-01, args: { command: 'true' }, after: up }
`,
    );
    const r = await plan([file]);
    expect(r.stderr).toContain('[echo] succeeded (1 ok)');
    expect(r.code).toBe(0);
  });

  it('--dry-run prints the order and the hosts, and runs nothing', async () => {
    const { file, dir } = planFile(THREE_STEPS);
    const r = await plan([file, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Order (the steps of a level run side by side):',
        '1. prepare: command.shell.execute on _all → cp-01, cp-02, cp-03',
        '2. web: node.uptime.get on _all → cp-01, cp-02 (after prepare; when fact:custom.role=web)',
        '2. repair: command.exec.execute on _all → cp-01, cp-02, cp-03 (after prepare; only where "prepare" failed)',
        '',
      ].join('\n'),
    );
    const json = await plan([file, '--dry-run', '-j']);
    expect(JSON.parse(json.stdout).levels).toHaveLength(2);
    expect(() => readFileSync(join(dir, 'log'))).toThrow();
  });

  it('refuses a plan that is not valid with exit 2, naming step, field and line', async () => {
    const { file, dir } = planFile(
      (d) => `
steps:
  - name: a
    operation: command.exec.execute
    target: _all
    args: { command: 'touch', args: ['${d}/ran'], timeout: -1 }
  - name: b
    operation: node.nothing
    target: _all
    after: [a, c]
`,
    );
    const r = await plan([file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('osapi: the plan is not valid; nothing ran:');
    expect(r.stderr).toMatch(new RegExp(`${file}:6:\\d+: step "a": args\\.timeout: `));
    expect(r.stderr).toContain(
      `${file}:8:16: step "b": operation: unknown operation "node.nothing"`,
    );
    expect(() => readFileSync(join(dir, 'ran'))).toThrow();
    const missing = await plan([join(dir, 'absent.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the plan .*absent\.yaml/);
  });
});

describe("the package's osapi/plan entry", () => {
  it('gives the format and the runner, compiled', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('osapi/plan'); process.stdout.write([m.parsePlan, m.checkPlan, m.runPlan, m.previewPlan, m.PlanError].map((f) => typeof f).join(','));",
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 15_000 },
    );
    expect(out).toBe('function,function,function,function,function');
  });
});
