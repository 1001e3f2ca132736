// The node information routes (GET /node/{target}[/hostname|disk|memory|load|os|uptime])
// against a real nats-server and three agents on this machine: one item per
// agent for each target kind, with values checked against what this test
// reads from the machine itself.
import { readFileSync, statfsSync } from 'node:fs';
import { hostname, totalmem, uptime } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

const LABELS: Record<string, Record<string, string>> = {
  'ni-01': { group: 'web.dev' },
  'ni-02': { group: 'web.prod' },
  'ni-03': { group: 'db' },
};
const ALL = Object.keys(LABELS);
const TARGETS: Array<[target: string, hosts: string[]]> = [
  ['_all', ALL],
  ['ni-02', ['ni-02']],
  ['group:web', ['ni-01', 'ni-02']],
];

let sys: TestSystem;
let token: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const [h, labels] of Object.entries(LABELS)) await sys.startAgent(h, labels);
  await sys.waitForAgents(ALL);
  token = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
type Item = Record<string, any>;

async function get(path: string): Promise<{ job_id: string; results: Item[] }> {
  const r = await request(sys, 'GET', path, undefined, token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
  return r.body;
}

const hosts = (results: Item[]) => results.map((r) => r.hostname).sort();

/** What the machine says, read here and not through the agent's code. */
function osRelease(): { distribution: string; version: string } {
  const text = readFileSync('/etc/os-release', 'utf8');
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
  return { distribution: field('ID') ?? '', version: field('VERSION_ID') ?? '' };
}
const memTotal = () =>
  Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024;
const mounts = () =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [device, name, fsType] = l.split(' ');
      return { device, name, fsType };
    });
const PSEUDO = ['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'overlay'];

function expectDisks(disks: Item[]): void {
  expect(Array.isArray(disks)).toBe(true);
  const mounted = mounts();
  for (const d of disks) {
    for (const k of ['total', 'used', 'free']) expect(Number.isInteger(d[k]), k).toBe(true);
    expect(d.used + d.free).toBeLessThanOrEqual(d.total);
    expect(PSEUDO).not.toContain(d.fs_type);
    expect(mounted).toContainEqual({ device: d.device, name: d.name, fsType: d.fs_type });
    const s = statfsSync(d.name);
    expect(d.total).toBe(s.blocks * s.bsize);
  }
  // A machine whose root is on a block device reports it.
  const root = mounted.filter((m) => m.name === '/').at(-1);
  if (root?.device?.startsWith('/dev/') && !PSEUDO.includes(root.fsType ?? '')) {
    expect(disks.map((d) => d.name)).toContain('/');
  }
}

function expectMemory(m: Item): void {
  expect(m.total).toBe(memTotal());
  expect(m.total).toBe(totalmem());
  expect(Number.isInteger(m.free) && Number.isInteger(m.used)).toBe(true);
  expect(m.used + m.free).toBe(m.total);
}

function expectLoad(l: Item): void {
  for (const k of ['1min', '5min', '15min']) {
    expect(typeof l[k]).toBe('number');
    expect(l[k]).toBeGreaterThanOrEqual(0);
  }
}

function expectUptime(u: string): void {
  // Read within a second or two of ours; the duration string is whole seconds.
  expect(Math.abs(parseDuration(u) - uptime() * 1000)).toBeLessThan(5000);
}

describe.each(TARGETS)('target %s', (target, expected) => {
  it('GET /node/{target}: status of each host', async () => {
    const body = await get(`/node/${target}`);
    expect(hosts(body.results)).toEqual(expected);
    for (const r of body.results) {
      expect(r.status).toBe('completed');
      expect(r.error).toBeUndefined();
      expectUptime(r.uptime);
      expectLoad(r.load_average);
      expectMemory(r.memory);
      expectDisks(r.disks);
      expect(r.os_info).toEqual(osRelease());
    }
  });

  it('GET /node/{target}/hostname: name and labels of each agent', async () => {
    const body = await get(`/node/${target}/hostname`);
    expect(hosts(body.results)).toEqual(expected);
    for (const r of body.results) {
      expect(r).toEqual({
        hostname: r.hostname,
        labels: LABELS[r.hostname],
        os_hostname: hostname(),
        status: 'completed',
      });
    }
  });

  it('GET /node/{target}/disk: mounted local filesystems in integer bytes', async () => {
    const body = await get(`/node/${target}/disk`);
    expect(hosts(body.results)).toEqual(expected);
    for (const r of body.results) expectDisks(r.disks);
  });

  it('GET /node/{target}/memory, /load, /os, /uptime', async () => {
    const [memory, load, os, up] = await Promise.all([
      get(`/node/${target}/memory`),
      get(`/node/${target}/load`),
      get(`/node/${target}/os`),
      get(`/node/${target}/uptime`),
    ]);
    for (const body of [memory, load, os, up]) expect(hosts(body.results)).toEqual(expected);
    for (const r of memory.results) {
      expect(Object.keys(r).sort()).toEqual(['hostname', 'memory', 'status']);
      expectMemory(r.memory);
    }
    for (const r of load.results) expectLoad(r.load_average);
    for (const r of os.results) expect(r.os_info).toEqual(osRelease());
    for (const r of up.results) expectUptime(r.uptime);
  });
});

describe('targets and permissions', () => {
  it('_any answers with exactly one agent', async () => {
    const body = await get('/node/_any/uptime');
    expect(body.results).toHaveLength(1);
    expect(ALL).toContain(body.results[0]?.hostname);
  });

  it('refuses a bad target with 400 and an unknown host with 404, running nothing', async () => {
    const bad = await request(sys, 'GET', '/node/bad!host/memory', undefined, token);
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toBe('invalid_target');
    const none = await request(sys, 'GET', '/node/nobody-here/memory', undefined, token);
    expect(none.status).toBe(404);
    expect(none.body.reason).toBe('no_matching_agent');
  });

  it('needs node:read: 403 naming it, 401 without a token', async () => {
    const other = await sys.token(['admin'], ['agent:read', 'network:read']);
    for (const path of ['/node/_all', '/node/_all/hostname', '/node/_all/disk']) {
      const r = await request(sys, 'GET', path, undefined, other);
      expect(r.status).toBe(403);
      expect(r.body.missing_permission).toBe('node:read');
      expect(r.body.details).toBe('missing_permission: node:read');
      expect(r.body.error).toContain('node:read');
      const anon = await request(sys, 'GET', path);
      expect(anon.status).toBe(401);
    }
  });

  it('the job is recorded as a query operation like any other', async () => {
    const body = await get('/node/ni-01/os');
    // The API answers once the result is stored; the job's `completed` event
    // reaches its jobs view a moment later, so read until it has (bounded).
    let job = await request(sys, 'GET', `/job/${body.job_id}`, undefined, token);
    for (let i = 0; i < 100 && job.body.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      job = await request(sys, 'GET', `/job/${body.job_id}`, undefined, token);
    }
    expect(job.status).toBe(200);
    expect(job.body.operation).toEqual({ type: 'node.os.get', data: {} });
    expect(job.body.status).toBe('completed');
    expect(job.body.result).toEqual({ os_info: osRelease() });
  });

  it('?async=true answers at once with the job and the hosts it went to', async () => {
    const r = await request(sys, 'GET', '/node/group:web/uptime?async=true', undefined, token);
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([]);
    expect([...r.body.expected_hosts].sort()).toEqual(['ni-01', 'ni-02']);
    const job = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, token);
    expect(job.status).toBe(200);
    expect(job.body.operation.type).toBe('node.uptime.get');
  });

  it('an unknown query parameter is a 400 naming it', async () => {
    const r = await request(sys, 'GET', '/node/ni-01/os?nope=1', undefined, token);
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.error).toContain('nope');
  });

  it('an Idempotency-Key replays the first job instead of making another', async () => {
    const key = { 'idempotency-key': `os-${Date.now()}` };
    const first = await request(sys, 'GET', '/node/ni-03/os', undefined, token, key);
    const again = await request(sys, 'GET', '/node/ni-03/os', undefined, token, key);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.job_id).toBe(first.body.job_id);
    expect(again.body.results).toEqual(first.body.results);
  });
});
