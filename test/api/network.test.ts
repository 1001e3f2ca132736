// The network routes (network:read, network:write) against a real
// nats-server and agents in this process. Agents nw-01 and nw-02 read a
// network namespace of the test's own (test/support/netns.ts) through their
// `ip` (HostSettings.ipTool); nw-03 has no ip, so it answers skipped.
// dn-01 and dn-02 each have their own temporary resolv.conf
// (agent.dns.resolv_conf) for the DNS removal, which is skipped where
// systemd-resolved runs (agents would then change this machine's DNS).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { makeTestNetns, type TestNetns } from '../support/netns.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['nw-01', 'nw-02'];
const DNS_HOSTS = ['dn-01', 'dn-02'];
const RESOLVED = existsSync('/run/systemd/resolve');
const ORIGINAL = '# managed by hand\noptions edns0\nnameserver 192.0.2.1\nsearch old.example\n';
const dnsDir = mkdtempSync(join(tmpdir(), 'osapitest-dns-'));
const resolvConf = (h: string) => join(dnsDir, h, 'resolv.conf');
let sys: TestSystem;
let ns: TestNetns;
let admin: string;
let reader: string;

beforeAll(async () => {
  ns = makeTestNetns();
  sys = await startTestSystem();
  for (const h of HOSTS) {
    await sys.startAgent(h, { group: 'net' }, {}, { ipTool: ns.ipTool });
  }
  await sys.startAgent('nw-03', { group: 'none' }, {}, { ipTool: join(ns.dir, 'no-ip') });
  for (const h of DNS_HOSTS) {
    mkdirSync(join(dnsDir, h));
    writeFileSync(resolvConf(h), ORIGINAL);
    await sys.startAgent(h, { group: 'dns' }, { dns: { resolv_conf: resolvConf(h) } });
  }
  await sys.waitForAgents([...HOSTS, 'nw-03', ...DNS_HOSTS]);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  try {
    await sys?.stop();
  } finally {
    ns?.remove();
    rmSync(dnsDir, { recursive: true, force: true });
  }
});

describe('network reads through the routes', () => {
  it('lists interfaces of two hosts with a read token; a host without ip is skipped', async () => {
    const r = await request(sys, 'GET', '/node/group:net/network/interface', undefined, reader);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const items = byHost(r.body.results);
    expect(items.map((i: AnyJson) => [i.hostname, i.status])).toEqual([
      ['nw-01', 'ok'],
      ['nw-02', 'ok'],
    ]);
    for (const item of items) {
      expect(item.interfaces.map((i: AnyJson) => i.name)).toEqual(['lo', 'v1', 'v0']);
    }
    const skipped = await request(sys, 'GET', '/node/nw-03/network/interface', undefined, reader);
    expect(skipped.body.results[0]).toEqual({
      hostname: 'nw-03',
      status: 'skipped',
      error: 'iproute2 is not installed on this host (no ip)',
    });
  });

  it('gets one interface and the routes of one; an unknown one fails naming it', async () => {
    const got = await request(sys, 'GET', '/node/nw-01/network/interface/v0', undefined, reader);
    expect(got.body.results[0]).toMatchObject({
      hostname: 'nw-01',
      status: 'ok',
      interface: { name: 'v0', addresses: ['198.51.100.5/24', '2001:db8::5/64'], mtu: 1400 },
    });
    const unknown = await request(
      sys,
      'GET',
      '/node/nw-01/network/interface/zz9',
      undefined,
      reader,
    );
    expect(unknown.body.results[0]).toEqual({
      hostname: 'nw-01',
      status: 'failed',
      error: 'unknown interface "zz9": this host has lo, v0, v1',
    });
    const routes = await request(sys, 'GET', '/node/nw-02/network/route/v1', undefined, reader);
    expect(routes.body.results).toEqual([
      {
        hostname: 'nw-02',
        status: 'ok',
        routes: [{ destination: '192.0.2.0/24', interface: 'v1', metric: 0, scope: 'link' }],
      },
    ]);
    const all = await request(sys, 'GET', '/node/nw-02/network/route', undefined, reader);
    expect(all.body.results[0].routes).toHaveLength(6);
  });

  it('bad names: 400 naming the field', async () => {
    for (const [path, field] of [
      ['/node/nw-01/network/interface/-eth0', 'name'],
      ['/node/nw-01/network/interface/aaaaaaaaaaaaaaaa', 'name'],
      ['/node/nw-01/network/route/a%20b', 'interfaceName'],
    ] as const) {
      const r = await request(sys, 'GET', path, undefined, reader);
      expect(r.status, path).toBe(400);
      expect(r.body.fields.map((f: AnyJson) => f.field)).toContain(field);
    }
  });

  it('the SDK names each read', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const list = await client.networkRouteList('nw-01');
    expect(list.body.results[0]?.routes?.[0]?.destination).toBe('default');
    const got = await client.networkInterfaceGet('nw-01', { name: 'v1' });
    expect(got.body.results[0]?.interface?.dhcp4).toBe(true);
  });
});

describe.skipIf(RESOLVED)(
  'dns removal through the route (skipped where systemd-resolved runs)',
  () => {
    it('restores what two hosts had before the first update; again: changed false; a read token may not', async () => {
      const set = await request(
        sys,
        'PUT',
        '/node/group:dns/network/dns',
        { servers: ['198.51.100.53'], interface_name: 'lo' },
        admin,
      );
      expect(set.body.results.map((r: AnyJson) => r.changed)).toEqual([true, true]);
      const body = { interface_name: 'lo' };
      const denied = await request(sys, 'DELETE', '/node/group:dns/network/dns', body, reader);
      expect(denied.status).toBe(403);
      const del = await request(sys, 'DELETE', '/node/group:dns/network/dns', body, admin);
      expect(del.status, JSON.stringify(del.body)).toBe(200);
      expect(byHost(del.body.results)).toEqual(
        DNS_HOSTS.map((hostname) => ({
          hostname,
          status: 'ok',
          changed: true,
          source: resolvConf(hostname),
        })),
      );
      for (const h of DNS_HOSTS) expect(readFileSync(resolvConf(h), 'utf8')).toBe(ORIGINAL);
      const again = await request(sys, 'DELETE', '/node/group:dns/network/dns', body, admin);
      expect(again.body.results.map((r: AnyJson) => r.changed)).toEqual([false, false]);
      const bad = await request(
        sys,
        'DELETE',
        '/node/dn-01/network/dns',
        { interface_name: '-x' },
        admin,
      );
      expect(bad.status).toBe(400);
      expect(bad.body.fields.map((f: AnyJson) => f.field)).toEqual(['interface_name']);
    });
  },
);
