// `osapi client node status|hostname` and `node network ping|dns get` end to
// end against one `osapi start` child (one agent, named after this machine).
import { hostname } from 'node:os';
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

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-node-'));
}, 30_000);

afterAll(cleanup, 30_000);

function osapi(args: string[]): Promise<RunResult> {
  return runOsapi(args, { env: childEnv(sys.stateDir) });
}

/** The header row's cells of the first table on stdout. */
function header(stdout: string): string[] {
  const line = stdout.split('\n').find((l) => l.includes('HOSTNAME')) ?? '';
  return line
    .split('│')
    .map((c) => c.trim())
    .filter(Boolean);
}

// One after another: each run starts a Node process, and two cores are shared.
describe('node information and network', () => {
  test('node status: a host table and a disk table with human sizes and percentages', async () => {
    const r = await osapi(['client', 'node', 'status']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Job ID: [0-9a-f-]{36}\n/);
    expect(header(r.stdout)).toEqual([
      'HOSTNAME',
      'UPTIME',
      'LOAD (1m 5m 15m)',
      'MEMORY USED',
      'OS',
    ]);
    expect(r.stdout).toContain(sys.ready.hostname);
    expect(r.stdout).toMatch(/\d+\.\d (KiB|MiB|GiB|TiB) \/ \d+\.\d (MiB|GiB|TiB) \(\d+%\)/);
    if (r.stdout.includes('Disks:')) expect(r.stdout).toMatch(/USE%[\s\S]*\d+%/);
  });

  test('node hostname -T HOST -j prints the API body', async () => {
    const r = await osapi(['-j', 'client', 'node', 'hostname', '-T', sys.ready.hostname]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.results).toEqual([
      { hostname: sys.ready.hostname, labels: {}, os_hostname: hostname(), status: 'completed' },
    ]);
  });

  test('node network ping --address 127.0.0.1', async () => {
    const r = await osapi(['client', 'node', 'network', 'ping', '--address', '127.0.0.1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual([
      'HOSTNAME',
      'SENT',
      'RECEIVED',
      'LOSS',
      'MIN RTT',
      'AVG RTT',
      'MAX RTT',
    ]);
    expect(r.stdout).toMatch(/│\s*3\s*│\s*3\s*│\s*0%\s*│/);
  });

  test('node network ping refuses a hostname as usage (exit 2)', async () => {
    const r = await osapi(['client', 'node', 'network', 'ping', '--address', 'localhost']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--address');
  });

  test('node network dns get: servers per host, and an unknown interface exits 1', async () => {
    const r = await osapi(['client', 'node', 'network', 'dns', 'get', '--interface-name', 'lo']);
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual(['HOSTNAME', 'SERVERS', 'SEARCH DOMAINS']);

    const bad = await osapi([
      'client',
      'node',
      'network',
      'dns',
      'get',
      '--interface-name',
      'nosuch0',
    ]);
    expect(bad.code).toBe(1);
    expect(header(bad.stdout)).toContain('ERROR');
    expect(bad.stdout).toContain('unknown interface');

    // With -j too: the whole body on stdout, and exit 1.
    const badJson = await osapi([
      'client',
      'node',
      'network',
      'dns',
      'get',
      '--interface-name',
      'nosuch0',
      '-j',
    ]);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout).results[0]).toMatchObject({ status: 'failed' });
  });

  test('node uptime: the table made from the declared result; --async prints the job id', async () => {
    const r = await osapi(['client', 'node', 'uptime']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual(['HOSTNAME', 'STATUS', 'UPTIME']);
    expect(r.stdout).toMatch(/completed\s*│\s*\d+[dhms]/);

    const memory = await osapi(['client', 'node', 'memory']);
    expect(memory.code).toBe(0);
    expect(header(memory.stdout)).toEqual(['HOSTNAME', 'TOTAL', 'USED', 'FREE', 'USE%']);
    expect(memory.stdout).toMatch(/\d+\.\d (MiB|GiB|TiB)\s*│.*\d+%/);

    const sent = await osapi(['client', 'node', 'memory', '--async', '-T', sys.ready.hostname]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/^Job ID: [0-9a-f-]{36}\n$/);
    expect(sent.stderr).toContain(`Sent to ${sys.ready.hostname}`);
  });

  test('a generated command refuses a bad flag value as usage, naming the flag (exit 2)', async () => {
    const r = await osapi(['client', 'node', 'network', 'dns', 'get', '--interface-name', 'eth-0']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--interface-name: must be 1 to 15 letters or digits');
  });
});
