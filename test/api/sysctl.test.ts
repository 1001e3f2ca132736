// The sysctl routes (sysctl:read, sysctl:write) against a real nats-server
// and agents in this process. Agents sc-01..sc-03 each have their own
// temporary directory standing in for /proc/sys and their own persisted
// file (agent.sysctl.proc_dir and agent.sysctl.file); sc-04's proc_dir does
// not exist, so it answers skipped.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSCTL_MARKER } from '../../src/agent/handlers/sysctl.js';
import { OsapiClient } from '../../src/sdk/client.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['sc-01', 'sc-02', 'sc-03'];
let sys: TestSystem;
let admin: string;
let reader: string;
const roots = new Map<string, string>();
const procOf = (h: string) => join(roots.get(h) as string, 'proc-sys');
const fileOf = (h: string) => join(roots.get(h) as string, '90-osapi.conf');
const HEADER = `${SYSCTL_MARKER}: sysctl.create, sysctl.update and sysctl.delete rewrite this file.\n`;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) {
    const root = mkdtempSync(join(tmpdir(), 'osapitest-sysctl-'));
    roots.set(h, root);
    mkdirSync(join(root, 'proc-sys', 'vm'), { recursive: true });
    writeFileSync(join(root, 'proc-sys', 'vm', 'swappiness'), '60\n');
    await sys.startAgent(
      h,
      { group: 'sysctl' },
      { sysctl: { file: fileOf(h), proc_dir: procOf(h) } },
    );
  }
  await sys.startAgent(
    'sc-04',
    { group: 'none' },
    {
      sysctl: {
        file: join(tmpdir(), 'osapitest-absent.conf'),
        proc_dir: join(tmpdir(), 'osapitest-sysctl-absent'),
      },
    },
  );
  await sys.waitForAgents([...HOSTS, 'sc-04']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  for (const r of roots.values()) rmSync(r, { recursive: true, force: true });
});

describe('sysctl through the routes', () => {
  it('sets a key on three hosts at once; the same again changes nothing; a host without /proc/sys is skipped', async () => {
    const body = { key: 'vm.swappiness', value: '10' };
    const r = await post(sys, '/node/group:sysctl/sysctl', body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((hostname) => ({ hostname, status: 'ok', key: 'vm.swappiness', changed: true })),
    );
    for (const h of HOSTS) {
      expect(readFileSync(fileOf(h), 'utf8')).toBe(`${HEADER}vm.swappiness = 10\n`);
      expect(readFileSync(join(procOf(h), 'vm', 'swappiness'), 'utf8')).toBe('10\n');
    }
    const again = await post(sys, '/node/group:sysctl/sysctl', body, admin);
    expect(again.body.results.map((x: AnyJson) => x.changed)).toEqual([false, false, false]);
    const skipped = await post(sys, '/node/sc-04/sysctl', body, admin);
    expect(skipped.body.results[0]).toMatchObject({ hostname: 'sc-04', status: 'skipped' });
  });

  it('reads with a read token; update and delete on one host', async () => {
    const list = await request(sys, 'GET', '/node/sc-01/sysctl', undefined, reader);
    expect(list.status).toBe(200);
    // An item per parameter, as the reference's SysctlEntry.
    expect(list.body.results).toEqual([
      {
        hostname: 'sc-01',
        status: 'ok',
        key: 'vm.swappiness',
        value: '10',
        live: '10',
        managed: true,
      },
    ]);
    const put = await request(
      sys,
      'PUT',
      '/node/sc-01/sysctl/vm.swappiness',
      { value: '20' },
      admin,
    );
    expect(put.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    const got = await request(sys, 'GET', '/node/sc-01/sysctl/vm.swappiness', undefined, reader);
    expect(got.body.results[0]).toEqual({
      hostname: 'sc-01',
      status: 'ok',
      key: 'vm.swappiness',
      value: '20',
      live: '20',
      managed: true,
    });
    const del = await request(sys, 'DELETE', '/node/sc-01/sysctl/vm.swappiness', undefined, admin);
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(fileOf('sc-01'))).toBe(false);
    // A host managing none answers one item, without a parameter's fields.
    const none = await request(sys, 'GET', '/node/sc-01/sysctl', undefined, reader);
    expect(none.body.results).toEqual([{ hostname: 'sc-01', status: 'ok' }]);
    expect(readFileSync(join(procOf('sc-01'), 'vm', 'swappiness'), 'utf8')).toBe('20\n');
  });

  it('a read token may not write: 403, nothing changed', async () => {
    const r = await post(sys, '/node/sc-02/sysctl', { key: 'vm.swappiness', value: '1' }, reader);
    expect(r.status).toBe(403);
    const d = await request(sys, 'DELETE', '/node/sc-02/sysctl/vm.swappiness', undefined, reader);
    expect(d.status).toBe(403);
    expect(readFileSync(fileOf('sc-02'), 'utf8')).toBe(`${HEADER}vm.swappiness = 10\n`);
  });

  it('bad input: 400 naming the field', async () => {
    const cases: Array<[string, string, AnyJson, string]> = [
      ['POST', '/node/sc-02/sysctl', { key: 'swappiness', value: '1' }, 'key'],
      ['POST', '/node/sc-02/sysctl', { key: 'vm.swappiness', value: '1\nkernel.x = 1' }, 'value'],
      ['POST', '/node/sc-02/sysctl', { key: 'vm.swappiness' }, 'value'],
      ['PUT', '/node/sc-02/sysctl/vm.swappiness', { value: ' 1' }, 'value'],
      ['GET', '/node/sc-02/sysctl/-vm.x', undefined, 'key'],
      ['DELETE', '/node/sc-02/sysctl/vm%2F..%2Fx', undefined, 'key'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await request(sys, method as 'POST', path, body, admin);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.fields.map((f: AnyJson) => f.field)).toContain(field);
    }
  });

  it('the SDK names each operation', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const upd = await client.sysctlUpdate('sc-03', { key: 'vm.swappiness', value: '30' });
    expect(upd.body.results).toEqual([
      { hostname: 'sc-03', status: 'ok', key: 'vm.swappiness', changed: true },
    ]);
    const list = await client.sysctlList('sc-03');
    expect(list.body.results[0]?.live).toBe('30');
    const got = await client.sysctlGet('sc-03', { key: 'vm.swappiness' });
    expect(got.body.results[0]?.value).toBe('30');
    const del = await client.sysctlDelete('sc-03', { key: 'vm.swappiness' });
    expect(del.body.results[0]).toMatchObject({ changed: true });
    const made = await client.sysctlCreate('sc-03', { key: 'vm.swappiness', value: '40' });
    expect(made.body.results[0]).toMatchObject({ changed: true });
  });
});
