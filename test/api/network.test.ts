// The network routes (network:read, network:write) against a real
// nats-server and agents in this process. Agents nw-01 and nw-02 read a
// network namespace of the test's own (test/support/netns.ts) through their
// `ip` (HostSettings.ipTool); nw-03 has no ip, so it answers skipped.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { makeTestNetns, type TestNetns } from '../support/netns.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['nw-01', 'nw-02'];
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
  await sys.waitForAgents([...HOSTS, 'nw-03']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  try {
    await sys?.stop();
  } finally {
    ns?.remove();
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
