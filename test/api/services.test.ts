// The service routes (service:read, service:write) against a real nats-server
// and agents in this process. This machine does not run systemd: agents
// sv-01 and sv-02 run the stand-in systemctl (test/support/fake-systemd.ts),
// each its own, given through the test system's host settings; sv-03's
// stand-in answers that systemd is offline; sv-04 runs this machine's own
// systemctl, for reads only. service.create and service.update write a unit
// from an object of the file store, through the route as a client sends it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type FakeSystemd, makeFakeSystemd, unitFile } from '../support/fake-systemd.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost, waitFor } from './helpers.js';

const LABELS: Record<string, Record<string, string>> = {
  'sv-01': { group: 'web' },
  'sv-02': { group: 'web' },
  'sv-03': { group: 'db' },
  'sv-04': { group: 'real' },
};
const FAKED = ['sv-01', 'sv-02', 'sv-03'];
/** This machine's systemctl finds no systemd, so sv-04 is skipped; on a systemd host it lists. */
const NO_SYSTEMD = !existsSync('/run/systemd/system');

let sys: TestSystem;
let admin: string;
let reader: string;
const fakes = new Map<string, FakeSystemd>();
const fake = (host: string) => fakes.get(host) as FakeSystemd;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of FAKED) {
    const f = makeFakeSystemd();
    fakes.set(h, f);
    f.addPackagedUnit('web.service', unitFile({ description: `web on ${h}` }));
    f.addPackagedUnit('osapitest-pkg.service', unitFile(), { active: 'active' });
    await sys.startAgent(
      h,
      LABELS[h],
      { services: { unit_dir: f.unitDir } },
      {
        systemctl: f.systemctl,
      },
    );
  }
  fake('sv-03').setSystemState('offline');
  await sys.startAgent('sv-04', LABELS['sv-04']);
  await sys.waitForAgents(Object.keys(LABELS));
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  for (const f of fakes.values()) f.remove();
});

const action = (target: string, name: string, verb: string, token = admin) =>
  request(sys, 'POST', `/node/${target}/service/${name}/${verb}`, undefined, token);
/** What a stand-in was asked to change, reads left out. */
const changes = (host: string) =>
  fake(host)
    .calls()
    .filter((c) => !/^(show|is-system-running|list-units|list-unit-files)\b/.test(c));

describe('reading services', () => {
  it('lists the services of a host, a read token being enough', async () => {
    const r = await request(sys, 'GET', '/node/sv-01/service', undefined, reader);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results).toHaveLength(1);
    const [item] = r.body.results;
    expect(item).toMatchObject({ hostname: 'sv-01', status: 'ok' });
    expect(item.services.map((s: AnyJson) => s.name)).toEqual([
      'osapitest-pkg.service',
      'web.service',
    ]);
    expect(item.services[1]).toEqual({
      name: 'web.service',
      status: 'inactive',
      sub_state: 'dead',
      load_state: 'loaded',
      enabled: false,
      unit_file_state: 'disabled',
      description: 'web on sv-01',
      pid: 0,
      managed: false,
    });
  });

  it('_all: each host its own; a host without systemd skipped, saying so', async () => {
    const r = await request(sys, 'GET', '/node/_all/service', undefined, admin);
    expect(r.status).toBe(200);
    const items = byHost(r.body.results);
    expect(items.map((x: AnyJson) => [x.hostname, x.status])).toEqual([
      ['sv-01', 'ok'],
      ['sv-02', 'ok'],
      ['sv-03', 'skipped'],
      ['sv-04', NO_SYSTEMD ? 'skipped' : 'ok'],
    ]);
    expect(items[1].services.find((s: AnyJson) => s.name === 'web.service').description).toBe(
      'web on sv-02',
    );
    expect(items[2]).toEqual({
      hostname: 'sv-03',
      status: 'skipped',
      error: 'systemd is not running on this host',
    });
    if (NO_SYSTEMD) expect(items[3].error).toBe('systemd is not running on this host');
  });

  it('gets one service, by a name with or without .service; an unknown one fails', async () => {
    for (const name of ['web', 'web.service']) {
      const r = await request(sys, 'GET', `/node/sv-02/service/${name}`, undefined, reader);
      expect(r.status).toBe(200);
      expect(r.body.results).toEqual([
        {
          hostname: 'sv-02',
          status: 'ok',
          service: expect.objectContaining({ name: 'web.service', description: 'web on sv-02' }),
        },
      ]);
    }
    const none = await request(sys, 'GET', '/node/sv-02/service/osapitest-none', undefined, admin);
    expect(none.body.results).toEqual([
      {
        hostname: 'sv-02',
        status: 'failed',
        error: 'service osapitest-none.service does not exist',
      },
    ]);
  });

  it('a name that is not a service name: 400 naming it, nothing sent', async () => {
    for (const [method, path] of [
      ['GET', '/node/sv-01/service/-web'],
      ['GET', '/node/sv-01/service/.hidden'],
      ['POST', '/node/sv-01/service/a%2Fb/start'],
      ['POST', '/node/sv-01/service/sshd.socket/stop'],
      ['DELETE', '/node/sv-01/service/web%20x'],
    ] as const) {
      const r = await request(sys, method, path, undefined, admin);
      expect(r.status, path).toBe(400);
      expect(r.body.fields, path).toEqual([{ field: 'name', message: expect.any(String) }]);
    }
    expect(changes('sv-01')).toEqual([]);
  });
});

describe('changing services', () => {
  it('a read token may not change a service: 403, nothing run', async () => {
    const r = await action('sv-01', 'web', 'start', reader);
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('forbidden');
    expect(changes('sv-01')).toEqual([]);
  });

  it('starts on both web hosts, once: the same again changes nothing', async () => {
    const r = await action('group:web', 'web', 'start');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      ['sv-01', 'sv-02'].map((h) => ({
        hostname: h,
        status: 'ok',
        changed: true,
        name: 'web.service',
      })),
    );
    const again = await action('group:web', 'web.service', 'start');
    expect(byHost(again.body.results).map((x: AnyJson) => [x.hostname, x.changed])).toEqual([
      ['sv-01', false],
      ['sv-02', false],
    ]);
    for (const h of ['sv-01', 'sv-02']) {
      expect(changes(h)).toEqual(['start --no-ask-password -- web.service']);
      expect(fake(h).state('web.service').active).toBe('active');
    }
  });

  it('enable, restart, stop and disable, each answering what it changed', async () => {
    const steps: Array<[string, boolean]> = [
      ['enable', true],
      ['enable', false],
      ['restart', true],
      ['stop', true],
      ['stop', false],
      ['disable', true],
      ['disable', false],
    ];
    for (const [verb, changed] of steps) {
      const r = await action('sv-01', 'web', verb);
      expect(r.status).toBe(200);
      expect(r.body.results, verb).toEqual([
        { hostname: 'sv-01', status: 'ok', changed, name: 'web.service' },
      ]);
    }
    expect(fake('sv-01').state('web.service')).toMatchObject({
      active: 'inactive',
      enabled: 'disabled',
    });
  });

  it('takes rate control in its body, and refuses other fields', async () => {
    const r = await post(sys, '/node/group:web/service/web/restart', { max_concurrency: 1 }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results).toHaveLength(2);
    const job = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin);
    expect(job.body.operation).toEqual({ type: 'service.restart', data: { name: 'web' } });
    const bad = await post(sys, '/node/sv-01/service/web/restart', { name: 'other' }, admin);
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual([{ field: 'name', message: 'is not a known field' }]);
  });

  it('a host without systemd is skipped; changed false', async () => {
    const r = await action('sv-03', 'web', 'start');
    expect(r.body.results).toEqual([
      {
        hostname: 'sv-03',
        status: 'skipped',
        changed: false,
        error: 'systemd is not running on this host',
      },
    ]);
    expect(changes('sv-03')).toEqual([]);
  });

  it('delete leaves a unit it did not write; an absent one: ok, changed false', async () => {
    const r = await request(sys, 'DELETE', '/node/sv-02/service/osapitest-pkg', undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      {
        hostname: 'sv-02',
        status: 'failed',
        changed: false,
        error: expect.stringMatching(/^osapitest-pkg.service was not written by this system/),
      },
    ]);
    expect(fake('sv-02').state('osapitest-pkg.service').active).toBe('active');
    const none = await request(
      sys,
      'DELETE',
      '/node/sv-02/service/osapitest-gone',
      undefined,
      admin,
    );
    expect(none.body.results).toEqual([
      { hostname: 'sv-02', status: 'ok', changed: false, name: 'osapitest-gone.service' },
    ]);
  });

  it('the SDK names each operation, and POST /job takes a service job as the route does', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const stop = await client.serviceStop('sv-02', { name: 'web' });
    expect(stop.status).toBe(200);
    expect(stop.body.results).toEqual([
      { hostname: 'sv-02', status: 'ok', changed: true, name: 'web.service' },
    ]);
    const del = await client.serviceDelete('sv-02', { name: 'osapitest-gone' });
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: false });
    const got = await client.serviceGet('sv-02', { name: 'web' });
    expect(got.body.results[0]?.service?.status).toBe('inactive');

    const bad = await post(
      sys,
      '/job',
      { operation: { type: 'service.start', data: { name: '-x' } }, target_hostname: 'sv-02' },
      admin,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('operation.data.name');
    const ok = await post(
      sys,
      '/job',
      { operation: { type: 'service.start', data: { name: 'web' } }, target_hostname: 'sv-02' },
      admin,
    );
    expect(ok.status).toBe(201);
    // POST /job does not wait: read the job until the agent's result is in.
    const job = await waitFor('the job to complete', async () => {
      const j = await request(sys, 'GET', `/job/${ok.body.job_id}`, undefined, admin);
      return j.body.status === 'completed' ? j.body : undefined;
    });
    expect(job.result).toEqual({ name: 'web.service', changed: true });
  });
});

describe('unit files from the file store', () => {
  const upload = (name: string, text: string) =>
    post(sys, '/file?force=true', { name, content: Buffer.from(text).toString('base64') }, admin);

  it('creates a unit from an object, replaces it from another, and deletes it', async () => {
    const v1 = unitFile({ description: 'made by the API' });
    await upload('unit-v1', v1);
    const made = await post(
      sys,
      '/node/sv-01/service',
      { name: 'osapitest-api', object: 'unit-v1' },
      admin,
    );
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    const file = join(fake('sv-01').unitDir, 'osapitest-api.service');
    expect(readFileSync(file, 'utf8')).toContain('Description=made by the API');

    const again = await post(
      sys,
      '/node/sv-01/service',
      { name: 'osapitest-api', object: 'unit-v1' },
      admin,
    );
    expect(again.body.results[0]).toMatchObject({ status: 'ok', changed: false });

    await upload('unit-v2', unitFile({ description: 'replaced' }));
    const put = await request(
      sys,
      'PUT',
      '/node/sv-01/service/osapitest-api',
      { object: 'unit-v2' },
      admin,
    );
    expect(put.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(file, 'utf8')).toContain('Description=replaced');

    const del = await request(sys, 'DELETE', '/node/sv-01/service/osapitest-api', undefined, admin);
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(file)).toBe(false);
  });

  it('an object the file store does not hold: 400 naming the field, nothing sent', async () => {
    const r = await post(
      sys,
      '/node/sv-01/service',
      { name: 'osapitest-none', object: 'no-such-object' },
      admin,
    );
    expect(r.status).toBe(400);
    expect(r.body.fields).toEqual([expect.objectContaining({ field: 'object' })]);
  });
});
