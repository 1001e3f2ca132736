// The NTP handlers against a stand-in chronyc (this machine has no chrony):
// its reports are chronyc's own CSV lines; the sources file is written for
// real in a temp directory, byte for byte.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { NTP_MARKER } from '../../src/agent/handlers/ntp.js';
import { operationDataProblems } from '../../src/job/data-checks.js';
import { type FakeChrony, makeFakeChrony, TRACKING_UNSYNCED } from '../support/fake-chrony.js';

let fake: FakeChrony;
beforeEach(() => {
  fake = makeFakeChrony();
});
afterEach(() => fake.remove());

function ctx(chronyc = fake.chronyc): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: { unitDir: '/nonexistent', chronyc, ntpSourcesFile: fake.sourcesFile },
  };
}
const run = (type: string, data: unknown, c: HandlerContext = ctx()) => runJob(type, data, c);
const HEADER = `${NTP_MARKER}: ntp.update replaces this file, ntp.delete removes it.\n`;

describe('ntp', () => {
  it('reads chrony’s tracking and sources', async () => {
    const out = await run('ntp.get', {});
    expect(out.data).toEqual({
      synchronized: true,
      stratum: 3,
      offset: '0.000001234',
      current_source: '162.159.200.123',
      servers: [],
      sources: [
        { mode: '^', state: '*', address: '162.159.200.123', stratum: 3 },
        { mode: '^', state: '-', address: '192.0.2.10', stratum: 2 },
      ],
    });
    expect(fake.calls()).toEqual(['-n -c tracking', '-n -c sources']);
    fake.setTracking(TRACKING_UNSYNCED);
    expect((await run('ntp.get', {})).data).toMatchObject({
      synchronized: false,
      stratum: 0,
      current_source: '',
    });
  });

  it('create writes the sources file and reloads; the same again changes nothing', async () => {
    const out = await run('ntp.create', { servers: ['0.pool.ntp.org', '192.0.2.1'] });
    expect(out).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(readFileSync(fake.sourcesFile, 'utf8')).toBe(
      `${HEADER}server 0.pool.ntp.org iburst\nserver 192.0.2.1 iburst\n`,
    );
    expect(fake.calls()).toContain('reload sources');
    expect(await run('ntp.create', { servers: ['0.pool.ntp.org', '192.0.2.1'] })).toMatchObject({
      data: { changed: false },
    });
    const other = await run('ntp.create', { servers: ['1.pool.ntp.org'] });
    expect(other).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/ntp\.update replaces them/),
    });
    expect((await run('ntp.get', {})).data).toMatchObject({
      servers: ['0.pool.ntp.org', '192.0.2.1'],
    });
  });

  it('update replaces, delete removes; a failed reload puts the file back', async () => {
    expect(await run('ntp.update', { servers: ['a.example'] })).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/ntp\.create writes it/),
    });
    await run('ntp.create', { servers: ['a.example'] });
    expect(await run('ntp.update', { servers: ['b.example'] })).toMatchObject({
      data: { changed: true },
    });
    expect(readFileSync(fake.sourcesFile, 'utf8')).toBe(`${HEADER}server b.example iburst\n`);
    fake.failReload(true);
    const bad = await run('ntp.update', { servers: ['c.example'] });
    expect(bad).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/Cannot talk to daemon.*put back, so nothing changed/),
    });
    expect(readFileSync(fake.sourcesFile, 'utf8')).toBe(`${HEADER}server b.example iburst\n`);
    fake.failReload(false);
    expect(await run('ntp.delete', {})).toMatchObject({ data: { changed: true } });
    expect(existsSync(fake.sourcesFile)).toBe(false);
    expect(await run('ntp.delete', {})).toMatchObject({ data: { changed: false } });
  });

  it('leaves a sources file it did not write', async () => {
    writeFileSync(fake.sourcesFile, 'pool 2.debian.pool.ntp.org iburst\n');
    const out = await run('ntp.delete', {});
    expect(out).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not written by this system/),
    });
    expect(readFileSync(fake.sourcesFile, 'utf8')).toBe('pool 2.debian.pool.ntp.org iburst\n');
  });

  it('a host without chronyc is skipped', async () => {
    for (const [type, data] of [
      ['ntp.get', {}],
      ['ntp.create', { servers: ['a.example'] }],
    ] as const) {
      const out = await run(type, data, ctx(join(fake.dir, 'no-chronyc')));
      expect(out).toMatchObject({
        state: 'skipped',
        error: 'chrony is not installed on this host (no chronyc)',
      });
    }
  });

  it('servers are addresses or hostnames, none twice', () => {
    expect(
      operationDataProblems('ntp.create', {
        servers: ['a.example', 'iburst x', 'A.example', '-x'],
      }),
    ).toEqual([
      { field: 'servers[1]', message: expect.stringMatching(/address or a hostname/) },
      { field: 'servers[2]', message: 'repeats servers[0]' },
      { field: 'servers[3]', message: expect.stringMatching(/address or a hostname/) },
    ]);
    expect(operationDataProblems('ntp.create', { servers: [] })[0]).toMatchObject({
      field: 'servers',
    });
  });
});
