// The cron handlers for real: entries written to, read from and removed from
// a temporary cron directory given as the agent's setting, byte for byte; one
// entry in this machine's /etc/cron.d under a throwaway name, removed after.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
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
import { CRON_MARKER, parseEntry } from '../../src/agent/handlers/cron.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import type { ObjectReader } from '../../src/agent/handlers/types.js';
import { cronScheduleProblem } from '../../src/contract/cron.js';
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

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-cron-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function ctx(cronDir = dir): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: { unitDir: '/nonexistent', cronDir },
    objects: store(OBJECTS),
  };
}
const run = (type: string, data: unknown, c: HandlerContext = ctx()) => runJob(type, data, c);

const header = (object: string, interval?: string) =>
  `${CRON_MARKER}: cron.update replaces this file, cron.delete removes it. object=${object}${interval ? ` interval=${interval}` : ''}\n`;

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
    expect(operationDataProblems('cron.update', { name: 'x', vars: { a: 1 } })).toEqual([
      { field: 'vars', message: 'needs object: it says how to read the object' },
    ]);
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

  it('an interval is cron’s macro, and is given back as the interval', async () => {
    await run('cron.create', create({ schedule: undefined, interval: 'weekly', user: 'root' }));
    expect(readFileSync(join(dir, 'osapi-backup'), 'utf8')).toBe(
      `${header('backup', 'weekly')}@weekly root /usr/local/bin/backup --quiet\n`,
    );
    const got = await run('cron.get', { name: 'backup' });
    expect(got.data).toEqual({
      entry: {
        name: 'backup',
        object: 'backup',
        schedule: '@weekly',
        interval: 'weekly',
        user: 'root',
        command: '/usr/local/bin/backup --quiet',
        source: join(dir, 'osapi-backup'),
      },
    });
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
    await run('cron.update', { name: 'backup', ...obj('other'), interval: 'daily' });
    expect(readFileSync(path, 'utf8')).toBe(`${header('other', 'daily')}@daily root echo other\n`);
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
