// The CLI's tables of the service reads: a row per service of each host, the
// hosts that could not answer below with their error, every agent-given
// field escaped onto one line.
import { describe, expect, it } from 'vitest';
import { resultTable } from '../../src/cli/node-output.js';
import { serviceGetTable, serviceListTable } from '../../src/cli/service-output.js';
import type { ServiceInfo } from '../../src/contract/services.js';

const web: ServiceInfo = {
  name: 'web.service',
  status: 'active',
  sub_state: 'running',
  load_state: 'loaded',
  enabled: true,
  unit_file_state: 'enabled',
  description: 'Web = front',
  pid: 4321,
  managed: false,
};
const idle: ServiceInfo = {
  ...web,
  name: 'idle.service',
  status: 'inactive',
  sub_state: 'dead',
  enabled: false,
  unit_file_state: 'static',
  description: 'two\nlines\u001b[31m',
  pid: 0,
};

/** The table's rows as their cells, borders dropped. */
const rows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.includes('│'))
    .map((l) =>
      l
        .split('│')
        .map((c) => c.trim())
        .filter(Boolean),
    );

describe('service tables', () => {
  it('lists each host’s services, then the hosts without an answer', () => {
    const out = serviceListTable({
      job_id: '00000000-0000-4000-8000-000000000001',
      results: [
        { hostname: 'h-01', status: 'ok', services: [web, idle] },
        { hostname: 'h-02', status: 'skipped', error: 'systemd is not running on this host' },
      ],
    });
    expect(out.startsWith('Job ID: 00000000-0000-4000-8000-000000000001\n')).toBe(true);
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'SERVICE', 'ACTIVE', 'ENABLED', 'PID', 'DESCRIPTION'],
      ['h-01', 'web.service', 'active (running)', 'enabled', '4321', 'Web = front'],
      ['h-01', 'idle.service', 'inactive (dead)', 'static', 'two\\nlines\\e[31m'],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['h-02', 'skipped', 'systemd is not running on this host'],
    ]);
  });

  it('gets the service on each host, and says why a host has none', () => {
    const out = serviceGetTable({
      job_id: '00000000-0000-4000-8000-000000000002',
      results: [
        { hostname: 'h-01', status: 'ok', service: web },
        { hostname: 'h-02', status: 'failed', error: 'service web.service does not exist' },
      ],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'SERVICE', 'ACTIVE', 'ENABLED', 'PID', 'DESCRIPTION'],
      ['h-01', 'web.service', 'active (running)', 'enabled', '4321', 'Web = front'],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['h-02', 'failed', 'service web.service does not exist'],
    ]);
  });

  it('a change answers as every change does: status, changed, the name', () => {
    const out = resultTable('service.start', {
      job_id: '00000000-0000-4000-8000-000000000003',
      results: [{ hostname: 'h-01', status: 'ok', changed: true, name: 'web.service' }],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'STATUS', 'CHANGED', 'NAME'],
      ['h-01', 'ok', 'true', 'web.service'],
    ]);
  });
});

describe('a read whose result is one list of records', () => {
  it('gets a row per record of each host, its fields as columns, and the hosts without an answer below', () => {
    const out = resultTable('certificate.ca.list', {
      job_id: '00000000-0000-4000-8000-000000000004',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          certificates: [
            {
              name: 'corp-root',
              source: 'custom',
              subject: 'CN=Corp Root',
              issuer: 'CN=Corp Root',
              not_after: '2030-01-01T00:00:00.000Z',
              fingerprint: 'AB:CD',
              certificates: 1,
            },
          ],
        },
        { hostname: 'h-02', status: 'skipped', error: 'no trust store here' },
      ],
    });
    expect(rows(out)).toEqual([
      [
        'HOSTNAME',
        'NAME',
        'SOURCE',
        'SUBJECT',
        'ISSUER',
        'NOT AFTER',
        'FINGERPRINT',
        'CERTIFICATES',
      ],
      [
        'h-01',
        'corp-root',
        'custom',
        'CN=Corp Root',
        'CN=Corp Root',
        '2030-01-01T00:00:00.000Z',
        'AB:CD',
        '1',
      ],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['h-02', 'skipped', 'no trust store here'],
    ]);
  });

  it('one answering an item per record (sysctl list) gets a row per item, its fields as columns', () => {
    const out = resultTable('sysctl.list', {
      job_id: '00000000-0000-4000-8000-000000000005',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          key: 'vm.swappiness',
          value: '10',
          live: '10',
          managed: true,
        },
        { hostname: 'h-02', status: 'ok' },
      ],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'STATUS', 'KEY', 'VALUE', 'LIVE', 'MANAGED'],
      ['h-01', 'ok', 'vm.swappiness', '10', '10', 'true'],
      ['h-02', 'ok'],
    ]);
  });
});
