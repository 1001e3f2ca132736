// The sysctl handlers for real on files: a temporary directory stands in for
// /proc/sys (its parameter files hold values as the kernel prints them) and
// a temporary file for /etc/sysctl.d/90-osapi.conf, compared byte for byte.
// One real parameter is read from this machine's /proc/sys; none is set.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { SYSCTL_MARKER } from '../../src/agent/handlers/sysctl.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

let root: string;
let proc: string;
let file: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'osapitest-sysctl-'));
  proc = join(root, 'proc-sys');
  file = join(root, 'sysctl.d', '90-osapi.conf');
  mkdirSync(join(root, 'sysctl.d'));
  mkdirSync(join(proc, 'net', 'ipv4'), { recursive: true });
  mkdirSync(join(proc, 'vm'), { recursive: true });
  writeFileSync(join(proc, 'net', 'ipv4', 'ip_forward'), '0\n');
  writeFileSync(join(proc, 'net', 'ipv4', 'ip_local_port_range'), '32768\t60999\n');
  writeFileSync(join(proc, 'vm', 'swappiness'), '60\n');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function ctx(over: Partial<{ file: string; proc: string }> = {}): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: {
      unitDir: '/nonexistent',
      sysctlFile: over.file ?? file,
      sysctlProcDir: over.proc ?? proc,
    },
  };
}
const run = (type: string, data: unknown, c: HandlerContext = ctx()) => runJob(type, data, c);
const HEADER = `${SYSCTL_MARKER}: sysctl.create, sysctl.update and sysctl.delete rewrite this file.\n`;
const live = (key: string) => readFileSync(join(proc, ...key.split('.')), 'utf8');

describe('sysctl keys and values', () => {
  it('refuses keys and values that are not sysctl’s, naming the field', () => {
    for (const key of [
      'ip_forward',
      'net..ipv4',
      'net/ipv4.x',
      '-net.x',
      'Net.ipv4',
      'net.ipv4.',
      '.net.x',
      'net.../x',
    ]) {
      expect(operationDataProblems('sysctl.get', { key })[0], key).toMatchObject({ field: 'key' });
    }
    for (const value of ['', ' 1', '1 ', '1\n2', 'a\u0000', 'é']) {
      expect(
        operationDataProblems('sysctl.create', { key: 'vm.swappiness', value })[0],
        JSON.stringify(value),
      ).toMatchObject({
        field: 'value',
      });
    }
    expect(
      operationDataProblems('sysctl.create', {
        key: 'net.ipv4.conf.eth0-x.rp_filter',
        value: '32768\t60999',
      }),
    ).toEqual([]);
  });
});

describe('sysctl on a stand-in /proc/sys', () => {
  it('create sets the live value and persists it; the same again changes nothing', async () => {
    const out = await run('sysctl.create', { key: 'net.ipv4.ip_forward', value: '1' });
    expect(out).toMatchObject({
      status: 'completed',
      data: { key: 'net.ipv4.ip_forward', changed: true },
    });
    expect(live('net.ipv4.ip_forward')).toBe('1\n');
    expect(readFileSync(file, 'utf8')).toBe(`${HEADER}net.ipv4.ip_forward = 1\n`);
    const again = await run('sysctl.create', { key: 'net.ipv4.ip_forward', value: '1' });
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });
    await run('sysctl.create', { key: 'vm.swappiness', value: '10' });
    expect(readFileSync(file, 'utf8')).toBe(
      `${HEADER}net.ipv4.ip_forward = 1\nvm.swappiness = 10\n`,
    );
    const clash = await run('sysctl.create', { key: 'vm.swappiness', value: '20' });
    expect(clash).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/sysctl\.update changes it/),
    });
  });

  it('a live value changed by hand is set again by a repeat', async () => {
    await run('sysctl.create', { key: 'vm.swappiness', value: '10' });
    writeFileSync(join(proc, 'vm', 'swappiness'), '60\n');
    const out = await run('sysctl.create', { key: 'vm.swappiness', value: '10' });
    expect(out).toMatchObject({ data: { changed: true } });
    expect(live('vm.swappiness')).toBe('10\n');
  });

  it('get and list show the persisted and the live value', async () => {
    await run('sysctl.create', { key: 'net.ipv4.ip_local_port_range', value: '1024 65000' });
    const got = await run('sysctl.get', { key: 'net.ipv4.ip_local_port_range' });
    expect(got.data).toEqual({
      key: 'net.ipv4.ip_local_port_range',
      value: '1024 65000',
      live: '1024\t65000',
      managed: true,
    });
    const unmanaged = await run('sysctl.get', { key: 'vm.swappiness' });
    expect(unmanaged.data).toEqual({ key: 'vm.swappiness', live: '60', managed: false });
    const list = await run('sysctl.list', {});
    expect(list.data).toEqual({
      entries: [
        {
          key: 'net.ipv4.ip_local_port_range',
          value: '1024 65000',
          live: '1024\t65000',
          managed: true,
        },
      ],
    });
  });

  it('update changes a managed key only; delete stops persisting it and leaves the live value', async () => {
    const none = await run('sysctl.update', { key: 'vm.swappiness', value: '5' });
    expect(none).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/sysctl\.create sets it/),
    });
    expect(live('vm.swappiness')).toBe('60\n');
    await run('sysctl.create', { key: 'vm.swappiness', value: '10' });
    await run('sysctl.create', { key: 'net.ipv4.ip_forward', value: '1' });
    expect(await run('sysctl.update', { key: 'vm.swappiness', value: '5' })).toMatchObject({
      data: { changed: true },
    });
    expect(readFileSync(file, 'utf8')).toBe(
      `${HEADER}vm.swappiness = 5\nnet.ipv4.ip_forward = 1\n`,
    );
    expect(await run('sysctl.delete', { key: 'vm.swappiness' })).toMatchObject({
      data: { changed: true },
    });
    expect(readFileSync(file, 'utf8')).toBe(`${HEADER}net.ipv4.ip_forward = 1\n`);
    expect(live('vm.swappiness')).toBe('5\n');
    expect(await run('sysctl.delete', { key: 'vm.swappiness' })).toMatchObject({
      data: { changed: false },
    });
    await run('sysctl.delete', { key: 'net.ipv4.ip_forward' });
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a key the host does not have, and a file it did not write; changes nothing', async () => {
    const out = await run('sysctl.create', { key: 'net.ipv4.osapitest_none', value: '1' });
    expect(out).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not a parameter on this host/),
    });
    expect(existsSync(file)).toBe(false);
    writeFileSync(file, 'vm.swappiness = 1\n');
    const notOurs = await run('sysctl.create', { key: 'vm.swappiness', value: '10' });
    expect(notOurs).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not written by this system/),
    });
    expect(readFileSync(file, 'utf8')).toBe('vm.swappiness = 1\n');
    expect(live('vm.swappiness')).toBe('60\n');
  });

  it('a file that cannot be written puts the live value back', async () => {
    // Root writes anywhere: a missing directory stands in for a file it cannot write.
    const out = await run(
      'sysctl.create',
      { key: 'vm.swappiness', value: '10' },
      ctx({ file: join(root, 'absent', 'x.conf') }),
    );
    expect(out).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/was put back to 60, so nothing changed/),
    });
    expect(live('vm.swappiness')).toBe('60\n');
  });

  it('a host without proc_dir is skipped', async () => {
    const out = await run('sysctl.list', {}, ctx({ proc: join(root, 'absent') }));
    expect(out).toMatchObject({ state: 'skipped', error: expect.stringMatching(/no .*absent/) });
  });
});

describe('sysctl on this machine', () => {
  it('reads one real parameter from /proc/sys', async () => {
    const out = await run('sysctl.get', { key: 'kernel.ostype' }, ctx({ proc: '/proc/sys' }));
    expect(out.data).toEqual({ key: 'kernel.ostype', live: 'Linux', managed: false });
  });
});
