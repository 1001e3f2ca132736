// The network tables, on made-up answers from several hosts: a row per
// interface or route of each host, the primary interface marked, the hosts
// that could not answer below with their error.
import { describe, expect, it } from 'vitest';
import {
  interfaceGetTable,
  interfaceListTable,
  routeListTable,
} from '../../src/cli/network-output.js';

const JOB = '0190a8b2-0000-7000-8000-000000000001';

/** Each table's rows, as lists of trimmed cells. */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('│'))
    .map((l) =>
      l
        .split('│')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

const ETH0 = {
  name: 'eth0',
  ipv4: '192.0.2.2',
  mac: '02:00:00:00:00:01',
  mac_address: '02:00:00:00:00:01',
  family: 'dual',
  addresses: ['192.0.2.2/24', 'fd00::2/64'],
  mtu: 1500,
  state: 'up',
  dhcp4: false,
  dhcp6: false,
  gateway4: '192.0.2.1',
  primary: true,
};
const LO = { ...ETH0, name: 'lo', addresses: ['127.0.0.1/8'], mtu: 65536, primary: false };

describe('network tables', () => {
  it('interfaces: a row per interface of each host; the hosts without an answer with their error', () => {
    const out = interfaceListTable({
      job_id: JOB,
      results: [
        { hostname: 'web-01', status: 'ok', interfaces: [LO, ETH0] },
        { hostname: 'web-02', status: 'skipped', error: 'iproute2 is not installed' },
      ],
    });
    expect(out.startsWith(`Job ID: ${JOB}\n`)).toBe(true);
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'INTERFACE', 'STATE', 'MTU', 'MAC', 'ADDRESSES', 'GATEWAYS'],
      ['web-01', 'lo', 'up', '65536', '02:00:00:00:00:01', '127.0.0.1/8', '192.0.2.1'],
      [
        'web-01',
        'eth0 *',
        'up',
        '1500',
        '02:00:00:00:00:01',
        '192.0.2.2/24, fd00::2/64',
        '192.0.2.1',
      ],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['web-02', 'skipped', 'iproute2 is not installed'],
    ]);
    const one = interfaceGetTable({
      job_id: JOB,
      results: [{ hostname: 'web-01', status: 'ok', interface: ETH0 }],
    });
    expect(rows(one)[1]?.slice(0, 2)).toEqual(['web-01', 'eth0 *']);
  });

  it('routes: a row per route of each host', () => {
    const out = routeListTable({
      job_id: JOB,
      results: [
        {
          hostname: 'web-01',
          status: 'ok',
          routes: [
            {
              destination: 'default',
              gateway: '192.0.2.1',
              interface: 'eth0',
              metric: 0,
              scope: 'global',
            },
            { destination: '192.0.2.0/24', interface: 'eth0', metric: 0, scope: 'link' },
          ],
        },
      ],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'DESTINATION', 'GATEWAY', 'INTERFACE', 'METRIC', 'SCOPE'],
      ['web-01', 'default', '192.0.2.1', 'eth0', '0', 'global'],
      ['web-01', '192.0.2.0/24', '', 'eth0', '0', 'link'],
    ]);
  });
});
