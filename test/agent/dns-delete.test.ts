// network.dns.delete on the agent alone: the resolver file in a temp dir gets
// back, byte for byte, what it held before network.dns.update first changed
// it (kept in a temp state dir); the systemd-resolved path is taken with a
// recording stand-in for resolvectl, so no test changes this host's DNS.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDnsDeleteHandler } from '../../src/agent/handlers/dns-delete.js';
import { type DnsUpdateDeps, makeDnsUpdateHandler } from '../../src/agent/handlers/dns-update.js';
import type { HandlerContext } from '../../src/agent/handlers/index.js';
import { operationCategory } from '../../src/contract/operations.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

const root = mkdtempSync(join(tmpdir(), 'osapitest-dns-delete-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory holding resolv.conf with `text`, and a state dir. */
function setup(text: string): { path: string; stateDir: string } {
  const dir = join(root, `d${n++}`);
  mkdirSync(join(dir, 'state'), { recursive: true });
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, text);
  return { path, stateDir: join(dir, 'state') };
}

const ctx = (resolvConfPath: string, stateDir?: string): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024,
  signal: new AbortController().signal,
  resolvConfPath,
  host: { unitDir: '/nonexistent', ...(stateDir ? { stateDir } : {}) },
});

const ORIGINAL = '# written by hand\noptions edns0\nnameserver 192.0.2.1\nsearch old.example\n';

function deps(resolved: boolean, calls: string[][] = []): DnsUpdateDeps {
  const links = new Map<string, string[]>([
    ['dns', ['192.0.2.1']],
    ['domain', ['old.example']],
  ]);
  return {
    resolvedRuns: async () => resolved,
    resolvectl: async (args) => {
      calls.push(args);
      const [verb, , ...values] = args;
      if (verb === 'revert') return { ok: true, words: [] };
      if (values.length > 0) links.set(verb as string, values);
      return { ok: true, words: links.get(verb as string) ?? [] };
    },
    interfaceProblem: async (name) => (name === 'lo' ? null : `unknown interface "${name}"`),
  };
}

describe('the job', () => {
  it('is a change; its interface is checked as the update checks it', () => {
    expect(operationCategory('network.dns.delete')).toBe('modify');
    expect(operationDataProblems('network.dns.delete', { interface_name: 'eth0' })).toEqual([]);
    for (const bad of ['-eth0', 'eth 0', '']) {
      expect(
        operationDataProblems('network.dns.delete', { interface_name: bad }).map((p) => p.field),
      ).toEqual(['interface_name']);
    }
  });
});

describe('the resolver file', () => {
  const update = makeDnsUpdateHandler(deps(false));
  const remove = makeDnsDeleteHandler(deps(false));

  it('gets back what it held before the first change, after two changes; then nothing is left to remove', async () => {
    const { path, stateDir } = setup(ORIGINAL);
    const c = ctx(path, stateDir);
    await update({ servers: ['198.51.100.1'], interface_name: 'lo' }, c);
    await update({ servers: ['198.51.100.2'], search_domains: [], interface_name: 'lo' }, c);
    expect(readFileSync(path, 'utf8')).toBe(
      '# written by hand\noptions edns0\nnameserver 198.51.100.2\n',
    );
    const out = await remove({ interface_name: 'lo' }, c);
    expect(out).toEqual({ status: 'completed', data: { changed: true, source: path } });
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
    expect(readdirSync(join(stateDir, 'dns-originals'))).toEqual([]);
    const again = await remove({ interface_name: 'lo' }, c);
    expect(again).toEqual({ status: 'completed', data: { changed: false, source: path } });
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
  });

  it('a file this system never changed is left as it is: changed false', async () => {
    const { path, stateDir } = setup(ORIGINAL);
    const out = await remove({ interface_name: 'lo' }, ctx(path, stateDir));
    expect(out).toEqual({ status: 'completed', data: { changed: false, source: path } });
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
  });

  it('an update that changes nothing keeps nothing', async () => {
    const { path, stateDir } = setup(ORIGINAL);
    const out = await update({ servers: ['192.0.2.1'], interface_name: 'lo' }, ctx(path, stateDir));
    expect(out.data).toEqual({ changed: false, source: path });
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('without a state directory the removal fails saying why, touching nothing', async () => {
    const { path } = setup(ORIGINAL);
    const out = await remove({ interface_name: 'lo' }, ctx(path));
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/no state directory/);
  });

  it('an unknown interface fails naming it', async () => {
    const { path, stateDir } = setup(ORIGINAL);
    const out = await remove({ interface_name: 'eth9' }, ctx(path, stateDir));
    expect(out).toMatchObject({ status: 'failed', error: 'unknown interface "eth9"' });
  });
});

describe('systemd-resolved', () => {
  it('reverts the interface this system set, once; the file is not touched', async () => {
    const calls: string[][] = [];
    const d = deps(true, calls);
    const { path, stateDir } = setup(ORIGINAL);
    const c = ctx(path, stateDir);
    const set = await makeDnsUpdateHandler(d)(
      { servers: ['198.51.100.9'], interface_name: 'lo' },
      c,
    );
    expect(set.data).toEqual({ changed: true, source: 'systemd-resolved' });
    calls.length = 0;
    const remove = makeDnsDeleteHandler(d);
    const out = await remove({ interface_name: 'lo' }, c);
    expect(out).toEqual({
      status: 'completed',
      data: { changed: true, source: 'systemd-resolved' },
    });
    expect(calls).toEqual([['revert', 'lo']]);
    const again = await remove({ interface_name: 'lo' }, c);
    expect(again.data).toEqual({ changed: false, source: path });
    expect(calls).toEqual([['revert', 'lo']]);
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
  });
});
