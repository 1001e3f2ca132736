// The network routes: POST /node/{target}/network/ping (network:write) and
// GET /node/{target}/network/dns/{interfaceName} (network:read), against a
// real nats-server and three agents. Pings go to loopback addresses only.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';

const LABELS: Record<string, Record<string, string>> = {
  'nn-01': { group: 'web.dev' },
  'nn-02': { group: 'web.prod' },
  'nn-03': { group: 'db' },
};
const ALL = Object.keys(LABELS);
const TARGETS: Array<[target: string, hosts: string[]]> = [
  ['_all', ALL],
  ['nn-03', ['nn-03']],
  ['group:web', ['nn-01', 'nn-02']],
];

/** The kernel lists ::1 here when the loopback interface has IPv6. */
const HAS_V6_LOOPBACK =
  existsSync('/proc/net/if_inet6') &&
  readFileSync('/proc/net/if_inet6', 'utf8').includes('00000000000000000000000000000001');
/** With systemd-resolved running, DNS comes from resolvectl, not from the file read here. */
const RESOLVED = existsSync('/run/systemd/resolve');

let sys: TestSystem;
let admin: string;
let reader: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const [h, labels] of Object.entries(LABELS)) await sys.startAgent(h, labels);
  await sys.waitForAgents(ALL);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
const hosts = (results: any[]) => results.map((r) => r.hostname).sort();
const RTT = /^(0s|\d+µs|\d+(\.\d+)?ms|\d+(\.\d+)?s)$/;

describe('ping', () => {
  it.each(TARGETS)('pings 127.0.0.1 from %s', async (target, expected) => {
    const r = await post(sys, `/node/${target}/network/ping`, { address: '127.0.0.1' }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(hosts(r.body.results)).toEqual(expected);
    for (const item of r.body.results) {
      expect(item.error).toBeUndefined();
      expect(item).toMatchObject({
        status: 'completed',
        packets_sent: 3,
        packets_received: 3,
        packet_loss: 0,
      });
      for (const k of ['min_rtt', 'avg_rtt', 'max_rtt']) expect(item[k]).toMatch(RTT);
    }
  });

  it.skipIf(!HAS_V6_LOOPBACK)(
    'pings ::1 (skipped when this machine has no IPv6 loopback address)',
    async () => {
      const r = await post(sys, '/node/_all/network/ping', { address: '::1' }, admin);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(hosts(r.body.results)).toEqual(ALL);
      for (const item of r.body.results) {
        expect(item).toMatchObject({ status: 'completed', packets_sent: 3, packets_received: 3 });
        expect(item.avg_rtt).toMatch(RTT);
      }
    },
  );

  it.each([
    ['a hostname', { address: 'localhost' }, 'address'],
    ['garbage', { address: 'not an address; rm -rf /' }, 'address'],
    ['an IPv4 address with a bad octet', { address: '127.0.0.256' }, 'address'],
    ['an address with a zone', { address: 'fe80::1%eth0' }, 'address'],
    ['an option', { address: '-f' }, 'address'],
    ['an empty address', { address: '' }, 'address'],
    ['a number', { address: 127 }, 'address'],
    ['no address', {}, 'address'],
    ['an extra field', { address: '127.0.0.1', count: 100 }, 'count'],
  ])('refuses %s with a 400 naming the field', async (_what, body, field) => {
    const r = await post(sys, '/node/_all/network/ping', body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.code).toBe(400);
    expect(r.body.fields.map((d: { field: string }) => d.field)).toContain(field);
    expect(r.body.error).toContain(field);
  });

  it('refuses a body that is not JSON or not an object', async () => {
    for (const body of ['[]', '"127.0.0.1"', 'null']) {
      const r = await post(sys, '/node/_all/network/ping', body, admin);
      expect(r.status, body).toBe(400);
    }
  });

  it('needs network:write: a read token gets 403 naming it; no token 401', async () => {
    const r = await post(sys, '/node/_all/network/ping', { address: '127.0.0.1' }, reader);
    expect(r.status).toBe(403);
    expect(r.body.missing_permission).toBe('network:write');
    expect(r.body.details).toBe('missing_permission: network:write');
    const anon = await post(sys, '/node/_all/network/ping', { address: '127.0.0.1' });
    expect(anon.status).toBe(401);
  });

  it('POST /job validates a ping job as the route does, and runs a valid one', async () => {
    const bad = await post(
      sys,
      '/job',
      {
        operation: { type: 'network.ping.do', data: { address: 'localhost' } },
        target_hostname: '_any',
      },
      admin,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('operation.data.address');
    const ok = await post(
      sys,
      '/job',
      {
        operation: { type: 'network.ping.do', data: { address: '127.0.0.1' } },
        target_hostname: 'nn-01',
      },
      admin,
    );
    expect(ok.status).toBe(201);
  });
});

describe('dns get', () => {
  /** /etc/resolv.conf as this test reads it. */
  function resolvConf(): { servers: string[]; search_domains: string[] } {
    const servers: string[] = [];
    let search: string[] = [];
    for (const raw of readFileSync('/etc/resolv.conf', 'utf8').split('\n')) {
      const words = raw
        .replace(/[#;].*$/, '')
        .trim()
        .split(/\s+/);
      if (words[0] === 'nameserver' && words[1]) servers.push(words[1]);
      if (words[0] === 'search') search = words.slice(1);
      if (words[0] === 'domain' && words[1]) search = [words[1]];
    }
    return { servers, search_domains: search };
  }

  it.each(TARGETS)(
    'reads the servers and search domains of lo from %s',
    async (target, expected) => {
      // A read token is enough: network:read.
      const r = await request(sys, 'GET', `/node/${target}/network/dns/lo`, undefined, reader);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(hosts(r.body.results)).toEqual(expected);
      for (const item of r.body.results) {
        expect(item.status).toBe('completed');
        expect(Array.isArray(item.servers) && Array.isArray(item.search_domains)).toBe(true);
        if (!RESOLVED) {
          expect(item).toMatchObject({ ...resolvConf(), source: '/etc/resolv.conf' });
        }
      }
    },
  );

  it('an interface the host does not have is an error in each result', async () => {
    const r = await request(sys, 'GET', '/node/_all/network/dns/nosuch0', undefined, reader);
    expect(r.status).toBe(200);
    expect(hosts(r.body.results)).toEqual(ALL);
    for (const item of r.body.results) {
      expect(item.status).toBe('failed');
      expect(item.error).toMatch(/unknown interface "nosuch0"/);
      expect(item.servers).toBeUndefined();
    }
  });

  it.each([
    ['a dash', 'eth-0'],
    ['a dot', 'eth.0'],
    ['an encoded slash', 'eth0%2F..'],
    ['16 characters', 'a'.repeat(16)],
  ])('refuses an interface name with %s: 400 naming interfaceName', async (_what, name) => {
    const r = await request(sys, 'GET', `/node/_all/network/dns/${name}`, undefined, reader);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.fields).toEqual([{ field: 'interfaceName', message: expect.any(String) }]);
    expect(r.body.details).toMatch(/^interfaceName: /);
  });

  it('needs network:read: 403 naming it; no token 401', async () => {
    const noNetwork = await sys.token(['admin'], ['node:read']);
    const r = await request(sys, 'GET', '/node/_all/network/dns/lo', undefined, noNetwork);
    expect(r.status).toBe(403);
    expect(r.body.missing_permission).toBe('network:read');
    expect(r.body.details).toBe('missing_permission: network:read');
    const anon = await request(sys, 'GET', '/node/_all/network/dns/lo');
    expect(anon.status).toBe(401);
  });
});
