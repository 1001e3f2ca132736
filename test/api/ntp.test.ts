// The NTP routes (ntp:read, ntp:write) against a real nats-server and agents
// in this process. Agents nt-01..nt-03 each run their own stand-in chronyc
// (test/support/fake-chrony.ts; this machine has no chrony) and write their
// own sources file; nt-04 has no chronyc, so it answers skipped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NTP_MARKER } from '../../src/agent/handlers/ntp.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { type FakeChrony, makeFakeChrony } from '../support/fake-chrony.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['nt-01', 'nt-02', 'nt-03'];
let sys: TestSystem;
let admin: string;
let reader: string;
const fakes = new Map<string, FakeChrony>();
const fake = (h: string) => fakes.get(h) as FakeChrony;
const HEADER = `${NTP_MARKER}: ntp.update replaces this file, ntp.delete removes it.\n`;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) {
    const f = makeFakeChrony();
    fakes.set(h, f);
    await sys.startAgent(
      h,
      { group: 'ntp' },
      { ntp: { sources_file: f.sourcesFile } },
      { chronyc: f.chronyc },
    );
  }
  const none = makeFakeChrony();
  fakes.set('nt-04', none);
  await sys.startAgent(
    'nt-04',
    { group: 'none' },
    { ntp: { sources_file: none.sourcesFile } },
    {
      chronyc: join(none.dir, 'no-chronyc'),
    },
  );
  await sys.waitForAgents([...HOSTS, 'nt-04']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  for (const f of fakes.values()) f.remove();
});

describe('ntp through the routes', () => {
  it('configures three hosts at once; the same again changes nothing; a host without chrony is skipped', async () => {
    const body = { servers: ['0.pool.ntp.org', '192.0.2.1'] };
    const r = await post(sys, '/node/group:ntp/ntp', body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((hostname) => ({ hostname, status: 'ok', changed: true })),
    );
    for (const h of HOSTS) {
      expect(readFileSync(fake(h).sourcesFile, 'utf8')).toBe(
        `${HEADER}server 0.pool.ntp.org iburst\nserver 192.0.2.1 iburst\n`,
      );
    }
    const again = await post(sys, '/node/group:ntp/ntp', body, admin);
    expect(again.body.results.map((x: AnyJson) => x.changed)).toEqual([false, false, false]);
    const skipped = await request(sys, 'GET', '/node/nt-04/ntp', undefined, admin);
    expect(skipped.body.results[0]).toEqual({
      hostname: 'nt-04',
      status: 'skipped',
      error: 'chrony is not installed on this host (no chronyc)',
    });
  });

  it('reads with a read token; update and delete on one host', async () => {
    const got = await request(sys, 'GET', '/node/nt-01/ntp', undefined, reader);
    expect(got.status).toBe(200);
    expect(got.body.results[0]).toMatchObject({
      hostname: 'nt-01',
      status: 'ok',
      synchronized: true,
      stratum: 3,
      current_source: '162.159.200.123',
      servers: ['0.pool.ntp.org', '192.0.2.1'],
    });
    const put = await request(sys, 'PUT', '/node/nt-01/ntp', { servers: ['time.example'] }, admin);
    expect(put.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(fake('nt-01').sourcesFile, 'utf8')).toBe(
      `${HEADER}server time.example iburst\n`,
    );
    const del = await request(sys, 'DELETE', '/node/nt-01/ntp', undefined, admin);
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(fake('nt-01').sourcesFile)).toBe(false);
  });

  it('a read token may not write: 403', async () => {
    expect((await post(sys, '/node/nt-02/ntp', { servers: ['a.example'] }, reader)).status).toBe(
      403,
    );
    expect((await request(sys, 'DELETE', '/node/nt-02/ntp', undefined, reader)).status).toBe(403);
    expect(existsSync(fake('nt-02').sourcesFile)).toBe(true);
  });

  it('bad input: 400 naming the field', async () => {
    const cases: Array<[string, AnyJson, string]> = [
      ['POST', { servers: [] }, 'servers'],
      ['POST', {}, 'servers'],
      ['POST', { servers: ['a.example\nserver evil'] }, 'servers[0]'],
      ['PUT', { servers: ['a.example', 'a.example'] }, 'servers[1]'],
      ['POST', { servers: ['a.example'], extra: 1 }, 'extra'],
    ];
    for (const [method, body, field] of cases) {
      const r = await request(sys, method as 'POST', '/node/nt-02/ntp', body, admin);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.fields.map((f: AnyJson) => f.field)).toContain(field);
    }
  });

  it('the SDK names each operation', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    expect(
      (await client.ntpCreate('nt-03', { servers: ['b.example'] })).body.results[0],
    ).toMatchObject({
      status: 'failed',
    });
    expect(
      (await client.ntpUpdate('nt-03', { servers: ['b.example'] })).body.results[0],
    ).toMatchObject({ changed: true });
    expect((await client.ntpGet('nt-03')).body.results[0]?.servers).toEqual(['b.example']);
    expect((await client.ntpDelete('nt-03')).body.results[0]).toMatchObject({ changed: true });
  });
});
