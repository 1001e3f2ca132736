// The timezone routes (timezone:read, timezone:write) against a real
// nats-server and agents in this process. No agent touches this machine's
// timezone: tz-01 and tz-02 keep /etc/localtime and /etc/timezone in temp
// dirs (agent.timezone.*) over the real tz database; tz-03 takes the systemd
// way through a stand-in timedatectl that records its calls.
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const ZONEINFO = '/usr/share/zoneinfo';
const FILE_HOSTS = ['tz-01', 'tz-02'];
let sys: TestSystem;
let admin: string;
let reader: string;
let dir: string;

const etc = (host: string) => join(dir, host, 'etc');
const linkedZone = (host: string) => {
  const link = join(etc(host), 'localtime');
  return resolve(dirname(link), readlinkSync(link));
};
const timedatectlCalls = () => {
  try {
    return readFileSync(join(dir, 'tz-03', 'calls'), 'utf8')
      .trim()
      .split('\n');
  } catch {
    return [];
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-tz-'));
  sys = await startTestSystem();
  for (const h of FILE_HOSTS) {
    mkdirSync(etc(h), { recursive: true });
    symlinkSync(join(ZONEINFO, 'Etc/UTC'), join(etc(h), 'localtime'));
    writeFileSync(join(etc(h), 'timezone'), 'Etc/UTC\n');
    await sys.startAgent(
      h,
      { group: 'files' },
      {
        timezone: {
          localtime: join(etc(h), 'localtime'),
          timezone_file: join(etc(h), 'timezone'),
          zoneinfo_dir: ZONEINFO,
        },
      },
      { systemdRunDir: join(dir, 'no-systemd') },
    );
  }
  const state = join(dir, 'tz-03');
  mkdirSync(join(state, 'systemd'), { recursive: true });
  writeFileSync(join(state, 'zone'), 'Etc/UTC\n');
  writeFileSync(
    join(state, 'timedatectl'),
    `#!/bin/sh
echo "$*" >> '${state}/calls'
case "$1" in
  show) cat '${state}/zone' ;;
  set-timezone) printf '%s\\n' "$3" > '${state}/zone' ;;
  *) exit 1 ;;
esac
`,
  );
  chmodSync(join(state, 'timedatectl'), 0o755);
  await sys.startAgent(
    'tz-03',
    { group: 'systemd' },
    {},
    { systemdRunDir: join(state, 'systemd'), timedatectl: join(state, 'timedatectl') },
  );
  await sys.waitForAgents(['tz-01', 'tz-02', 'tz-03']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const put = (target: string, body: unknown, token = admin) =>
  request(sys, 'PUT', `/node/${target}/timezone`, body, token);

describe('timezone', () => {
  it('reads the timezone and its offset of each host, a read token being enough', async () => {
    const r = await request(sys, 'GET', '/node/_all/timezone', undefined, reader);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      ['tz-01', 'tz-02', 'tz-03'].map((h) => ({
        hostname: h,
        status: 'ok',
        timezone: 'Etc/UTC',
        utc_offset: '+00:00',
      })),
    );
  });

  it('a read token may not set it: 403, nothing changed', async () => {
    const r = await put('tz-01', { timezone: 'Europe/Berlin' }, reader);
    expect(r.status).toBe(403);
    expect(linkedZone('tz-01')).toBe(join(ZONEINFO, 'Etc/UTC'));
  });

  it('a name that is not a tz name, or no name: 400 naming the field, nothing sent', async () => {
    for (const body of [
      { timezone: '../../etc/passwd' },
      { timezone: '-Europe/Berlin' },
      { timezone: 'Europe Berlin' },
      { timezone: '' },
      { timezone: 'x'.repeat(129) },
      {},
    ]) {
      const r = await put('tz-01', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.fields, JSON.stringify(body)).toEqual([
        { field: 'timezone', message: expect.any(String) },
      ]);
    }
    const extra = await put('tz-01', { timezone: 'UTC', zone: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.body.fields).toEqual([{ field: 'zone', message: 'is not a known field' }]);
    expect(timedatectlCalls().filter((c) => c.startsWith('set-timezone'))).toEqual([]);
  });

  it('sets it on three hosts at once; the same again changes nothing', async () => {
    const r = await put('_all', { timezone: 'Asia/Kolkata' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      ['tz-01', 'tz-02', 'tz-03'].map((h) => ({
        hostname: h,
        status: 'ok',
        timezone: 'Asia/Kolkata',
        changed: true,
      })),
    );
    for (const h of FILE_HOSTS) {
      expect(linkedZone(h)).toBe(join(ZONEINFO, 'Asia/Kolkata'));
      expect(readFileSync(join(etc(h), 'timezone'), 'utf8')).toBe('Asia/Kolkata\n');
    }
    expect(timedatectlCalls()).toContain('set-timezone -- Asia/Kolkata');

    const get = await request(sys, 'GET', '/node/tz-02/timezone', undefined, reader);
    expect(get.body.results).toEqual([
      { hostname: 'tz-02', status: 'ok', timezone: 'Asia/Kolkata', utc_offset: '+05:30' },
    ]);

    const again = await put('_all', { timezone: 'Asia/Kolkata' });
    expect(byHost(again.body.results).map((x: AnyJson) => [x.hostname, x.changed])).toEqual([
      ['tz-01', false],
      ['tz-02', false],
      ['tz-03', false],
    ]);
    expect(timedatectlCalls().filter((c) => c.startsWith('set-timezone'))).toEqual([
      'set-timezone -- Asia/Kolkata',
    ]);
  });

  it('a zone the hosts do not have fails on each, naming it', async () => {
    const r = await put('group:files', { timezone: 'Mars/Olympus' });
    expect(r.status).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      FILE_HOSTS.map((h) => ({
        hostname: h,
        status: 'failed',
        changed: false,
        error: `unknown timezone Mars/Olympus: ${ZONEINFO} holds no such zone`,
      })),
    );
  });

  it('the SDK names both operations', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const got = await client.timezoneGet('tz-01');
    expect(got.body.results[0]).toMatchObject({ hostname: 'tz-01', status: 'ok' });
    const set = await client.timezoneUpdate('tz-01', { timezone: 'UTC' });
    expect(set.body.results).toEqual([
      { hostname: 'tz-01', status: 'ok', timezone: 'UTC', changed: true },
    ]);
    expect(linkedZone('tz-01')).toBe(join(ZONEINFO, 'UTC'));
  });
});
