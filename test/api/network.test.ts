// The network routes (network:read, network:write) against a real
// nats-server and agents in this process. Agents nw-01 and nw-02 read a
// network namespace of the test's own (test/support/netns.ts) through their
// `ip` (HostSettings.ipTool), and change their own temp netplan directory
// through their own stand-in netplan (test/support/fake-netplan.ts), nw-01
// checking NATS after apply on its real connection, nw-02 through the
// stand-in (which can "lose" it); nw-03 has neither ip nor netplan, so it
// answers skipped.
// dn-01 and dn-02 each have their own temporary resolv.conf
// (agent.dns.resolv_conf) for the DNS removal, which is skipped where
// systemd-resolved runs (agents would then change this machine's DNS).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETPLAN_MARKER } from '../../src/agent/handlers/netplan.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { type FakeNetplan, makeFakeNetplan } from '../support/fake-netplan.js';
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
const netplans = new Map<string, FakeNetplan>();
const netplanOf = (h: string) => netplans.get(h) as FakeNetplan;

beforeAll(async () => {
  ns = makeTestNetns();
  sys = await startTestSystem();
  for (const h of HOSTS) {
    const f = makeFakeNetplan();
    netplans.set(h, f);
    await sys.startAgent(
      h,
      { group: 'net' },
      { network: { netplan_dir: f.netplanDir, connectivity_check_s: 5 } },
      {
        ipTool: ns.ipTool,
        netplan: f.netplan,
        // The stand-in changes no link: nothing to wait for before checking NATS.
        netplanSettleMs: 0,
        ...(h === 'nw-02' ? { natsReachable: async () => f.reachable() } : {}),
      },
    );
  }
  await sys.startAgent(
    'nw-03',
    { group: 'none' },
    {},
    { ipTool: join(ns.dir, 'no-ip'), netplan: join(ns.dir, 'no-netplan') },
  );
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
    for (const f of netplans.values()) f.remove();
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

const RENDERED = (body: string) =>
  `${NETPLAN_MARKER}: network.interface.* and network.route.* rewrite this file.\nnetwork:\n  version: 2\n  ethernets:\n    "eth1":\n${body}`;

describe('network changes through the routes (stand-in netplan)', () => {
  it('configures an interface on two hosts; the same again changes nothing; a host without netplan is skipped', async () => {
    const body = { addresses: ['192.0.2.10/24'], gateway4: '192.0.2.1' };
    const r = await request(sys, 'POST', '/node/group:net/network/interface/eth1', body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((hostname) => ({ hostname, status: 'ok', name: 'eth1', changed: true })),
    );
    for (const h of HOSTS) {
      expect(readFileSync(join(netplanOf(h).netplanDir, '90-osapi-eth1.yaml'), 'utf8')).toBe(
        RENDERED('      addresses:\n        - "192.0.2.10/24"\n      gateway4: "192.0.2.1"\n'),
      );
      expect(
        netplanOf(h)
          .calls()
          .filter((c) => !c.startsWith(' ')),
      ).toEqual(['generate', 'apply']);
    }
    const again = await request(sys, 'POST', '/node/group:net/network/interface/eth1', body, admin);
    expect(again.body.results.map((x: AnyJson) => x.changed)).toEqual([false, false]);
    const skipped = await request(sys, 'POST', '/node/nw-03/network/interface/eth1', body, admin);
    expect(skipped.body.results[0]).toEqual({
      hostname: 'nw-03',
      status: 'skipped',
      changed: false,
      error: 'netplan is not installed on this host (no netplan)',
    });
  });

  it('routes: create, update, delete on one host; a read token may not', async () => {
    const routes = [{ to: '203.0.113.0/24', via: '192.0.2.1', metric: 100 }];
    const denied = await request(sys, 'POST', '/node/nw-01/network/route/eth1', { routes }, reader);
    expect(denied.status).toBe(403);
    const created = await request(sys, 'POST', '/node/nw-01/network/route/eth1', { routes }, admin);
    expect(created.body.results).toEqual([
      { hostname: 'nw-01', status: 'ok', interface: 'eth1', changed: true },
    ]);
    const file = join(netplanOf('nw-01').netplanDir, '90-osapi-eth1.yaml');
    expect(readFileSync(file, 'utf8')).toBe(
      RENDERED(
        '      addresses:\n        - "192.0.2.10/24"\n      gateway4: "192.0.2.1"\n      routes:\n        - to: "203.0.113.0/24"\n          via: "192.0.2.1"\n          metric: 100\n',
      ),
    );
    const updated = await request(
      sys,
      'PUT',
      '/node/nw-01/network/route/eth1',
      { routes: [{ to: 'default', via: '192.0.2.254' }] },
      admin,
    );
    expect(updated.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    const deleted = await request(
      sys,
      'DELETE',
      '/node/nw-01/network/route/eth1',
      undefined,
      admin,
    );
    expect(deleted.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(file, 'utf8')).toBe(
      RENDERED('      addresses:\n        - "192.0.2.10/24"\n      gateway4: "192.0.2.1"\n'),
    );
  });

  it('a change that cuts the agent off NATS is rolled back', async () => {
    const f = netplanOf('nw-02');
    f.loseConnectivityOn('198.51.100.99/24');
    try {
      const r = await request(
        sys,
        'PUT',
        '/node/nw-02/network/interface/eth1',
        { addresses: ['198.51.100.99/24'] },
        admin,
      );
      expect(r.body.results).toEqual([
        {
          hostname: 'nw-02',
          status: 'failed',
          changed: false,
          error:
            'after netplan apply this agent could not reach NATS within 5 s: the previous configuration was put back and applied (rolled back)',
        },
      ]);
      expect(readFileSync(join(f.netplanDir, '90-osapi-eth1.yaml'), 'utf8')).toBe(
        RENDERED('      addresses:\n        - "192.0.2.10/24"\n      gateway4: "192.0.2.1"\n'),
      );
    } finally {
      f.loseConnectivityOn(null);
    }
  });

  it('bad input: 400 naming the field', async () => {
    const cases: Array<[string, string, AnyJson, string]> = [
      ['POST', '/node/nw-01/network/interface/eth1', { addresses: ['192.0.2.1'] }, 'addresses[0]'],
      ['POST', '/node/nw-01/network/interface/eth1', { gateway4: '::1' }, 'gateway4'],
      ['POST', '/node/nw-01/network/interface/eth1', { mtu: 10 }, 'mtu'],
      ['POST', '/node/nw-01/network/interface/eth1', { mac_address: 'x' }, 'mac_address'],
      ['PUT', '/node/nw-01/network/interface/-x', { dhcp4: true }, 'name'],
      [
        'POST',
        '/node/nw-01/network/route/eth1',
        { routes: [{ to: '10.0.0.0/8', via: '::1' }] },
        'routes[0].via',
      ],
      ['POST', '/node/nw-01/network/route/eth1', { routes: [] }, 'routes'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await request(sys, method as 'POST', path, body, admin);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.fields.map((x: AnyJson) => x.field)).toContain(field);
    }
  });

  it('the SDK names each change', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const del = await client.networkInterfaceDelete('nw-01', { name: 'eth1' });
    expect(del.body.results).toEqual([
      { hostname: 'nw-01', status: 'ok', name: 'eth1', changed: true },
    ]);
    expect(existsSync(join(netplanOf('nw-01').netplanDir, '90-osapi-eth1.yaml'))).toBe(false);
  });
});
