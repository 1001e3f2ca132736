// The facts an agent collects: parsed from the kernel's own tables, custom
// ones from config and from a directory of sources (JSON files and
// executables), a failing, slow or bad source skipped with a warning.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CUSTOM_SOURCE_MAX_BYTES,
  collectFacts,
  interfacesOf,
  osRelease,
  parseRoutes,
  primaryInterface,
} from '../../src/agent/facts.js';
import { HostFacts } from '../../src/contract/facts.js';
import { recordParser } from '../../src/job/records.js';
import { tempDir } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';

const dir = tempDir('facts');
afterAll(() => dir.remove());

describe('what the kernel and the OS say', () => {
  it('reads the routing table, and the default route names the primary interface', () => {
    const routes = parseRoutes(
      [
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
        'eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0',
        'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      ].join('\n'),
    );
    expect(routes[1]).toEqual({
      destination: '0.0.0.0',
      gateway: '192.0.2.1',
      interface: 'eth0',
      mask: '0.0.0.0',
      metric: 100,
      flags: 'UG',
    });
    expect(routes[2]).toMatchObject({
      destination: '192.0.2.0',
      mask: '255.255.255.0',
      flags: 'U',
    });
    expect(primaryInterface(routes)).toBe('eth0');
    expect(primaryInterface([])).toBe('');
    expect(parseRoutes(null)).toEqual([]);
  });

  it('lists interfaces but loopback, with their first addresses, a global IPv6 first', () => {
    const found = interfacesOf({
      lo: [
        {
          address: '127.0.0.1',
          family: 'IPv4',
          internal: true,
          mac: '00:00:00:00:00:00',
          netmask: '255.0.0.0',
          cidr: null,
        },
      ],
      eth0: [
        {
          address: 'fe80::1',
          family: 'IPv6',
          internal: false,
          mac: '02:00:00:00:00:01',
          netmask: 'ffff::',
          cidr: null,
          scopeid: 2,
        },
        {
          address: 'fd00::2',
          family: 'IPv6',
          internal: false,
          mac: '02:00:00:00:00:01',
          netmask: 'ffff::',
          cidr: null,
          scopeid: 0,
        },
        {
          address: '192.0.2.2',
          family: 'IPv4',
          internal: false,
          mac: '02:00:00:00:00:01',
          netmask: '255.255.255.0',
          cidr: null,
        },
      ],
    } as never);
    expect(found).toEqual([
      {
        name: 'eth0',
        ipv4: '192.0.2.2',
        ipv6: 'fd00::2',
        mac: '02:00:00:00:00:01',
        family: 'dual',
      },
    ]);
  });

  it('takes the OS family from ID_LIKE, or the ID itself', () => {
    expect(osRelease('ID=ubuntu\nVERSION_ID="24.04"\nID_LIKE=debian\n')).toEqual({
      distribution: 'ubuntu',
      version: '24.04',
      family: 'debian',
    });
    expect(osRelease('ID="rocky"\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n').family).toBe(
      'rhel',
    );
    expect(osRelease('ID=debian\nVERSION_ID="12"\n').family).toBe('debian');
  });
});

describe('collectFacts', () => {
  const check = recordParser(HostFacts, 'host facts');

  it('gives facts of this host that fit their schema', async () => {
    const f = await collectFacts({
      hostname: 'h1',
      custom: {},
      dir: '',
      timeoutMs: 5000,
      logger: silentLogger,
    });
    expect(() => check(JSON.stringify(f))).not.toThrow();
    expect(f.hostname).toBe('h1');
    expect(f.cpu_count).toBeGreaterThan(0);
    expect(f.memory_total).toBeGreaterThan(0);
    expect(f.architecture).toMatch(/^(x86_64|aarch64|arm64|[a-z0-9_]+)$/);
  });

  it('takes the fully qualified name from `hostname -f`, and the short name when it fails', async () => {
    const bin = join(dir.path, 'fqdn-bin');
    mkdirSync(bin);
    const stand = join(bin, 'hostname');
    const path = process.env.PATH;
    const facts = () =>
      collectFacts({ hostname: 'h1', custom: {}, dir: '', timeoutMs: 5000, logger: silentLogger });
    try {
      process.env.PATH = `${bin}:${path ?? ''}`;
      writeFileSync(stand, '#!/bin/sh\n[ "$1" = -f ] && echo osapitest.example.org\n');
      chmodSync(stand, 0o755);
      expect((await facts()).fqdn).toBe('osapitest.example.org');
      writeFileSync(stand, '#!/bin/sh\nexit 1\n');
      expect((await facts()).fqdn).toBe(hostname());
    } finally {
      if (path === undefined) delete process.env.PATH;
      else process.env.PATH = path;
    }
  });

  it('merges custom sources under custom., the config last; a bad source is skipped with a warning', async () => {
    const d = join(dir.path, 'facts.d');
    mkdirSync(d);
    writeFileSync(join(d, '10-site.json'), JSON.stringify({ site: 'ams', rack: 'from-file' }));
    writeFileSync(join(d, '20-role'), '#!/bin/sh\necho \'{"role":"db","weight":3}\'\n');
    chmodSync(join(d, '20-role'), 0o755);
    writeFileSync(join(d, '30-broken'), '#!/bin/sh\nexit 3\n');
    chmodSync(join(d, '30-broken'), 0o755);
    writeFileSync(join(d, '40-slow'), '#!/bin/sh\nexec sleep 30\n');
    chmodSync(join(d, '40-slow'), 0o755);
    writeFileSync(join(d, '50-list.json'), '[1,2]');
    writeFileSync(join(d, '60-bad-name.json'), JSON.stringify({ 'a b': 1, ok: true }));
    writeFileSync(join(d, 'notes.txt'), 'not a source');
    const warned: string[] = [];
    const f = await collectFacts(
      { hostname: 'h1', custom: { rack: 'r12' }, dir: d, timeoutMs: 300, logger: silentLogger },
      (source, error) => warned.push(`${source.split('/').pop()}: ${error}`),
    );
    expect(f.custom).toEqual({ site: 'ams', rack: 'r12', role: 'db', weight: 3, ok: true });
    expect(warned.sort()).toEqual([
      expect.stringMatching(/^30-broken: failed/),
      expect.stringMatching(/^40-slow: took longer than 300 ms/),
      '50-list.json: its content is not a JSON object',
      expect.stringMatching(/^60-bad-name\.json: skipped the fact "a b"/),
    ]);
  });

  it('skips an executable source that prints more than 64 KiB', async () => {
    const d = join(dir.path, 'facts-big.d');
    mkdirSync(d);
    writeFileSync(join(d, 'big'), `#!/bin/sh\nhead -c ${CUSTOM_SOURCE_MAX_BYTES + 1} /dev/zero\n`);
    chmodSync(join(d, 'big'), 0o755);
    writeFileSync(join(d, 'small'), '#!/bin/sh\necho \'{"fits":true}\'\n');
    chmodSync(join(d, 'small'), 0o755);
    const warned: string[] = [];
    const f = await collectFacts(
      { hostname: 'h1', custom: {}, dir: d, timeoutMs: 5000, logger: silentLogger },
      (source, error) => warned.push(`${source.split('/').pop()}: ${error}`),
    );
    expect(f.custom).toEqual({ fits: true });
    expect(warned).toEqual([`big: printed more than ${CUSTOM_SOURCE_MAX_BYTES} bytes`]);
  });

  it('reads the sources in the order of their names as `LC_ALL=C ls` does: a later one wins', async () => {
    const d = join(dir.path, 'facts-order.d');
    mkdirSync(d);
    // By locale "a" comes before "B"; by character "B" (0x42) comes before "a" (0x61).
    writeFileSync(join(d, 'B.json'), JSON.stringify({ tier: 'from-B' }));
    writeFileSync(join(d, 'a.json'), JSON.stringify({ tier: 'from-a' }));
    const f = await collectFacts({
      hostname: 'h1',
      custom: {},
      dir: d,
      timeoutMs: 1000,
      logger: silentLogger,
    });
    expect(f.custom).toEqual({ tier: 'from-a' });
  });
});
