// The operator's CLI commands end to end against one `osapi start`: jobs,
// agents and the audit trail.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

let sys: StartedOsapi;
let work: string;

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-op-'));
  work = tempDir('osapi-cli-op-work-');
}, 30_000);
afterAll(cleanup, 30_000);

const osapi = (args: string[]): Promise<RunResult> =>
  runOsapi(args, { env: childEnv(sys.stateDir) });
const json = (r: RunResult) => JSON.parse(r.stdout);

describe('jobs', () => {
  test('run waits for the end; get, list, retry, delete and status follow it', async () => {
    const file = join(work, 'job.json');
    writeFileSync(
      file,
      JSON.stringify({ type: 'command.shell.execute', data: { command: 'echo from-job' } }),
    );
    const run = await osapi([
      '-j',
      'client',
      'job',
      'run',
      '--json-file',
      file,
      '--target-hostname',
      '_any',
      '-t',
      '20',
      '-p',
      '100ms',
    ]);
    expect(run.code).toBe(0);
    const detail = json(run);
    expect(detail.status).toBe('completed');
    expect(detail.result.stdout).toBe('from-job\n');

    const got = await osapi(['client', 'job', 'get', '--job-id', detail.id]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/Status: completed/);
    expect(got.stdout).toMatch(/Timeline:/);

    const list = json(
      await osapi(['-j', 'client', 'job', 'list', '--status', 'completed', '--limit', '5']),
    );
    expect(list.items.map((j: { id: string }) => j.id)).toContain(detail.id);

    const retried = json(await osapi(['-j', 'client', 'job', 'retry', '--job-id', detail.id]));
    expect(retried.job_id).not.toBe(detail.id);

    const stats = json(await osapi(['-j', 'client', 'job', 'status']));
    expect(stats.total_jobs).toBeGreaterThanOrEqual(2);

    expect((await osapi(['client', 'job', 'delete', '--job-id', detail.id])).code).toBe(0);
    const gone = await osapi(['client', 'job', 'get', '--job-id', detail.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404/);
  });

  test('bad input is refused with a message naming it', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{not json');
    const r = await osapi([
      'client',
      'job',
      'add',
      '--json-file',
      bad,
      '--target-hostname',
      '_any',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json-file: .* is not valid JSON/);
    const missing = await osapi([
      'client',
      'job',
      'add',
      '--json-file',
      join(work, 'nope.json'),
      '--target-hostname',
      '_any',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
    const wrongType = join(work, 'type.json');
    writeFileSync(wrongType, JSON.stringify({ type: 'command.nope', data: {} }));
    const api = await osapi([
      'client',
      'job',
      'add',
      '--json-file',
      wrongType,
      '--target-hostname',
      '_any',
    ]);
    expect(api.code).toBe(1);
    expect(api.stderr).toMatch(/400.*operation\.type/);
    const limit = await osapi(['client', 'job', 'list', '--limit', '0']);
    expect(limit.code).toBe(2);
    const status = await osapi(['client', 'job', 'list', '--status', 'weird']);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/400/);
  });
});

describe('agents and audit', () => {
  test('agent list and get show this host', async () => {
    const list = json(await osapi(['-j', 'client', 'agent', 'list']));
    expect(list.agents.map((a: { hostname: string }) => a.hostname)).toEqual([sys.ready.hostname]);
    const get = await osapi(['client', 'agent', 'get', '--hostname', sys.ready.hostname]);
    expect(get.stdout).toMatch(/Ready/);
    const unknown = await osapi(['client', 'agent', 'get', '--hostname', 'no-such-host']);
    expect(unknown.code).toBe(1);
  });

  test('audit list, get and export', async () => {
    await osapi(['client', 'node', 'command', 'exec', '--command', 'true']);
    let entries: Array<{ id: string; path: string }> = [];
    for (let i = 0; i < 50 && !entries.some((e) => e.path.endsWith('/command/exec')); i++) {
      entries = json(await osapi(['-j', 'client', 'audit', 'list', '--limit', '100'])).items;
    }
    const exec = entries.find((e) => e.path.endsWith('/command/exec'));
    expect(exec).toBeDefined();
    const one = json(await osapi(['-j', 'client', 'audit', 'get', '--audit-id', exec?.id ?? '']));
    expect(one.entry.id).toBe(exec?.id);
    const out = join(work, 'audit.jsonl');
    const exported = await osapi(['client', 'audit', 'export', '--output', out]);
    expect(exported.code).toBe(0);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toContain(exec?.id);
    expect(exported.stderr).toMatch(new RegExp(`Wrote ${lines.length} entries`));
    expect((await osapi(['client', 'audit', 'list', '--limit', '101'])).code).toBe(2);
  });
});
