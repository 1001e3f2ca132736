// The network reads on the agent alone: for real on this machine (its
// interfaces against /sys/class/net), and exactly inside a network namespace
// of the test's own (test/support/netns.ts), where a veth pair carries known
// addresses and routes: the handlers run `ip` there through a wrapper given
// as HostSettings.ipTool, so nothing of this machine's network changes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { operationDataProblems } from '../../src/job/data-checks.js';
import { makeTestNetns, type TestNetns } from '../support/netns.js';

let ns: TestNetns;
beforeAll(() => {
  ns = makeTestNetns();
});
afterAll(() => ns?.remove());

const ctx = (ipTool?: string): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024,
  signal: new AbortController().signal,
  host: { unitDir: '/nonexistent', ...(ipTool ? { ipTool } : {}) },
});
const inNs = (type: string, data: unknown) => runJob(type, data, ctx(ns.ipTool));

const V0 = {
  name: 'v0',
  ipv4: '198.51.100.5',
  ipv6: '2001:db8::5',
  mac: '02:00:00:00:00:01',
  mac_address: '02:00:00:00:00:01',
  family: 'dual',
  addresses: ['198.51.100.5/24', '2001:db8::5/64'],
  mtu: 1400,
  state: 'up',
  dhcp4: false,
  dhcp6: false,
  gateway4: '198.51.100.1',
  gateway6: '2001:db8::1',
  primary: true,
};
const V0_ROUTES = [
  {
    destination: 'default',
    gateway: '198.51.100.1',
    interface: 'v0',
    metric: 100,
    scope: 'global',
  },
  { destination: '198.51.100.0/24', interface: 'v0', metric: 0, scope: 'link' },
  {
    destination: '203.0.113.0/24',
    gateway: '198.51.100.1',
    interface: 'v0',
    metric: 50,
    scope: 'global',
  },
  { destination: '2001:db8::/64', interface: 'v0', metric: 256, scope: 'global' },
  { destination: 'default', gateway: '2001:db8::1', interface: 'v0', metric: 200, scope: 'global' },
];

describe('network reads in a namespace of known interfaces and routes', () => {
  it('lists every interface with its addresses, MAC, state, MTU, gateways and the primary one', async () => {
    const out = await inNs('network.interface.list', {});
    expect(out.status, out.error).toBe('completed');
    expect(out.data).toEqual({
      interfaces: [
        {
          name: 'lo',
          mac: '00:00:00:00:00:00',
          mac_address: '00:00:00:00:00:00',
          addresses: [],
          mtu: 65536,
          state: 'down',
          dhcp4: false,
          dhcp6: false,
          primary: false,
        },
        {
          name: 'v1',
          ipv4: '192.0.2.77',
          mac: '02:00:00:00:00:02',
          mac_address: '02:00:00:00:00:02',
          family: 'inet',
          addresses: ['192.0.2.77/24'],
          mtu: 1500,
          state: 'up',
          dhcp4: true,
          dhcp6: false,
          primary: false,
        },
        V0,
      ],
    });
  });

  it('gets one interface; an unknown one fails naming it and what the host has', async () => {
    expect((await inNs('network.interface.get', { name: 'v0' })).data).toEqual({ interface: V0 });
    const unknown = await inNs('network.interface.get', { name: 'nope0' });
    expect(unknown.status).toBe('failed');
    expect(unknown.error).toBe('unknown interface "nope0": this host has lo, v0, v1');
  });

  it('lists the main table, both families, and the routes of one interface', async () => {
    const all = await inNs('network.route.list', {});
    expect(all.data).toEqual({
      routes: [
        V0_ROUTES[0],
        { destination: '192.0.2.0/24', interface: 'v1', metric: 0, scope: 'link' },
        V0_ROUTES[1],
        V0_ROUTES[2],
        V0_ROUTES[3],
        V0_ROUTES[4],
      ],
    });
    expect((await inNs('network.route.get', { interface_name: 'v0' })).data).toEqual({
      routes: V0_ROUTES,
    });
    expect((await inNs('network.route.get', { interface_name: 'lo' })).data).toEqual({
      routes: [],
    });
    const unknown = await inNs('network.route.get', { interface_name: 'nope0' });
    expect(unknown.error).toBe('unknown interface "nope0": this host has lo, v0, v1');
  });
});

describe('network reads on this machine', () => {
  it('lists the interfaces /sys/class/net has, with their MTU', async () => {
    const out = await runJob('network.interface.list', {}, ctx());
    expect(out.status, out.error).toBe('completed');
    const interfaces = (out.data as { interfaces: Array<{ name: string; mtu: number }> })
      .interfaces;
    expect(interfaces.map((i) => i.name).sort()).toEqual(readdirSync('/sys/class/net').sort());
    for (const i of interfaces) {
      expect(i.mtu).toBe(Number(readFileSync(`/sys/class/net/${i.name}/mtu`, 'utf8')));
    }
    const lo = interfaces.find((i) => i.name === 'lo');
    expect(lo).toMatchObject({ addresses: expect.arrayContaining(['127.0.0.1/8']) });
  });

  it('lists routes, each through an interface the host has', async () => {
    const out = await runJob('network.route.list', {}, ctx());
    expect(out.status, out.error).toBe('completed');
    const names = new Set(readdirSync('/sys/class/net'));
    for (const r of (out.data as { routes: Array<{ interface: string }> }).routes) {
      expect(names.has(r.interface)).toBe(true);
    }
  });

  it('a host without ip is skipped, saying so', async () => {
    const out = await runJob('network.interface.list', {}, ctx(join(ns.dir, 'no-ip')));
    expect(out).toMatchObject({
      state: 'skipped',
      error: 'iproute2 is not installed on this host (no ip)',
    });
  });
});

describe('interface names', () => {
  it('take what the kernel takes, nothing a tool reads as an option', () => {
    for (const name of ['eth0', 'br-lan', 'eth0.100', 'veth_x@1', 'a'.repeat(15)]) {
      expect(operationDataProblems('network.interface.get', { name }), name).toEqual([]);
    }
    for (const name of ['', '-eth0', 'a/b', 'a b', 'a:1', '.', '..', 'a'.repeat(16), 'é']) {
      expect(operationDataProblems('network.interface.get', { name }), name).toEqual([
        { field: 'name', message: expect.stringMatching(/^must be an interface name/) },
      ]);
    }
  });
});
