// The cron routes (cron:read, cron:write) against a real nats-server and
// agents in this process. Agents cr-01..cr-03 each write to their own
// temporary cron directory (agent.cron.dir) and run-parts directories
// (agent.cron.periodic_dir); cr-04's directory does not exist, so it answers
// skipped. Commands come from objects of the file store,
// uploaded through the route as a client sends them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['cr-01', 'cr-02', 'cr-03'];
let sys: TestSystem;
let admin: string;
let reader: string;
/** Each host's stand-in for /etc: cron.d, cron.hourly and cron.daily in it. */
const etcs = new Map<string, string>();
const etcOf = (host: string) => etcs.get(host) as string;
const cronDir = (host: string) => join(etcOf(host), 'cron.d');

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) {
    const etc = mkdtempSync(join(tmpdir(), 'osapitest-cron-'));
    etcs.set(h, etc);
    for (const sub of ['cron.d', 'cron.hourly', 'cron.daily']) mkdirSync(join(etc, sub));
    await sys.startAgent(
      h,
      { group: 'cron' },
      { cron: { dir: join(etc, 'cron.d'), periodic_dir: etc } },
    );
  }
  const absent = join(tmpdir(), 'osapitest-cron-absent');
  await sys.startAgent(
    'cr-04',
    { group: 'none' },
    { cron: { dir: join(absent, 'cron.d'), periodic_dir: absent } },
  );
  await sys.waitForAgents([...HOSTS, 'cr-04']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
  const upload = (name: string, text: string) =>
    post(sys, '/file?force=true', { name, content: Buffer.from(text).toString('base64') }, admin);
  await upload('cron-backup', '/usr/local/bin/backup --quiet\n');
  await upload('cron-hello', 'echo {{vars.word}} on {{hostname}}\n');
});
afterAll(async () => {
  await sys?.stop();
  for (const d of etcs.values()) rmSync(d, { recursive: true, force: true });
});

const entryPath = (host: string, name: string) => join(cronDir(host), `osapi-${name}`);
const scriptPath = (host: string, interval: string, name: string) =>
  join(etcOf(host), `cron.${interval}`, `osapi-${name}`);

describe('cron entries through the routes', () => {
  it('creates on three hosts at once; the same again changes nothing; a host without cron is skipped', async () => {
    const body = { name: 'nightly', object: 'cron-backup', schedule: '30 2 * * *' };
    const r = await post(sys, '/node/group:cron/schedule/cron', body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((hostname) => ({ hostname, status: 'ok', name: 'nightly', changed: true })),
    );
    for (const h of HOSTS) {
      expect(readFileSync(entryPath(h, 'nightly'), 'utf8')).toMatch(
        /\n30 2 \* \* \* root \/usr\/local\/bin\/backup --quiet\n$/,
      );
    }
    const again = await post(sys, '/node/group:cron/schedule/cron', body, admin);
    expect(again.body.results.map((x: AnyJson) => x.changed)).toEqual([false, false, false]);
    const skipped = await post(sys, '/node/cr-04/schedule/cron', body, admin);
    expect(skipped.body.results[0]).toMatchObject({
      hostname: 'cr-04',
      status: 'skipped',
      error: expect.stringMatching(/no cron directory/),
    });
  });

  it('lists and gets with a read token; update and delete change one host', async () => {
    await post(
      sys,
      '/node/cr-01/schedule/cron',
      {
        name: 'hello',
        object: 'cron-hello',
        interval: 'hourly',
        content_type: 'template',
        vars: { word: 'hi' },
      },
      admin,
    );
    const list = await request(sys, 'GET', '/node/cr-01/schedule/cron', undefined, reader);
    expect(list.status).toBe(200);
    // An item per entry, as the reference's CronEntry: the host's name and status beside each.
    expect(list.body.results.map((e: AnyJson) => [e.hostname, e.status, e.name])).toEqual([
      ['cr-01', 'ok', 'hello'],
      ['cr-01', 'ok', 'nightly'],
    ]);
    const got = await request(sys, 'GET', '/node/cr-01/schedule/cron/hello', undefined, reader);
    expect(got.body.results[0]).toEqual({
      hostname: 'cr-01',
      status: 'ok',
      name: 'hello',
      object: 'cron-hello',
      schedule: '@hourly',
      interval: 'hourly',
      user: 'root',
      command: 'echo hi on cr-01',
      source: scriptPath('cr-01', 'hourly', 'hello'),
    });
    const script = scriptPath('cr-01', 'hourly', 'hello');
    expect(readFileSync(script, 'utf8')).toMatch(
      /^#!\/bin\/sh\n# Managed by OSAPI.*\necho hi on cr-01\n$/,
    );
    expect(statSync(script).mode & 0o777).toBe(0o755);
    expect(existsSync(entryPath('cr-01', 'hello'))).toBe(false);
    const put = await request(
      sys,
      'PUT',
      '/node/cr-01/schedule/cron/hello',
      { schedule: '0 * * * mon-fri' },
      admin,
    );
    expect(put.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(entryPath('cr-01', 'hello'), 'utf8')).toMatch(
      /\n0 \* \* \* mon-fri root echo hi on cr-01\n$/,
    );
    expect(existsSync(script)).toBe(false);
    const daily = await request(
      sys,
      'PUT',
      '/node/cr-01/schedule/cron/hello',
      { interval: 'daily' },
      admin,
    );
    expect(daily.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(entryPath('cr-01', 'hello'))).toBe(false);
    expect(existsSync(scriptPath('cr-01', 'daily', 'hello'))).toBe(true);
    const del = await request(sys, 'DELETE', '/node/cr-01/schedule/cron/hello', undefined, admin);
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(scriptPath('cr-01', 'daily', 'hello'))).toBe(false);
    const none = await request(sys, 'GET', '/node/cr-01/schedule/cron/hello', undefined, admin);
    expect(none.body.results[0]).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no cron entry named hello/),
    });
  });

  it('a read token may not write: 403, nothing written', async () => {
    const r = await post(
      sys,
      '/node/cr-02/schedule/cron',
      { name: 'ro', object: 'cron-backup', schedule: '@daily' },
      reader,
    );
    expect(r.status).toBe(403);
    const d = await request(sys, 'DELETE', '/node/cr-02/schedule/cron/nightly', undefined, reader);
    expect(d.status).toBe(403);
    expect(existsSync(entryPath('cr-02', 'ro'))).toBe(false);
    expect(existsSync(entryPath('cr-02', 'nightly'))).toBe(true);
  });

  it('bad input: 400 naming the field, nothing sent', async () => {
    const cases: Array<[string, string, AnyJson, string]> = [
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', schedule: '61 * * * *' },
        'schedule',
      ],
      ['POST', '/node/cr-02/schedule/cron', { name: 'x', object: 'cron-backup' }, 'schedule'],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', schedule: '@daily', interval: 'daily' },
        'interval',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', interval: 'yearly' },
        'interval',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'a.b', object: 'cron-backup', schedule: '@daily' },
        'name',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x.sh', object: 'cron-backup', interval: 'daily' },
        'name',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', interval: 'daily', user: 'nobody' },
        'user',
      ],
      ['PUT', '/node/cr-02/schedule/cron/nightly', { interval: 'hourly', user: 'nobody' }, 'user'],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', schedule: '@daily', user: '-root' },
        'user',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'no-such-object', schedule: '@daily' },
        'object',
      ],
      [
        'POST',
        '/node/cr-02/schedule/cron',
        { name: 'x', object: 'cron-backup', schedule: '* * * * *\n* * * * * root id' },
        'schedule',
      ],
      ['PUT', '/node/cr-02/schedule/cron/nightly', { vars: { a: 1 } }, 'vars'],
      ['GET', '/node/cr-02/schedule/cron/-x', undefined, 'name'],
      ['DELETE', '/node/cr-02/schedule/cron/a.b', undefined, 'name'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await request(sys, method as 'POST', path, body, admin);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(
        r.body.fields.map((f: AnyJson) => f.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(existsSync(entryPath('cr-02', 'x'))).toBe(false);
    expect(existsSync(scriptPath('cr-02', 'daily', 'x'))).toBe(false);
  });

  it('the SDK names each operation', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const made = await client.cronCreate('cr-03', {
      name: 'sdk',
      object: 'cron-backup',
      schedule: '@reboot',
    });
    expect(made.body.results).toEqual([
      { hostname: 'cr-03', status: 'ok', name: 'sdk', changed: true },
    ]);
    const list = await client.cronList('cr-03');
    expect(list.body.results.map((e) => e.name)).toEqual(['nightly', 'sdk']);
    const upd = await client.cronUpdate('cr-03', { name: 'sdk', user: 'nobody' });
    expect(upd.body.results[0]).toMatchObject({ changed: true });
    const got = await client.cronGet('cr-03', { name: 'sdk' });
    expect(got.body.results[0]?.user).toBe('nobody');
    const del = await client.cronDelete('cr-03', { name: 'sdk' });
    expect(del.body.results[0]).toMatchObject({ changed: true });
  });
});
