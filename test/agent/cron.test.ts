// The cron handlers for real: entries written to, read from and removed from
// a temporary cron directory and temporary run-parts directories (cron.daily,
// ...) given as the agent's settings, byte for byte, the scripts run by this
// machine's run-parts; one entry in this machine's /etc/cron.d under a
// throwaway name, removed after.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CRON_MARKER, parseEntry, parseScript } from '../../src/agent/handlers/cron.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import type { ObjectReader } from '../../src/agent/handlers/types.js';
import {
  CRON_NAME_PATTERN,
  cronScheduleProblem,
  RUN_PARTS_NAME_PATTERN,
} from '../../src/contract/cron.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function store(objects: Record<string, string>): ObjectReader {
  return {
    async read(name, digest) {
      const content = objects[name];
      if (content === undefined) throw new Error(`object ${name} is not in the file store`);
      if (sha256(content) !== digest)
        throw new Error(`object ${name} changed since the job was made`);
      return new TextEncoder().encode(content);
    },
  };
}

const OBJECTS = {
  backup: '/usr/local/bin/backup --quiet\n',
  other: 'echo other\n',
  two: 'echo one\necho two\n',
  tmpl: 'echo {{vars.greeting}} from {{hostname}}\n',
  nul: 'echo \u0000\n',
  empty: '\n',
};
type ObjectNameKey = keyof typeof OBJECTS;
const obj = (name: ObjectNameKey) => ({ object: name, object_sha256: sha256(OBJECTS[name]) });

/** Stands for /etc: the cron directory and the run-parts directories, but no cron.monthly. */
let etc: string;
/** The cron directory, etc/cron.d. */
let dir: string;
beforeEach(() => {
  etc = mkdtempSync(join(tmpdir(), 'osapitest-cron-'));
  dir = join(etc, 'cron.d');
  for (const sub of ['cron.d', 'cron.hourly', 'cron.daily', 'cron.weekly']) {
    mkdirSync(join(etc, sub));
  }
});
afterEach(() => {
  rmSync(etc, { recursive: true, force: true });
});

function ctx(cronDir = dir, cronPeriodicDir = etc): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: { unitDir: '/nonexistent', cronDir, cronPeriodicDir },
    objects: store(OBJECTS),
  };
}
const run = (type: string, data: unknown, c: HandlerContext = ctx()) => runJob(type, data, c);

const header = (object: string, interval?: string) =>
  `${CRON_MARKER}: cron.update replaces this file, cron.delete removes it. object=${object}${interval ? ` interval=${interval}` : ''}\n`;
const script = (object: string, interval: string, command: string) =>
  `#!/bin/sh\n${header(object, interval)}${command}\n`;
const scriptPath = (interval: string, name = 'backup') =>
  join(etc, `cron.${interval}`, `osapi-${name}`);

describe('cron schedules', () => {
  it('takes five fields within their ranges, and the macros', () => {
    for (const ok of [
      '* * * * *',
      '*/5 * * * *',
      '30 2 * * 1-5',
      '0 0,12 1 jan,jul sun',
      '0-59/15 0-23 1-31 1-12 0-7',
      '@reboot',
      '@daily',
      '@yearly',
    ]) {
      expect(cronScheduleProblem(ok), ok).toBeNull();
    }
  });

  it('refuses what cron would not read, saying which field', () => {
    expect(cronScheduleProblem('60 * * * *')).toMatch(/^minute "60"/);
    expect(cronScheduleProblem('* 24 * * *')).toMatch(/^hour "24"/);
    expect(cronScheduleProblem('* * 0 * *')).toMatch(/^day of month "0"/);
    expect(cronScheduleProblem('* * * 13 *')).toMatch(/^month "13"/);
    expect(cronScheduleProblem('* * * * 8')).toMatch(/^day of week "8"/);
    expect(cronScheduleProblem('5-1 * * * *')).toMatch(/runs backwards/);
    expect(cronScheduleProblem('*/0 * * * *')).toMatch(/step/);
    for (const bad of [
      '* * * *',
      '* * * * * *',
      '*  * * * *',
      '@often',
      '* * * * * root',
      '-1 * * * *',
    ]) {
      expect(cronScheduleProblem(bad), bad).toMatch(/must be five fields/);
    }
  });

  it('the data check asks for a schedule or an interval, never both, and a name cron reads', () => {
    const base = { name: 'x', ...obj('backup') };
    expect(operationDataProblems('cron.create', base)).toEqual([
      { field: 'schedule', message: 'is required when interval is absent' },
    ]);
    expect(
      operationDataProblems('cron.create', { ...base, schedule: '@daily', interval: 'daily' }),
    ).toEqual([{ field: 'interval', message: 'cannot be given with schedule: give one of them' }]);
    expect(
      operationDataProblems('cron.create', { ...base, name: 'a.b', schedule: '@daily' })[0],
    ).toMatchObject({ field: 'name' });
    expect(
      operationDataProblems('cron.create', { ...base, name: '-x', schedule: '@daily' })[0],
    ).toMatchObject({ field: 'name' });
    expect(
      operationDataProblems('cron.create', { ...base, interval: 'daily', user: 'nobody' }),
    ).toEqual([{ field: 'user', message: expect.stringMatching(/must be root with interval/) }]);
    expect(
      operationDataProblems('cron.create', { ...base, interval: 'daily', user: 'root' }),
    ).toEqual([]);
    expect(
      operationDataProblems('cron.create', { ...base, name: 'a.b', interval: 'daily' })[0],
    ).toMatchObject({ field: 'name', message: expect.stringMatching(/run-parts skip/) });
    expect(operationDataProblems('cron.update', { name: 'x', vars: { a: 1 } })).toEqual([
      { field: 'vars', message: 'needs object: it says how to read the object' },
    ]);
  });
});

describe('entry names and run-parts', () => {
  it('every name the pattern takes is one run-parts runs, as osapi-<name>', () => {
    const name = new RegExp(CRON_NAME_PATTERN);
    const runParts = new RegExp(RUN_PARTS_NAME_PATTERN);
    for (let code = 0; code < 256; code++) {
      const c = String.fromCharCode(code);
      for (const candidate of [`${c}a`, `a${c}`, `a${c}b`]) {
        if (name.test(candidate)) expect(runParts.test(`osapi-${candidate}`), candidate).toBe(true);
      }
    }
  });
});

describe('cron entries in a temporary cron directory', () => {
  const create = (extra: Record<string, unknown> = {}) => ({
    name: 'backup',
    ...obj('backup'),
    schedule: '30 2 * * *',
    ...extra,
  });

  it('create writes one marked file, root-owned 0644, and a repeat changes nothing', async () => {
    const out = await run('cron.create', create());
    expect(out).toMatchObject({ status: 'completed', data: { name: 'backup', changed: true } });
    const path = join(dir, 'osapi-backup');
    expect(readFileSync(path, 'utf8')).toBe(
      `${header('backup')}30 2 * * * root /usr/local/bin/backup --quiet\n`,
    );
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o644);
    expect(st.uid).toBe(0);
    const again = await run('cron.create', create());
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });
    const clash = await run('cron.create', create({ schedule: '@daily' }));
    expect(clash).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/cron\.update changes it/),
    });
  });

  it('an interval is a root-owned 0755 script in cron.<interval>, which run-parts runs', async () => {
    const out = await run(
      'cron.create',
      create({ schedule: undefined, interval: 'weekly', user: 'root', ...obj('other') }),
    );
    expect(out).toMatchObject({ status: 'completed', data: { changed: true } });
    const path = scriptPath('weekly');
    expect(readFileSync(path, 'utf8')).toBe(script('other', 'weekly', 'echo other'));
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o755);
    expect(st.uid).toBe(0);
    expect(st.gid).toBe(0);
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
    // This machine's run-parts takes the name, and runs the script with the command.
    const weekly = join(etc, 'cron.weekly');
    expect(execFileSync('run-parts', ['--test', weekly], { encoding: 'utf8' })).toBe(`${path}\n`);
    expect(execFileSync('run-parts', [weekly], { encoding: 'utf8' })).toBe('other\n');
    const got = await run('cron.get', { name: 'backup' });
    expect(got.data).toEqual({
      name: 'backup',
      object: 'other',
      schedule: '@weekly',
      interval: 'weekly',
      user: 'root',
      command: 'echo other',
      source: path,
    });
    const again = await run(
      'cron.create',
      create({ schedule: undefined, interval: 'weekly', ...obj('other') }),
    );
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });
    const clash = await run('cron.create', create());
    expect(clash).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/already exists .*cron\.update changes it/),
    });
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
  });

  it('list shows both kinds by name; delete removes whichever it is', async () => {
    await run('cron.create', create());
    await run('cron.create', create({ name: 'a1', schedule: undefined, interval: 'hourly' }));
    await run('cron.create', create({ name: 'z9', schedule: undefined, interval: 'daily' }));
    writeFileSync(join(etc, 'cron.daily', 'osapi-byhand'), '#!/bin/sh\necho mine\n');
    writeFileSync(join(etc, 'cron.daily', 'logrotate'), script('x', 'daily', 'echo'));
    const list = await run('cron.list', {});
    expect(list.data).toMatchObject({
      entries: [
        { name: 'a1', interval: 'hourly', schedule: '@hourly', source: scriptPath('hourly', 'a1') },
        { name: 'backup', schedule: '30 2 * * *', source: join(dir, 'osapi-backup') },
        { name: 'z9', interval: 'daily', source: scriptPath('daily', 'z9') },
      ],
    });
    expect((list.data as { entries: object[] }).entries[1]).not.toHaveProperty('interval');
    expect(await run('cron.delete', { name: 'z9' })).toMatchObject({ data: { changed: true } });
    expect(existsSync(scriptPath('daily', 'z9'))).toBe(false);
    expect(await run('cron.delete', { name: 'z9' })).toMatchObject({ data: { changed: false } });
    for (const type of ['cron.get', 'cron.delete']) {
      expect(await run(type, { name: 'byhand' })).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/not written by this system/),
      });
    }
    const over = await run(
      'cron.create',
      create({ name: 'byhand', schedule: undefined, interval: 'daily' }),
    );
    expect(over).toMatchObject({ status: 'failed', error: expect.stringMatching(/not written/) });
    expect(readFileSync(join(etc, 'cron.daily', 'osapi-byhand'), 'utf8')).toBe(
      '#!/bin/sh\necho mine\n',
    );
  });

  it('update moves an entry between a schedule and an interval, the new file first', async () => {
    await run('cron.create', create());
    const toDaily = await run('cron.update', { name: 'backup', interval: 'daily' });
    expect(toDaily).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
    expect(readFileSync(scriptPath('daily'), 'utf8')).toBe(
      script('backup', 'daily', '/usr/local/bin/backup --quiet'),
    );
    const same = await run('cron.update', { name: 'backup', interval: 'daily' });
    expect(same).toMatchObject({ data: { changed: false } });
    // The command changes in place; the interval stays.
    await run('cron.update', { name: 'backup', ...obj('other') });
    expect(readFileSync(scriptPath('daily'), 'utf8')).toBe(script('other', 'daily', 'echo other'));
    await run('cron.update', { name: 'backup', interval: 'hourly' });
    expect(existsSync(scriptPath('daily'))).toBe(false);
    expect(existsSync(scriptPath('hourly'))).toBe(true);
    const asNobody = await run('cron.update', { name: 'backup', user: 'nobody' });
    expect(asNobody).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/runs as root .*give a schedule/),
    });
    // No cron.monthly on this "host": the entry stays where it was.
    const monthly = await run('cron.update', { name: 'backup', interval: 'monthly' });
    expect(monthly).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/has no .*cron\.monthly/),
    });
    expect(existsSync(scriptPath('hourly'))).toBe(true);
    const back = await run('cron.update', { name: 'backup', schedule: '@reboot', user: 'nobody' });
    expect(back).toMatchObject({ data: { changed: true } });
    expect(existsSync(scriptPath('hourly'))).toBe(false);
    expect(readFileSync(join(dir, 'osapi-backup'), 'utf8')).toBe(
      `${header('other')}@reboot nobody echo other\n`,
    );
  });

  it('an entry in two places (a move cut short) is whole again after update or delete', async () => {
    await run('cron.create', create());
    writeFileSync(scriptPath('daily'), script('backup', 'daily', 'echo left'));
    const got = await run('cron.get', { name: 'backup' });
    expect(got.data).toMatchObject({ source: join(dir, 'osapi-backup') });
    const upd = await run('cron.update', { name: 'backup', schedule: '30 2 * * *' });
    expect(upd).toMatchObject({ data: { changed: true } });
    expect(existsSync(scriptPath('daily'))).toBe(false);
    writeFileSync(scriptPath('daily'), script('backup', 'daily', 'echo left'));
    expect(await run('cron.delete', { name: 'backup' })).toMatchObject({ data: { changed: true } });
    expect(existsSync(scriptPath('daily'))).toBe(false);
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
  });

  it('an entry made as an @daily line before scripts is listed with its interval, and update makes it a script', async () => {
    writeFileSync(join(dir, 'osapi-old'), `${header('backup', 'daily')}@daily root echo old\n`);
    const list = await run('cron.list', {});
    expect(list.data).toMatchObject({ entries: [{ name: 'old', interval: 'daily' }] });
    const upd = await run('cron.update', { name: 'old', ...obj('other') });
    expect(upd).toMatchObject({ data: { changed: true } });
    expect(existsSync(join(dir, 'osapi-old'))).toBe(false);
    expect(readFileSync(scriptPath('daily', 'old'), 'utf8')).toBe(
      script('other', 'daily', 'echo other'),
    );
  });

  it('list shows only marked osapi- files; get and delete refuse a file this system did not write', async () => {
    await run('cron.create', create());
    await run('cron.create', create({ name: 'b2', ...obj('other'), schedule: '@reboot' }));
    writeFileSync(join(dir, 'osapi-byhand'), '* * * * * root echo mine\n');
    writeFileSync(join(dir, 'e2scrub_all'), `${header('x')}* * * * * root echo\n`);
    symlinkSync(join(dir, 'osapi-backup'), join(dir, 'osapi-link'));
    const list = await run('cron.list', {});
    expect(list.status).toBe('completed');
    const entries = (list.data as { entries: Array<{ name: string }> }).entries;
    expect(entries.map((e) => e.name)).toEqual(['b2', 'backup']);
    for (const type of ['cron.get', 'cron.delete']) {
      const out = await run(type, { name: 'byhand' });
      expect(out).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/not written by this system/),
      });
    }
    expect(readFileSync(join(dir, 'osapi-byhand'), 'utf8')).toBe('* * * * * root echo mine\n');
    const link = await run('cron.update', { name: 'link', schedule: '@daily' });
    expect(link).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not written by this system/),
    });
    expect(await run('cron.get', { name: 'nope' })).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no cron entry named nope/),
    });
  });

  it('update changes only what it is given; the same update again changes nothing', async () => {
    await run('cron.create', create());
    const path = join(dir, 'osapi-backup');
    const out = await run('cron.update', { name: 'backup', schedule: '*/10 * * * *' });
    expect(out).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(readFileSync(path, 'utf8')).toBe(
      `${header('backup')}*/10 * * * * root /usr/local/bin/backup --quiet\n`,
    );
    const again = await run('cron.update', { name: 'backup', schedule: '*/10 * * * *' });
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });
    await run('cron.update', { name: 'backup', ...obj('other'), schedule: '@daily' });
    expect(readFileSync(path, 'utf8')).toBe(`${header('other')}@daily root echo other\n`);
    const missing = await run('cron.update', { name: 'gone', schedule: '@daily' });
    expect(missing).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/cron\.create writes one/),
    });
  });

  it('renders a template with the request’s vars and the host', async () => {
    await run(
      'cron.create',
      create({ ...obj('tmpl'), content_type: 'template', vars: { greeting: 'hi' } }),
    );
    expect(readFileSync(join(dir, 'osapi-backup'), 'utf8')).toBe(
      `${header('tmpl')}30 2 * * * root echo hi from h-01\n`,
    );
  });

  it('refuses a command that is not one line, an unknown user, and leaves nothing behind', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [obj('two'), /more than one line/],
      [obj('nul'), /NUL bytes/],
      [obj('empty'), /it is empty/],
      [{ object: 'backup', object_sha256: sha256('changed') }, /changed since the job was made/],
      [{ user: 'osapitest-nobody' }, /user osapitest-nobody does not exist/],
      [{ ...obj('tmpl'), content_type: 'template' }, /greeting/],
    ];
    for (const [extra, error] of cases) {
      const out = await run('cron.create', create(extra));
      expect(out, String(error)).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(error),
      });
    }
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
  });

  it('delete removes the entry; a second delete changes nothing', async () => {
    await run('cron.create', create());
    expect(await run('cron.delete', { name: 'backup' })).toMatchObject({ data: { changed: true } });
    expect(existsSync(join(dir, 'osapi-backup'))).toBe(false);
    expect(await run('cron.delete', { name: 'backup' })).toMatchObject({
      data: { changed: false },
    });
  });

  it('a host without the cron directory is skipped, saying so', async () => {
    const out = await run('cron.list', {}, ctx(join(dir, 'absent')));
    expect(out).toMatchObject({
      state: 'skipped',
      error: expect.stringMatching(/no cron directory/),
    });
  });

  it('reads back what it wrote', () => {
    expect(parseEntry(`${header('o')}@reboot nobody a b  c\n`)).toEqual({
      object: 'o',
      schedule: '@reboot',
      user: 'nobody',
      command: 'a b  c',
    });
    expect(parseEntry('* * * * * root x\n')).toBeNull();
    expect(parseScript(script('o', 'daily', 'a  b'), 'daily')).toEqual({
      object: 'o',
      schedule: '@daily',
      interval: 'daily',
      user: 'root',
      command: 'a  b',
    });
    expect(parseScript('#!/bin/sh\necho mine\n', 'daily')).toBeNull();
    expect(parseScript(`${script('o', 'daily', 'a')}echo added\n`, 'daily')).toBeNull();
  });
});

describe.skipIf(!existsSync('/etc/cron.d'))('cron entries in this machine’s /etc/cron.d', () => {
  it('creates, reads and removes a throwaway entry', async () => {
    const name = `osapitest-${randomBytes(4).toString('hex')}`;
    const path = join('/etc/cron.d', `osapi-${name}`);
    const real = ctx('/etc/cron.d');
    try {
      const out = await run(
        'cron.create',
        { name, ...obj('other'), schedule: '@yearly', user: 'nobody' },
        real,
      );
      expect(out).toMatchObject({ status: 'completed', data: { changed: true } });
      expect(readFileSync(path, 'utf8')).toBe(`${header('other')}@yearly nobody echo other\n`);
      const list = await run('cron.list', {}, real);
      expect(
        (list.data as { entries: Array<{ name: string }> }).entries.map((e) => e.name),
      ).toContain(name);
      expect(await run('cron.delete', { name }, real)).toMatchObject({ data: { changed: true } });
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
