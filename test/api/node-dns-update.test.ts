// PUT /node/{target}/network/dns (network:write) against a real nats-server
// and three agents, each with its own temporary resolv.conf
// (agent.dns.resolv_conf). Skipped where systemd-resolved runs: agents would
// then change this machine's real DNS through resolvectl.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIOUS_SUFFIX } from '../../src/agent/handlers/resolv-conf.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost } from './helpers.js';

const RESOLVED = existsSync('/run/systemd/resolve');
const LABELS: Record<string, Record<string, string>> = {
  'du-01': { group: 'web.dev' },
  'du-02': { group: 'web.prod' },
  'du-03': { group: 'db' },
};
const ALL = Object.keys(LABELS);
const ORIGINAL = '# managed by hand\noptions edns0\nnameserver 192.0.2.1\nsearch old.example\n';

let sys: TestSystem;
let admin: string;
let reader: string;
const dir = mkdtempSync(join(tmpdir(), 'osapi-dns-api-'));
/** Each agent's own resolv.conf. */
const file = (host: string) => join(dir, host, 'resolv.conf');

beforeAll(async () => {
  sys = await startTestSystem();
  for (const [h, labels] of Object.entries(LABELS)) {
    mkdirSync(join(dir, h));
    writeFileSync(file(h), ORIGINAL);
    await sys.startAgent(h, labels, { dns: { resolv_conf: file(h) } });
  }
  await sys.waitForAgents(ALL);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const put = (target: string, body: unknown, token = admin) =>
  request(sys, 'PUT', `/node/${target}/network/dns`, body, token);

describe.skipIf(RESOLVED)('dns update (skipped where systemd-resolved runs)', () => {
  it('a host: writes its file, keeps the previous one, changed true; the same again: changed false', async () => {
    const body = {
      servers: ['198.51.100.1', '2001:db8::53'],
      search_domains: ['corp.example', 'example.org'],
      interface_name: 'lo',
    };
    const r = await put('du-03', body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.results).toEqual([
      { hostname: 'du-03', status: 'ok', changed: true, source: file('du-03') },
    ]);
    expect(readFileSync(file('du-03'), 'utf8')).toBe(
      '# managed by hand\noptions edns0\nnameserver 198.51.100.1\nnameserver 2001:db8::53\nsearch corp.example example.org\n',
    );
    expect(readFileSync(`${file('du-03')}${PREVIOUS_SUFFIX}`, 'utf8')).toBe(ORIGINAL);
    // The other agents' files were not addressed.
    expect(readFileSync(file('du-01'), 'utf8')).toBe(ORIGINAL);

    const again = await put('du-03', body);
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      { hostname: 'du-03', status: 'ok', changed: false, source: file('du-03') },
    ]);
    // The reference's override_dhcp is taken, and changes nothing more.
    const overriding = await put('du-03', { ...body, override_dhcp: true });
    expect(overriding.status).toBe(200);
    expect(overriding.body.results[0]).toMatchObject({ status: 'ok', changed: false });

    // A read token cannot change it, but reads what was written.
    const got = await request(sys, 'GET', '/node/du-03/network/dns/lo', undefined, reader);
    expect(got.status).toBe(200);
    expect(got.body.results[0]).toMatchObject({
      servers: body.servers,
      search_domains: body.search_domains,
      source: file('du-03'),
    });
  });

  it('a label reaches its hosts, each writing its own file', async () => {
    const r = await put('group:web', { servers: ['192.0.2.10'], interface_name: 'lo' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      ['du-01', 'du-02'].map((h) => ({
        hostname: h,
        status: 'ok',
        changed: true,
        source: file(h),
      })),
    );
    for (const h of ['du-01', 'du-02']) {
      expect(readFileSync(file(h), 'utf8')).toBe(
        '# managed by hand\noptions edns0\nnameserver 192.0.2.10\nsearch old.example\n',
      );
    }
  });

  it('_all answers for every agent: changed only where the configuration differed', async () => {
    // du-01 and du-02 already have these servers from the label update.
    const r = await put('_all', { servers: ['192.0.2.10'], interface_name: 'lo' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results).map((x: AnyJson) => [x.hostname, x.status, x.changed])).toEqual([
      ['du-01', 'ok', false],
      ['du-02', 'ok', false],
      ['du-03', 'ok', true],
    ]);
    const cleared = await put('_all', { search_domains: [], interface_name: 'lo' });
    expect(cleared.status).toBe(200);
    for (const h of ALL) expect(readFileSync(file(h), 'utf8')).not.toMatch(/search|domain/);
  });

  it('takes rate control like every change: one host at a time, recorded with the job', async () => {
    const r = await put('group:web', {
      servers: ['192.0.2.11'],
      interface_name: 'lo',
      max_concurrency: 1,
      max_errors: 0,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results).map((x: AnyJson) => [x.hostname, x.status])).toEqual([
      ['du-01', 'ok'],
      ['du-02', 'ok'],
    ]);
    const job = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin);
    expect(job.body.timeline[0].message).toMatch(/max_concurrency 1/);
    expect(job.body.operation.data).toEqual({ servers: ['192.0.2.11'], interface_name: 'lo' });
    const bad = await put('group:web', {
      servers: ['192.0.2.11'],
      interface_name: 'lo',
      max_concurrency: 0,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('max_concurrency');
  });

  it('an interface the host does not have: failed, changed false, file untouched', async () => {
    const before = readFileSync(file('du-01'), 'utf8');
    const r = await put('du-01', { servers: ['192.0.2.99'], interface_name: 'nosuch0' });
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      {
        hostname: 'du-01',
        status: 'failed',
        changed: false,
        error: expect.stringMatching(/^unknown interface "nosuch0"/),
      },
    ]);
    expect(readFileSync(file('du-01'), 'utf8')).toBe(before);
  });

  it('POST /job validates a DNS update as the route does, and runs a valid one', async () => {
    const bad = await post(
      sys,
      '/job',
      {
        operation: {
          type: 'network.dns.update',
          data: { servers: ['dns.example'], interface_name: 'lo' },
        },
        target_hostname: 'du-02',
      },
      admin,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('operation.data.servers[0]');
    const ok = await post(
      sys,
      '/job',
      {
        operation: {
          type: 'network.dns.update',
          data: { search_domains: ['job.example'], interface_name: 'lo' },
        },
        target_hostname: 'du-02',
      },
      admin,
    );
    expect(ok.status).toBe(201);
    // POST /job does not wait: read the job until the agent's result is in (bounded).
    let job = await request(sys, 'GET', `/job/${ok.body.job_id}`, undefined, admin);
    for (let i = 0; i < 200 && job.body.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      job = await request(sys, 'GET', `/job/${ok.body.job_id}`, undefined, admin);
    }
    expect(job.body.status).toBe('completed');
    expect(job.body.result).toEqual({ changed: true, source: file('du-02') });
    expect(readFileSync(file('du-02'), 'utf8')).toContain('search job.example\n');
  });
});

describe('dns update refusals (nothing is sent to any agent)', () => {
  it.each([
    ['a bad IP', { servers: ['192.0.2.1', '300.1.1.1'], interface_name: 'lo' }, ['servers[1]']],
    ['a hostname as server', { servers: ['dns.example'], interface_name: 'lo' }, ['servers[0]']],
    ['a server that is not text', { servers: [53], interface_name: 'lo' }, ['servers[0]']],
    ['no server in the list', { servers: [], interface_name: 'lo' }, ['servers']],
    [
      'a bad search domain',
      { search_domains: ['ok.example', 'not_a host'], interface_name: 'lo' },
      ['search_domains[1]'],
    ],
    ['neither list', { interface_name: 'lo' }, ['servers', 'search_domains']],
    [
      'a bad interface name',
      { servers: ['192.0.2.1'], interface_name: 'eth-0' },
      ['interface_name'],
    ],
    ['no interface name', { servers: ['192.0.2.1'] }, ['interface_name']],
    ['an extra field', { servers: ['192.0.2.1'], interface_name: 'lo', ttl: 5 }, ['ttl']],
  ])('%s: 400 naming the field', async (_what, body, fields) => {
    const before = ALL.map((h) => readFileSync(file(h), 'utf8'));
    const r = await put('_all', body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.fields.map((d: { field: string }) => d.field)).toEqual(fields);
    for (const f of fields) expect(r.body.error).toContain(f);
    expect(ALL.map((h) => readFileSync(file(h), 'utf8'))).toEqual(before);
  });

  it('needs network:write: a read token gets 403 naming it (and can still GET dns); no token 401', async () => {
    const before = ALL.map((h) => readFileSync(file(h), 'utf8'));
    const r = await put('_all', { servers: ['192.0.2.77'], interface_name: 'lo' }, reader);
    expect(r.status).toBe(403);
    expect(r.body.missing_permission).toBe('network:write');
    expect(r.body.details).toBe('missing_permission: network:write');
    expect(r.body.error).toContain('network:write');
    const anon = await request(sys, 'PUT', '/node/_all/network/dns', {
      servers: ['192.0.2.77'],
      interface_name: 'lo',
    });
    expect(anon.status).toBe(401);
    expect(ALL.map((h) => readFileSync(file(h), 'utf8'))).toEqual(before);
    const got = await request(sys, 'GET', '/node/_all/network/dns/lo', undefined, reader);
    expect(got.status).toBe(200);
  });

  it('a target no agent matches: 404, as for every job', async () => {
    const r = await put('nobody', { servers: ['192.0.2.1'], interface_name: 'lo' });
    expect(r.status).toBe(404);
    expect(r.body.reason).toBe('no_matching_agent');
  });
});
