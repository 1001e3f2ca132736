// `@fact.<key>` references: the API's syntax check, and each agent's
// resolution with its own values (embedded, whole, escaped, unknown).
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../src/contract/facts.js';
import { withFactRefs } from '../../src/job/data-checks.js';
import {
  factRefProblems,
  factValues,
  resolveFactRefs,
  UnknownFactError,
} from '../../src/job/fact-refs.js';

const facts: HostFacts = {
  hostname: 'web-01',
  collected_at: '2026-12-06T00:00:00.000Z',
  machine_id: '3d1219c7c4c5404aaa1f6d2a48adfda4',
  architecture: 'x86_64',
  kernel_version: '6.1.0',
  fqdn: 'web-01.example.com',
  cpu_count: 8,
  memory_total: 16_000_000_000,
  os: { distribution: 'ubuntu', version: '24.04', family: 'debian' },
  interfaces: [{ name: 'eth0', ipv4: '192.0.2.10', ipv6: 'fd00::10', family: 'dual' }],
  primary_interface: 'eth0',
  routes: [{ destination: '0.0.0.0', gateway: '192.0.2.1', interface: 'eth0', mask: '0.0.0.0' }],
  service_mgr: 'systemd',
  package_mgr: 'apt',
  container: false,
  custom: { rack: 'r12', tier: 2, db: { role: 'primary' } },
};

describe('factValues', () => {
  it('names every fact by its key, custom and per-interface ones included', () => {
    const v = factValues(facts);
    expect(v.get('hostname')).toBe('web-01');
    expect(v.get('cpu_count')).toBe('8');
    expect(v.get('os.family')).toBe('debian');
    expect(v.get('interfaces.eth0.ipv4')).toBe('192.0.2.10');
    expect(v.get('primary_ipv4')).toBe('192.0.2.10');
    expect(v.get('default_gateway')).toBe('192.0.2.1');
    expect(v.get('container')).toBe('false');
    expect(v.get('custom.rack')).toBe('r12');
    expect(v.get('custom.db.role')).toBe('primary');
  });
});

describe('resolveFactRefs', () => {
  const values = factValues(facts);
  it('replaces whole and embedded references in every string, leaving the data as it was', () => {
    const data = {
      command: 'echo',
      args: ['@fact.hostname', 'rack=@fact.custom.rack.', '@fact.os.distribution/@fact.os.version'],
    };
    const copy = structuredClone(data);
    expect(resolveFactRefs(data, values)).toEqual({
      command: 'echo',
      args: ['web-01', 'rack=r12.', 'ubuntu/24.04'],
    });
    expect(data).toEqual(copy);
  });

  it('keeps @@fact. as the text @fact.', () => {
    expect(resolveFactRefs({ a: 'say @@fact.hostname' }, values)).toEqual({
      a: 'say @fact.hostname',
    });
  });

  it('fails on a key this host lacks, naming it and where it was asked', () => {
    let err: unknown;
    try {
      resolveFactRefs({ args: ['ok', '@fact.custom.nope'] }, values);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownFactError);
    expect((err as UnknownFactError).key).toBe('custom.nope');
    expect((err as UnknownFactError).path).toEqual(['args', 1]);
    expect((err as Error).message).toMatch(/no fact "custom\.nope".*GET \/facts\/keys/);
  });
});

describe('the API’s check of references', () => {
  it('refuses a reference without a key, naming the field', () => {
    expect(factRefProblems({ args: ['a', 'x @fact. y'] })).toEqual([
      { path: ['args', 1], message: expect.stringMatching(/not a fact reference/) },
    ]);
    expect(factRefProblems({ a: '@fact.ok @fact.' })).toHaveLength(1);
    expect(factRefProblems({ a: '@fact.ok @@fact. @fact.os.family' })).toEqual([]);
  });

  it('leaves a field holding a reference to the agent, and keeps every other problem', () => {
    const problems = [
      { field: 'address', message: 'must be an IPv4 or IPv6 address' },
      { field: 'servers[1]', message: 'must be an IPv4 or IPv6 address' },
    ];
    expect(
      withFactRefs('network.dns.update', problems, {
        address: '@fact.primary_ipv4',
        servers: ['1.1.1.1', 'x'],
      }),
    ).toEqual([problems[1]]);
    expect(
      withFactRefs('network.dns.update', problems, { address: '@fact.', servers: [] }),
    ).toEqual([{ field: 'address', message: expect.stringMatching(/not a fact reference/) }]);
    expect(withFactRefs('network.dns.update', problems, { address: 'x' })).toBe(problems);
  });

  it('never reads a password for references: its problems stand, and none quotes it', () => {
    const tooLong = [{ field: 'password', message: 'must not have more than 511 characters' }];
    const data = { name: 'deploy', password: `${'p'.repeat(600)}@fact.hostname` };
    expect(withFactRefs('user.password.set', tooLong, data)).toBe(tooLong);
    const secret = { name: 'deploy', password: 'x@fact.!Secret' };
    expect(withFactRefs('user.password.set', [], secret)).toEqual([]);
  });

  it('refuses data nested more than 32 levels, naming its top field, without walking it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(withFactRefs('network.dns.update', [], { servers: deep })).toEqual([
      { field: 'servers', message: expect.stringMatching(/more than 32 levels deep/) },
    ]);
  });
});
