// The timezone handlers on the agent alone, against temp files: /etc/localtime
// and /etc/timezone are paths in a temp dir (agent.timezone.*), the tz
// database is this machine's own /usr/share/zoneinfo or a small one made in
// the test. This machine's real timezone is never read for a change nor
// written. The timedatectl path runs a stand-in that records its calls.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { utcOffsetOf, zoneProblem } from '../../src/agent/handlers/timezone.js';
import type { HostSettings } from '../../src/agent/handlers/types.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

const ZONEINFO = '/usr/share/zoneinfo';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-tz-'));
  mkdirSync(join(dir, 'etc'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const localtime = () => join(dir, 'etc', 'localtime');
const timezoneFile = () => join(dir, 'etc', 'timezone');

function ctx(host: Partial<HostSettings> = {}, zoneinfoDir = ZONEINFO): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: {
      unitDir: join(dir, 'units'),
      timezone: { localtime: localtime(), timezoneFile: timezoneFile(), zoneinfoDir },
      systemdRunDir: join(dir, 'no-systemd'),
      ...host,
    },
  };
}

/** The zone /etc/localtime stands for, by where its link resolves. */
const linkedZone = () => resolve(dirname(localtime()), readlinkSync(localtime()));

/** A stand-in timedatectl holding its zone in a file and recording each call. */
function fakeTimedatectl(zone: string): { tool: string; calls: () => string[] } {
  const state = join(dir, 'timedatectl');
  mkdirSync(state);
  writeFileSync(join(state, 'zone'), `${zone}\n`);
  const tool = join(state, 'timedatectl');
  writeFileSync(
    tool,
    `#!/bin/sh
echo "$*" >> '${state}/calls'
case "$1" in
  show) cat '${state}/zone' ;;
  set-timezone) printf '%s\\n' "$3" > '${state}/zone' ;;
  *) echo "unknown command $1" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(tool, 0o755);
  return {
    tool,
    calls: () => {
      try {
        return readFileSync(join(state, 'calls'), 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    },
  };
}

describe('timezone names', () => {
  it('the schema and the checks refuse what is not a tz name, naming the field', () => {
    for (const timezone of ['../etc/passwd', '-u', 'Europe/../etc', 'a b', '/UTC', 'UTC/', '']) {
      expect(operationDataProblems('timezone.update', { timezone }), timezone).toEqual([
        { field: 'timezone', message: expect.any(String) },
      ]);
    }
    for (const timezone of [
      'UTC',
      'Europe/Berlin',
      'Etc/GMT+5',
      'America/Argentina/Buenos_Aires',
    ]) {
      expect(operationDataProblems('timezone.update', { timezone }), timezone).toEqual([]);
    }
  });

  it('a zone must be a TZif file inside the database, even through a link', async () => {
    const db = join(dir, 'zoneinfo');
    mkdirSync(join(db, 'Test'), { recursive: true });
    writeFileSync(join(db, 'Test', 'Zone'), 'TZif2\0\0\0');
    writeFileSync(join(db, 'leapseconds'), '# not a zone\n');
    writeFileSync(join(dir, 'outside'), 'TZif2\0\0\0');
    symlinkSync('Test/Zone', join(db, 'Alias'));
    symlinkSync('../outside', join(db, 'Escape'));
    expect(await zoneProblem(db, 'Test/Zone')).toBeNull();
    expect(await zoneProblem(db, 'Alias')).toBeNull();
    expect(await zoneProblem(db, 'Escape')).toMatch(/^unknown timezone Escape/);
    expect(await zoneProblem(db, 'Test')).toMatch(/^unknown timezone Test/);
    expect(await zoneProblem(db, 'Mars/Olympus')).toMatch(/^unknown timezone Mars\/Olympus/);
    expect(await zoneProblem(db, 'leapseconds')).toMatch(/is not a tz data \(TZif\) file/);
    expect(await zoneProblem(ZONEINFO, 'Europe/Berlin')).toBeNull();
  });

  it('offsets read as +HH:MM', () => {
    expect(utcOffsetOf('UTC')).toBe('+00:00');
    expect(utcOffsetOf('Asia/Kolkata')).toBe('+05:30');
    expect(utcOffsetOf('America/Sao_Paulo')).toBe('-03:00');
    expect(utcOffsetOf('Europe/Berlin', new Date('2026-01-15T12:00:00Z'))).toBe('+01:00');
  });
});

describe('the files (no systemd)', () => {
  it('sets the link and the name; the same again changes nothing', async () => {
    symlinkSync(join(ZONEINFO, 'Etc/UTC'), localtime());
    writeFileSync(timezoneFile(), 'Etc/UTC\n');
    const before = await runJob('timezone.get', {}, ctx());
    expect(before).toEqual({
      status: 'completed',
      data: { timezone: 'Etc/UTC', utc_offset: '+00:00' },
    });

    const set = await runJob('timezone.update', { timezone: 'Asia/Kolkata' }, ctx());
    expect(set).toEqual({
      status: 'completed',
      data: { timezone: 'Asia/Kolkata', changed: true },
    });
    // A relative link, as the tz tools make it.
    expect(readlinkSync(localtime()).startsWith('../')).toBe(true);
    expect(linkedZone()).toBe(join(ZONEINFO, 'Asia/Kolkata'));
    expect(readFileSync(timezoneFile(), 'utf8')).toBe('Asia/Kolkata\n');
    expect((await runJob('timezone.get', {}, ctx())).data).toEqual({
      timezone: 'Asia/Kolkata',
      utc_offset: '+05:30',
    });

    const again = await runJob('timezone.update', { timezone: 'Asia/Kolkata' }, ctx());
    expect(again.data).toEqual({ timezone: 'Asia/Kolkata', changed: false });
  });

  it('without /etc/localtime the host is on UTC; an update makes both files', async () => {
    expect((await runJob('timezone.get', {}, ctx())).data).toEqual({
      timezone: 'UTC',
      utc_offset: '+00:00',
    });
    const set = await runJob('timezone.update', { timezone: 'Europe/Berlin' }, ctx());
    expect(set.data).toEqual({ timezone: 'Europe/Berlin', changed: true });
    expect(linkedZone()).toBe(join(ZONEINFO, 'Europe/Berlin'));
    expect(readFileSync(timezoneFile(), 'utf8')).toBe('Europe/Berlin\n');
  });

  it('only a stale /etc/timezone: that alone is rewritten', async () => {
    symlinkSync(join(ZONEINFO, 'Europe/Berlin'), localtime());
    writeFileSync(timezoneFile(), 'Etc/UTC\n');
    const set = await runJob('timezone.update', { timezone: 'Europe/Berlin' }, ctx());
    expect(set.data).toEqual({ timezone: 'Europe/Berlin', changed: true });
    // The link was right and stays as it was written.
    expect(readlinkSync(localtime())).toBe(join(ZONEINFO, 'Europe/Berlin'));
    expect(readFileSync(timezoneFile(), 'utf8')).toBe('Europe/Berlin\n');
  });

  it('an unknown zone fails and writes nothing', async () => {
    symlinkSync(join(ZONEINFO, 'Etc/UTC'), localtime());
    writeFileSync(timezoneFile(), 'Etc/UTC\n');
    const r = await runJob('timezone.update', { timezone: 'Mars/Olympus' }, ctx());
    expect(r).toEqual({
      status: 'failed',
      data: null,
      error: `unknown timezone Mars/Olympus: ${ZONEINFO} holds no such zone`,
    });
    expect(readlinkSync(localtime())).toBe(join(ZONEINFO, 'Etc/UTC'));
    expect(readFileSync(timezoneFile(), 'utf8')).toBe('Etc/UTC\n');
  });

  it('a link that cannot be replaced leaves /etc/timezone as it was', async () => {
    // A directory where the link goes: rename cannot put a link over it.
    mkdirSync(join(localtime(), 'x'), { recursive: true });
    writeFileSync(timezoneFile(), 'Etc/UTC\n');
    const r = await runJob('timezone.update', { timezone: 'Europe/Berlin' }, ctx());
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(
      /^cannot replace .*localtime: .*; .*timezone was put back, so nothing changed$/,
    );
    expect(readFileSync(timezoneFile(), 'utf8')).toBe('Etc/UTC\n');
  });
});

describe('timedatectl (systemd runs)', () => {
  it('reads and sets through timedatectl, not the files; the same again runs no set', async () => {
    mkdirSync(join(dir, 'systemd'));
    const fake = fakeTimedatectl('Etc/UTC');
    const c = ctx({ systemdRunDir: join(dir, 'systemd'), timedatectl: fake.tool });
    expect((await runJob('timezone.get', {}, c)).data).toEqual({
      timezone: 'Etc/UTC',
      utc_offset: '+00:00',
    });
    const set = await runJob('timezone.update', { timezone: 'Europe/Berlin' }, c);
    expect(set.data).toEqual({ timezone: 'Europe/Berlin', changed: true });
    const again = await runJob('timezone.update', { timezone: 'Europe/Berlin' }, c);
    expect(again.data).toEqual({ timezone: 'Europe/Berlin', changed: false });
    expect(fake.calls()).toEqual([
      'show --property=Timezone --value',
      'show --property=Timezone --value',
      'set-timezone -- Europe/Berlin',
      'show --property=Timezone --value',
    ]);
    expect(() => readlinkSync(localtime())).toThrow();
  });

  it('a zone the database lacks never reaches timedatectl', async () => {
    mkdirSync(join(dir, 'systemd'));
    const fake = fakeTimedatectl('Etc/UTC');
    const c = ctx({ systemdRunDir: join(dir, 'systemd'), timedatectl: fake.tool });
    const r = await runJob('timezone.update', { timezone: 'Nowhere' }, c);
    expect(r.status).toBe('failed');
    expect(fake.calls()).toEqual([]);
  });
});
