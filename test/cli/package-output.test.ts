// The package tables, on made-up answers from several hosts: a row per
// package or update of each host, sizes for people, the hosts that could not
// answer below with their error, and what agents wrote escaped.
import { describe, expect, it } from 'vitest';
import { packagesTable, updatesTable } from '../../src/cli/package-output.js';
import type { PackageListResponse, PackageUpdatesResponse } from '../../src/sdk/client.js';

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

describe('package tables', () => {
  it('list: a row per package of each host; the hosts without an answer with their error', () => {
    const body: PackageListResponse = {
      job_id: JOB,
      results: [
        {
          hostname: 'web-01',
          status: 'ok',
          packages: [
            {
              name: 'curl',
              version: '7.88.1-10',
              architecture: 'amd64',
              description: 'command line tool for transferring data with URL syntax',
              status: 'installed',
              size: 500 * 1024,
            },
            {
              name: 'evil',
              version: '1.0',
              architecture: 'all',
              description: 'clears \u001b[2J the screen',
              status: 'half-configured',
            },
          ],
        },
        { hostname: 'bsd-01', status: 'skipped', error: 'no dpkg on this host' },
      ],
    };
    const text = packagesTable(body);
    expect(text.startsWith(`Job ID: ${JOB}\n`)).toBe(true);
    expect(text).not.toContain('\u001b');
    expect(rows(text)).toEqual([
      ['HOSTNAME', 'NAME', 'VERSION', 'ARCH', 'STATUS', 'SIZE', 'DESCRIPTION'],
      [
        'web-01',
        'curl',
        '7.88.1-10',
        'amd64',
        'installed',
        '500.0 KiB',
        'command line tool for transferring data with URL syntax',
      ],
      [
        'web-01',
        'evil',
        '1.0',
        'all',
        'half-configured',
        '',
        expect.stringMatching(/^clears .*the screen$/),
      ],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['bsd-01', 'skipped', 'no dpkg on this host'],
    ]);
  });

  it('updates: a row per update; nothing but the job id when there are none', () => {
    const body: PackageUpdatesResponse = {
      job_id: JOB,
      results: [
        {
          hostname: 'web-01',
          status: 'ok',
          updates: [
            {
              name: 'bash',
              architecture: 'amd64',
              current_version: '5.2.15-2+b8',
              new_version: '5.2.15-2+b13',
            },
          ],
        },
        { hostname: 'web-02', status: 'ok', updates: [] },
      ],
    };
    expect(rows(updatesTable(body))).toEqual([
      ['HOSTNAME', 'NAME', 'ARCH', 'CURRENT', 'NEW'],
      ['web-01', 'bash', 'amd64', '5.2.15-2+b8', '5.2.15-2+b13'],
    ]);
    expect(
      updatesTable({ job_id: JOB, results: [{ hostname: 'web-02', status: 'ok', updates: [] }] }),
    ).toBe(`Job ID: ${JOB}\n`);
  });
});
