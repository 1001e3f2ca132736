// The service handlers on the agent alone. This machine does not run systemd,
// so they run against the stand-in systemctl (test/support/fake-systemctl),
// given as HostSettings.systemctl, with unit directories in a temp dir; the
// real systemctl is used only where it answers that systemd is not running.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTool } from '../../src/agent/handlers/host-tools.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { MANAGED_MARKER } from '../../src/agent/handlers/service-units.js';
import { parseShow, unitNamesOf } from '../../src/agent/handlers/systemctl.js';
import type { ObjectReader } from '../../src/agent/handlers/types.js';
import { operationCategory } from '../../src/contract/operations.js';
import { normalServiceName } from '../../src/contract/services.js';
import { operationDataProblems } from '../../src/job/data-checks.js';
import { type FakeSystemd, makeFakeSystemd, unitFile } from '../support/fake-systemd.js';

let fake: FakeSystemd;
beforeEach(() => {
  fake = makeFakeSystemd();
});
afterEach(() => fake.remove());

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

/** A file store holding `objects`; it refuses a digest other than the content's, as the agent's does. */
function store(objects: Record<string, string | Uint8Array>): ObjectReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async read(name, digest) {
      reads.push(name);
      const content = objects[name];
      if (content === undefined) throw new Error(`object ${name} is not in the file store`);
      if (sha256(content) !== digest)
        throw new Error(`object ${name} changed since the job was made`);
      return typeof content === 'string' ? new TextEncoder().encode(content) : content;
    },
  };
}

function ctx(objects?: ObjectReader, systemctl = fake.systemctl): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: { unitDir: fake.unitDir, systemctl },
    ...(objects ? { objects } : {}),
  };
}

const run = (type: string, data: unknown, c: HandlerContext = ctx()) => runJob(type, data, c);

/** The stand-in's calls that change something, without the reads. */
const changes = () =>
  fake.calls().filter((c) => !/^(show|is-system-running|list-units|list-unit-files)\b/.test(c));

describe('the jobs', () => {
  it('reads travel on jobs.query, changes on jobs.modify', () => {
    expect(operationCategory('service.list')).toBe('query');
    expect(operationCategory('service.get')).toBe('query');
    for (const t of [
      'create',
      'update',
      'delete',
      'start',
      'stop',
      'restart',
      'enable',
      'disable',
    ]) {
      expect(operationCategory(`service.${t}` as 'service.start')).toBe('modify');
    }
  });

  it('takes service names with or without .service, and nothing a tool could read as an option', () => {
    const problem = (name: unknown) =>
      operationDataProblems('service.start', { name }).map((p) => `${p.field}: ${p.message}`);
    for (const ok of [
      'nginx',
      'nginx.service',
      'getty@tty1.service',
      'foo@.service',
      'a:b_c-d.e',
    ]) {
      expect(problem(ok), ok).toEqual([]);
    }
    for (const bad of ['-nginx', '.hidden', 'a/b', '../x', 'a b', 'x\u0000', '@x', 'a@b@c', 'é']) {
      expect(problem(bad), bad).toEqual([expect.stringMatching(/^name: must be a service name/)]);
    }
    expect(problem('sshd.socket')).toEqual([
      'name: names a socket unit: only services (.service) are managed here',
    ]);
    expect(problem('')[0]).toMatch(/^name: /);
    expect(problem('x'.repeat(247))).toEqual([]);
    expect(problem('x'.repeat(248))[0]).toMatch(/^name: must be a service name/);
    expect(problem('x'.repeat(256))[0]).toMatch(/^name: /);
    expect(normalServiceName('nginx')).toBe('nginx.service');
    expect(normalServiceName('nginx.service')).toBe('nginx.service');
    expect(normalServiceName('foo.bar')).toBe('foo.bar.service');
  });

  it("a create's data carries the object's digest, as the API fills it", () => {
    const fields = (data: unknown) =>
      operationDataProblems('service.create', data).map((p) => p.field);
    expect(fields({ name: 'a', object: 'o', object_sha256: sha256('x') })).toEqual([]);
    expect(fields({ name: 'a', object: 'o' })).toEqual(['object_sha256']);
    expect(fields({ name: 'a', object: 'o', object_sha256: 'ABC' })).toEqual(['object_sha256']);
    expect(fields({ name: '-a', object: 'o', object_sha256: sha256('x') })).toEqual(['name']);
  });
});

describe('systemctl output', () => {
  it('reads show by key, a value being all after the first =, blank lines between units', () => {
    expect(
      parseShow('Id=a.service\nDescription=x = y  z\n\nId=b.service\nDescription=\nId=evil\n'),
    ).toEqual([
      { Id: 'a.service', Description: 'x = y  z' },
      { Id: 'b.service', Description: '' },
    ]);
  });

  it('takes the service name of each list line, a failed mark or not, templates left out', () => {
    expect(
      unitNamesOf(
        '  a.service loaded active running A\n● b.service loaded failed failed B c.service\ngetty@.service enabled enabled\nd.service disabled enabled\n\n',
      ),
    ).toEqual(['a.service', 'b.service', 'd.service']);
  });
});

// systemctl reads unit files without systemd: this machine's own listing, read only.
describe.skipIf(!existsSync('/usr/bin/systemctl'))("this machine's systemctl", () => {
  it('lists unit files in the form the names are read from, templates left out', async () => {
    const listed = await runTool(
      '/usr/bin/systemctl',
      ['list-unit-files', '--type=service', '--no-legend', '--no-pager'],
      { signal: new AbortController().signal },
    );
    expect(listed.kind).toBe('ok');
    const stdout = listed.kind === 'ok' ? listed.stdout : '';
    const names = unitNamesOf(stdout);
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBe(
      stdout.split('\n').filter((l) => /^\S+\.service\s/.test(l) && !/^\S+@\.service\s/.test(l))
        .length,
    );
    for (const name of names) expect(name).toMatch(/^[^@\s]+(@[^@\s]+)?\.service$/);
  });
});

describe('a host without systemd', () => {
  it('is skipped when systemctl says systemd is offline', async () => {
    fake.setSystemState('offline');
    const out = await run('service.list', {});
    expect(out).toMatchObject({ state: 'skipped', error: 'systemd is not running on this host' });
    expect(fake.calls()).toEqual(['is-system-running']);
  });

  it('is skipped when there is no systemctl at all', async () => {
    const out = await run('service.start', { name: 'x' }, ctx(undefined, '/nonexistent/systemctl'));
    expect(out).toMatchObject({
      state: 'skipped',
      error: 'systemd is not running on this host: systemctl is not installed',
    });
  });

  // This machine's own systemctl, which answers `offline`: systemd is not its init.
  it.skipIf(!existsSync('/usr/bin/systemctl') || existsSync('/run/systemd/system'))(
    "is skipped with this machine's real systemctl, which finds no systemd",
    async () => {
      for (const [type, data] of [
        ['service.list', {}],
        ['service.get', { name: 'osapitest-none' }],
        ['service.stop', { name: 'osapitest-none' }],
      ] as const) {
        const out = await run(type, data, ctx(undefined, 'systemctl'));
        expect(out, type).toMatchObject({
          status: 'failed',
          state: 'skipped',
          error: 'systemd is not running on this host',
        });
      }
    },
  );
});

describe('service.list and service.get', () => {
  beforeEach(() => {
    fake.addPackagedUnit('web.service', unitFile({ description: 'Web = front, "main"  one' }), {
      active: 'active',
      enabled: 'enabled',
      pid: 4321,
    });
    fake.addPackagedUnit('crashed.service', unitFile({ description: 'crashes' }), {
      active: 'failed',
    });
    fake.addPackagedUnit('oneshot.service', unitFile({ install: false }));
    fake.addPackagedUnit('getty@.service', unitFile());
    fake.addReferenced('missing.service');
    writeFileSync(join(fake.unitDir, 'byhand.service'), unitFile({ description: 'by hand' }));
    writeFileSync(
      join(fake.unitDir, 'ours.service'),
      `${MANAGED_MARKER}: ...\n${unitFile({ description: 'ours' })}`,
    );
  });

  it('lists every service once, as systemd has it; templates and not-found units left out', async () => {
    const out = await run('service.list', {});
    expect(out.status, out.error).toBe('completed');
    const services = (out.data as { services: Array<Record<string, unknown>> }).services;
    expect(services.map((s) => s.name)).toEqual([
      'byhand.service',
      'crashed.service',
      'oneshot.service',
      'ours.service',
      'web.service',
    ]);
    const byName = Object.fromEntries(services.map((s) => [s.name, s]));
    expect(byName['web.service']).toEqual({
      name: 'web.service',
      status: 'active',
      sub_state: 'running',
      load_state: 'loaded',
      enabled: true,
      unit_file_state: 'enabled',
      description: 'Web = front, "main"  one',
      pid: 4321,
      managed: false,
    });
    expect(byName['crashed.service']).toMatchObject({ status: 'failed', enabled: false, pid: 0 });
    expect(byName['oneshot.service']).toMatchObject({ unit_file_state: 'static', enabled: false });
    expect(byName['ours.service']).toMatchObject({ managed: true, description: 'ours' });
    expect(byName['byhand.service']).toMatchObject({ managed: false, unit_file_state: 'disabled' });
  });

  it('gets one service by its name, with or without .service', async () => {
    for (const name of ['web', 'web.service']) {
      const out = await run('service.get', { name });
      expect(out.status, out.error).toBe('completed');
      expect(out.data).toMatchObject({
        service: { name: 'web.service', status: 'active', pid: 4321 },
      });
    }
  });

  it('a service that does not exist: failed, saying so', async () => {
    const out = await run('service.get', { name: 'osapitest-nosuch' });
    expect(out).toMatchObject({
      status: 'failed',
      error: 'service osapitest-nosuch.service does not exist',
    });
  });

  it('refuses data a check refuses, running nothing', async () => {
    const out = await run('service.get', { name: '--all' });
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/^invalid job data: name must be a service name/);
    expect(fake.calls()).toEqual([]);
  });
});

describe('start, stop, restart, enable, disable', () => {
  beforeEach(() => {
    fake.addPackagedUnit('web.service', unitFile());
    fake.addPackagedUnit('static.service', unitFile({ install: false }));
    fake.addPackagedUnit('broken.service', unitFile({ lines: ['X-Fake=fail-start'] }));
  });

  const result = (out: Awaited<ReturnType<typeof run>>) => ({
    status: out.status,
    ...(out.error ? { error: out.error } : {}),
    ...(out.data ? { data: out.data } : {}),
  });

  it('start runs systemctl start once; started already: changed false, nothing run', async () => {
    expect(result(await run('service.start', { name: 'web' }))).toEqual({
      status: 'completed',
      data: { name: 'web.service', changed: true },
    });
    expect(fake.state('web.service').active).toBe('active');
    expect(changes()).toEqual(['start --no-ask-password -- web.service']);
    fake.clearCalls();
    expect(result(await run('service.start', { name: 'web.service' }))).toEqual({
      status: 'completed',
      data: { name: 'web.service', changed: false },
    });
    expect(changes()).toEqual([]);
  });

  it('stop stops a running service, and does nothing to a stopped or failed one', async () => {
    fake.setState('web.service', { active: 'active', pid: 77 });
    expect((await run('service.stop', { name: 'web' })).data).toEqual({
      name: 'web.service',
      changed: true,
    });
    expect(fake.state('web.service').active).toBe('inactive');
    expect((await run('service.stop', { name: 'web' })).data).toMatchObject({ changed: false });
    fake.setState('web.service', { active: 'failed' });
    expect((await run('service.stop', { name: 'web' })).data).toMatchObject({ changed: false });
    expect(changes()).toEqual(['stop --no-ask-password -- web.service']);
  });

  it('restart always runs', async () => {
    for (let i = 0; i < 2; i++) {
      expect((await run('service.restart', { name: 'web' })).data).toEqual({
        name: 'web.service',
        changed: true,
      });
    }
    expect(changes()).toEqual([
      'restart --no-ask-password -- web.service',
      'restart --no-ask-password -- web.service',
    ]);
  });

  it('enable and disable change the unit file state once; a repeat changes nothing', async () => {
    expect((await run('service.enable', { name: 'web' })).data).toMatchObject({ changed: true });
    expect(fake.state('web.service').enabled).toBe('enabled');
    expect((await run('service.enable', { name: 'web' })).data).toMatchObject({ changed: false });
    expect((await run('service.disable', { name: 'web' })).data).toMatchObject({ changed: true });
    expect(fake.state('web.service').enabled).toBe('disabled');
    expect((await run('service.disable', { name: 'web' })).data).toMatchObject({ changed: false });
    expect(changes()).toEqual([
      'enable --no-ask-password -- web.service',
      'disable --no-ask-password -- web.service',
    ]);
  });

  it('a unit without an [Install] section cannot be enabled or disabled: failed, nothing run', async () => {
    for (const action of ['enable', 'disable']) {
      const out = await run(`service.${action}`, { name: 'static' });
      expect(out.status).toBe('failed');
      expect(out.error).toMatch(
        new RegExp(`^static.service cannot be ${action}d: its unit file state is "static"`),
      );
    }
    expect(changes()).toEqual([]);
  });

  it("a start systemd fails: failed with systemctl's own words", async () => {
    const out = await run('service.start', { name: 'broken' });
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(
      /^.*systemctl failed: Job for broken.service failed because the control process exited with error code\./,
    );
  });

  it('a service that does not exist: failed, nothing run', async () => {
    for (const action of ['start', 'stop', 'restart', 'enable', 'disable']) {
      const out = await run(`service.${action}`, { name: 'osapitest-nosuch' });
      expect(out, action).toMatchObject({
        status: 'failed',
        error: 'service osapitest-nosuch.service does not exist',
      });
    }
    expect(changes()).toEqual([]);
  });
});

describe('service.create', () => {
  const content = unitFile({ description: 'hello' });
  const data = (object = 'hello.unit', text = content, name = 'osapitest-hello') => ({
    name,
    object,
    object_sha256: sha256(text),
  });
  const path = (name = 'osapitest-hello.service') => join(fake.unitDir, name);

  it('writes the object, marked, mode 0644, then reloads systemd; the same again: changed false', async () => {
    const objects = store({ 'hello.unit': content });
    const out = await run('service.create', data(), ctx(objects));
    expect(out.status, out.error).toBe('completed');
    expect(out.data).toEqual({ name: 'osapitest-hello.service', changed: true });
    const written = readFileSync(path(), 'utf8');
    expect(written.split('\n')[0]).toMatch(new RegExp(`^${MANAGED_MARKER}`));
    expect(written.slice(written.indexOf('\n') + 1)).toBe(content);
    expect(statSync(path()).mode & 0o777).toBe(0o644);
    expect(changes()).toEqual(['daemon-reload']);
    expect(objects.reads).toEqual(['hello.unit']);
    // No temp file left beside it.
    expect(readdirSync(fake.unitDir)).toEqual(['osapitest-hello.service']);

    fake.clearCalls();
    const again = await run('service.create', data(), ctx(objects));
    expect(again.data).toEqual({ name: 'osapitest-hello.service', changed: false });
    expect(changes()).toEqual([]);

    // Listed as managed, with what the file says.
    const got = await run('service.get', { name: 'osapitest-hello' });
    expect(got.data).toMatchObject({
      service: { name: 'osapitest-hello.service', description: 'hello', managed: true },
    });
  });

  it('the same name with other content: failed, pointing to service.update', async () => {
    await run('service.create', data(), ctx(store({ 'hello.unit': content })));
    const other = unitFile({ description: 'other' });
    const out = await run('service.create', data('o2', other), ctx(store({ o2: other })));
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/already exists with other content; service.update replaces/);
    expect(readFileSync(path(), 'utf8')).toContain('Description=hello');
  });

  it('a unit file in the unit directory it did not write is left as it is', async () => {
    writeFileSync(path(), 'by hand\n');
    const out = await run('service.create', data(), ctx(store({ 'hello.unit': content })));
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/that this system did not write; it is left as it is$/);
    expect(readFileSync(path(), 'utf8')).toBe('by hand\n');
    expect(changes()).toEqual([]);
  });

  it("a unit that exists elsewhere (a package's) is not overridden: failed, nothing written", async () => {
    fake.addPackagedUnit('osapitest-hello.service', unitFile({ description: 'packaged' }));
    const out = await run('service.create', data(), ctx(store({ 'hello.unit': content })));
    expect(out.status).toBe('failed');
    expect(out.error).toContain(
      `osapitest-hello.service already exists (its unit file is ${join(fake.libDir, 'osapitest-hello.service')})`,
    );
    expect(existsSync(path())).toBe(false);
    expect(changes()).toEqual([]);
  });

  it('a unit systemd will not load is taken back: failed with its error, file removed, reloaded again', async () => {
    const bad = '[Unit]\nDescription=no service section\n';
    const out = await run('service.create', data('bad', bad), ctx(store({ bad })));
    expect(out.status).toBe('failed');
    expect(out.error).toBe(
      'systemd did not load osapitest-hello.service (bad-setting: org.freedesktop.systemd1.BadUnitSetting "Unit osapitest-hello.service has a bad unit file setting."); the unit file was removed, so nothing changed',
    );
    expect(readdirSync(fake.unitDir)).toEqual([]);
    expect(changes()).toEqual(['daemon-reload', 'daemon-reload']);
  });

  it('an object that is not a unit file, or not there, or changed: failed, nothing written', async () => {
    const binary = new Uint8Array([0xff, 0xfe, 0x00]);
    const cases: Array<[ObjectReader, ReturnType<typeof data>, RegExp]> = [
      [store({ b: binary }), { ...data('b'), object_sha256: sha256(binary) }, /not UTF-8 text/],
      [store({ e: '' }), data('e', ''), /it is empty/],
      [store({ n: 'a\u0000b' }), data('n', 'a\u0000b'), /NUL bytes/],
      [store({}), data('gone'), /object gone is not in the file store/],
      [store({ c: 'new' }), data('c', 'old'), /object c changed since the job was made/],
    ];
    for (const [objects, d, error] of cases) {
      const out = await run('service.create', d, ctx(objects));
      expect(out.status).toBe('failed');
      expect(out.error).toMatch(error);
    }
    const out = await run('service.create', data(), ctx());
    expect(out.error).toMatch(/this agent cannot read the file store/);
    expect(readdirSync(fake.unitDir)).toEqual([]);
    expect(changes()).toEqual([]);
  });
});

describe('service.update', () => {
  const v1 = unitFile({ description: 'v1' });
  const v2 = unitFile({ description: 'v2' });
  const objects = store({ v1, v2, bad: '[Unit]\n' });
  const data = (object: string, text: string) => ({
    name: 'osapitest-app',
    object,
    object_sha256: sha256(text),
  });
  const path = () => join(fake.unitDir, 'osapitest-app.service');

  it('replaces a unit file it wrote and reloads; the same again: changed false', async () => {
    await run('service.create', data('v1', v1), ctx(objects));
    fake.clearCalls();
    const out = await run('service.update', data('v2', v2), ctx(objects));
    expect(out.data).toEqual({ name: 'osapitest-app.service', changed: true });
    expect(readFileSync(path(), 'utf8')).toContain('Description=v2');
    expect(readFileSync(path(), 'utf8')).toMatch(new RegExp(`^${MANAGED_MARKER}`));
    expect(changes()).toEqual(['daemon-reload']);
    fake.clearCalls();
    expect((await run('service.update', data('v2', v2), ctx(objects))).data).toMatchObject({
      changed: false,
    });
    expect(changes()).toEqual([]);
  });

  it('content systemd will not load: failed, the previous file put back', async () => {
    await run('service.create', data('v1', v1), ctx(objects));
    const before = readFileSync(path());
    const out = await run('service.update', data('bad', '[Unit]\n'), ctx(objects));
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/previous unit file was put back, so nothing changed$/);
    expect(readFileSync(path())).toEqual(before);
  });

  it('a unit it did not write, or none: failed, untouched', async () => {
    const none = await run('service.update', data('v2', v2), ctx(objects));
    expect(none.error).toBe(
      `service osapitest-app.service has no unit file in ${path()}; service.create writes one`,
    );
    writeFileSync(path(), v1);
    const byHand = await run('service.update', data('v2', v2), ctx(objects));
    expect(byHand.error).toMatch(/that this system did not write; it is left as it is$/);
    expect(readFileSync(path(), 'utf8')).toBe(v1);
    expect(changes()).toEqual([]);
  });
});

describe('service.delete', () => {
  const v1 = unitFile({ description: 'v1' });
  const create = async (text = v1) => {
    const out = await run(
      'service.create',
      { name: 'osapitest-app', object: 'o', object_sha256: sha256(text) },
      ctx(store({ o: text })),
    );
    expect(out.status, out.error).toBe('completed');
    fake.clearCalls();
  };
  const path = () => join(fake.unitDir, 'osapitest-app.service');

  it('stops, disables and removes a unit it wrote, then reloads; gone already: changed false', async () => {
    await create();
    fake.setState('osapitest-app.service', { active: 'active', enabled: 'enabled', pid: 9 });
    const out = await run('service.delete', { name: 'osapitest-app' });
    expect(out.data).toEqual({ name: 'osapitest-app.service', changed: true });
    expect(existsSync(path())).toBe(false);
    expect(changes()).toEqual([
      'stop --no-ask-password -- osapitest-app.service',
      'disable --no-ask-password -- osapitest-app.service',
      'daemon-reload',
    ]);
    fake.clearCalls();
    expect((await run('service.delete', { name: 'osapitest-app' })).data).toEqual({
      name: 'osapitest-app.service',
      changed: false,
    });
    expect(changes()).toEqual([]);
  });

  it('a stopped, disabled unit is only removed; a failed one is also reset', async () => {
    await create();
    fake.setState('osapitest-app.service', { active: 'failed' });
    expect((await run('service.delete', { name: 'osapitest-app' })).data).toMatchObject({
      changed: true,
    });
    expect(changes()).toEqual(['daemon-reload', 'reset-failed -- osapitest-app.service']);
  });

  it('a disable that fails: the service is started again, the file kept', async () => {
    await create(unitFile({ lines: ['X-Fake=fail-disable'] }));
    fake.setState('osapitest-app.service', { active: 'active', enabled: 'enabled' });
    const out = await run('service.delete', { name: 'osapitest-app' });
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(
      /^disabling osapitest-app.service failed: .*Access denied; the steps before it were undone, so nothing changed$/,
    );
    expect(existsSync(path())).toBe(true);
    expect(fake.state('osapitest-app.service')).toMatchObject({
      active: 'active',
      enabled: 'enabled',
    });
    expect(changes()).toEqual([
      'stop --no-ask-password -- osapitest-app.service',
      'disable --no-ask-password -- osapitest-app.service',
      'start --no-ask-password -- osapitest-app.service',
    ]);
  });

  it('a unit it did not write, here or elsewhere, is left as it is', async () => {
    writeFileSync(path(), v1);
    const byHand = await run('service.delete', { name: 'osapitest-app' });
    expect(byHand.error).toMatch(/that this system did not write; it is left as it is$/);
    expect(readFileSync(path(), 'utf8')).toBe(v1);

    fake.addPackagedUnit('osapitest-pkg.service', v1, { active: 'active' });
    const packaged = await run('service.delete', { name: 'osapitest-pkg' });
    expect(packaged.error).toBe(
      `osapitest-pkg.service was not written by this system (its unit file is ${join(fake.libDir, 'osapitest-pkg.service')}); it is left as it is`,
    );
    expect(fake.state('osapitest-pkg.service').active).toBe('active');
    expect(changes()).toEqual([]);
  });
});
