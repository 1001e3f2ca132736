// network.dns.update on the agent alone: the resolv.conf rewrite, the atomic
// replacement of a file in a temp dir (previous file kept, no temp left, a
// failed write leaves the file as it was), and the systemd-resolved path with
// a fake resolvectl, so no test needs systemd or changes this host's DNS.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DnsUpdateDeps, makeDnsUpdateHandler } from '../../src/agent/handlers/dns-update.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { PREVIOUS_SUFFIX, rewriteResolvConf } from '../../src/agent/handlers/resolv-conf.js';
import { operationCategory } from '../../src/contract/operations.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

const root = mkdtempSync(join(tmpdir(), 'osapi-dns-update-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory holding resolv.conf with `text`. */
function resolvConf(text: string): { dir: string; path: string } {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, text);
  return { dir, path };
}

const ctx = (resolvConfPath?: string): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024,
  signal: new AbortController().signal,
  ...(resolvConfPath ? { resolvConfPath } : {}),
});

/** The file path only, whatever this machine runs: detection says no systemd-resolved. */
const fileOnly = makeDnsUpdateHandler({
  resolvedRuns: async () => false,
  resolvectl: async () => {
    throw new Error('resolvectl must not run on the file path');
  },
  interfaceProblem: async (name) => (name === 'lo' ? null : `unknown interface "${name}"`),
});

const ORIGINAL = `# written by hand
options edns0 trust-ad
domain old.example
nameserver 192.0.2.1
; a comment between
nameserver 192.0.2.2
options timeout:2
`;

describe('the job', () => {
  it('travels on jobs.modify, as commands do, unlike the DNS read', () => {
    expect(operationCategory('network.dns.update')).toBe('modify');
    expect(operationCategory('network.dns.get')).toBe('query');
  });

  it('names each bad field, items as servers[i]', () => {
    const fields = (data: unknown) =>
      operationDataProblems('network.dns.update', data).map((p) => p.field);
    expect(fields({ servers: ['192.0.2.1'], interface_name: 'eth0' })).toEqual([]);
    expect(fields({ search_domains: [], interface_name: 'eth0' })).toEqual([]);
    expect(fields({ servers: ['192.0.2.1', 'dns.example'], interface_name: 'eth0' })).toEqual([
      'servers[1]',
    ]);
    expect(fields({ servers: [7], interface_name: 'eth0' })).toEqual(['servers[0]']);
    expect(
      fields({ search_domains: ['ok.example', '-bad', 'a..b'], interface_name: 'e0' }),
    ).toEqual(['search_domains[1]', 'search_domains[2]']);
    expect(fields({ servers: ['192.0.2.1', '192.0.2.1'], interface_name: 'e0' })).toEqual([
      'servers[1]',
    ]);
    expect(fields({ interface_name: 'eth0' })).toEqual(['servers', 'search_domains']);
    expect(fields({ servers: ['192.0.2.1'], interface_name: 'eth-0' })).toEqual(['interface_name']);
    expect(fields({ servers: [], interface_name: 'eth0' })).toEqual(['servers']);
  });

  it('the agent refuses bad data too, without touching anything', async () => {
    const { path } = resolvConf(ORIGINAL);
    const out = await runJob(
      'network.dns.update',
      { servers: ['not-an-ip'], interface_name: 'lo' },
      ctx(path),
    );
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/^invalid job data: servers\[0\] must be an IPv4 or IPv6 address/);
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
  });
});

describe('rewriteResolvConf', () => {
  it('puts the servers where the first nameserver was and keeps every other line', () => {
    expect(rewriteResolvConf(ORIGINAL, { servers: ['198.51.100.1', '2001:db8::53'] })).toBe(
      `# written by hand
options edns0 trust-ad
domain old.example
nameserver 198.51.100.1
nameserver 2001:db8::53
; a comment between
options timeout:2
`,
    );
  });

  it('one search line replaces search and domain lines; [] removes them', () => {
    const text = 'search a.example\nnameserver 192.0.2.1\ndomain b.example\n';
    expect(rewriteResolvConf(text, { search_domains: ['c.example', 'd.example'] })).toBe(
      'search c.example d.example\nnameserver 192.0.2.1\n',
    );
    expect(rewriteResolvConf(text, { search_domains: [] })).toBe('nameserver 192.0.2.1\n');
  });

  it('adds what the file lacks: search before the first nameserver, servers at the end', () => {
    expect(
      rewriteResolvConf('# empty\nnameserver 192.0.2.1', { search_domains: ['x.example'] }),
    ).toBe('# empty\nsearch x.example\nnameserver 192.0.2.1\n');
    expect(
      rewriteResolvConf('options ndots:2\n', {
        servers: ['192.0.2.9'],
        search_domains: ['x.example'],
      }),
    ).toBe('options ndots:2\nsearch x.example\nnameserver 192.0.2.9\n');
    expect(rewriteResolvConf('', { servers: ['192.0.2.9'] })).toBe('nameserver 192.0.2.9\n');
  });
});

describe('on a resolv.conf file', () => {
  it('writes the new file, keeps the previous one, leaves no temp file; a repeat changes nothing', async () => {
    const { dir, path } = resolvConf(ORIGINAL);
    chmodSync(path, 0o640);
    const data = {
      servers: ['198.51.100.1', '2001:db8::53'],
      search_domains: ['corp.example', 'example.org'],
      interface_name: 'lo',
    };
    const out = await fileOnly(data, ctx(path));
    expect(out).toEqual({ status: 'completed', data: { changed: true, source: path } });
    expect(readFileSync(path, 'utf8')).toBe(`# written by hand
options edns0 trust-ad
search corp.example example.org
nameserver 198.51.100.1
nameserver 2001:db8::53
; a comment between
options timeout:2
`);
    expect(readFileSync(`${path}${PREVIOUS_SUFFIX}`, 'utf8')).toBe(ORIGINAL);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['resolv.conf', `resolv.conf${PREVIOUS_SUFFIX}`]);

    const inode = statSync(path).ino;
    const again = await fileOnly(data, ctx(path));
    expect(again).toEqual({ status: 'completed', data: { changed: false, source: path } });
    expect(statSync(path).ino).toBe(inode);
    // Same servers in another case are the same configuration.
    const upper = await fileOnly(
      { servers: ['198.51.100.1', '2001:DB8::53'], interface_name: 'lo' },
      ctx(path),
    );
    expect(upper.data).toEqual({ changed: false, source: path });
  });

  it('changes only the list it is given', async () => {
    const { path } = resolvConf(ORIGINAL);
    const out = await fileOnly(
      { search_domains: ['new.example'], interface_name: 'lo' },
      ctx(path),
    );
    expect(out.data).toEqual({ changed: true, source: path });
    expect(readFileSync(path, 'utf8')).toBe(
      ORIGINAL.replace('domain old.example', 'search new.example'),
    );
  });

  it('replaces the file a symlink points to, and the link stays a link', async () => {
    const { dir, path: target } = resolvConf('nameserver 192.0.2.1\n');
    const link = join(dir, 'link.conf');
    symlinkSync(target, link);
    const out = await fileOnly({ servers: ['192.0.2.7'], interface_name: 'lo' }, ctx(link));
    expect(out.data).toEqual({ changed: true, source: link });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('nameserver 192.0.2.7\n');
    expect(readFileSync(`${target}${PREVIOUS_SUFFIX}`, 'utf8')).toBe('nameserver 192.0.2.1\n');
  });

  it('a write that fails leaves the file as it was and no temp file behind', async () => {
    const { dir, path } = resolvConf(ORIGINAL);
    // The previous-file copy cannot be renamed over a non-empty directory.
    mkdirSync(`${path}${PREVIOUS_SUFFIX}`);
    writeFileSync(join(`${path}${PREVIOUS_SUFFIX}`, 'x'), '');
    const out = await fileOnly({ servers: ['192.0.2.7'], interface_name: 'lo' }, ctx(path));
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(new RegExp(`^cannot write ${path}: `));
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
    expect(readdirSync(dir).sort()).toEqual(['resolv.conf', `resolv.conf${PREVIOUS_SUFFIX}`]);
  });

  it('a missing file and an unknown interface are errors, nothing is created', async () => {
    const { dir } = resolvConf('');
    const missing = join(dir, 'nope');
    const out = await fileOnly({ servers: ['192.0.2.7'], interface_name: 'lo' }, ctx(missing));
    expect(out.status).toBe('failed');
    expect(out.error).toContain(`cannot read ${missing}`);
    const unknown = await fileOnly(
      { servers: ['192.0.2.7'], interface_name: 'eth9' },
      ctx(missing),
    );
    expect(unknown.error).toBe('unknown interface "eth9"');
    expect(readdirSync(dir)).toEqual(['resolv.conf']);
  });

  it('two updates at once both happen, one after the other', async () => {
    const { path } = resolvConf('nameserver 192.0.2.1\n');
    const [a, b] = await Promise.all([
      fileOnly({ servers: ['192.0.2.2'], interface_name: 'lo' }, ctx(path)),
      fileOnly({ search_domains: ['x.example'], interface_name: 'lo' }, ctx(path)),
    ]);
    expect([a.data, b.data]).toEqual([
      { changed: true, source: path },
      { changed: true, source: path },
    ]);
    expect(readFileSync(path, 'utf8')).toBe('search x.example\nnameserver 192.0.2.2\n');
  });
});

describe('through systemd-resolved (a fake resolvectl)', () => {
  /** A resolvectl that keeps one link's settings and records every call. */
  function fakeResolved(failDomainSet = false) {
    const state = { dns: ['192.0.2.1'], domain: ['old.example', '~route.example'] };
    const calls: string[][] = [];
    const deps: DnsUpdateDeps = {
      resolvedRuns: async () => true,
      interfaceProblem: async () => null,
      resolvectl: async (args) => {
        calls.push(args);
        const [verb, , ...values] = args as [keyof typeof state, string, ...string[]];
        if (values.length === 0) return { ok: true, words: [...state[verb]] };
        if (verb === 'domain' && failDomainSet) {
          return { ok: false, error: 'resolvectl domain failed: Access denied' };
        }
        state[verb] = values.filter(Boolean);
        return { ok: true, words: [] };
      },
    };
    return { state, calls, handler: makeDnsUpdateHandler(deps) };
  }

  it('sets servers and search domains, keeps routing domains; a repeat changes nothing', async () => {
    const r = fakeResolved();
    const data = {
      servers: ['198.51.100.1'],
      search_domains: ['corp.example'],
      interface_name: 'eth0',
    };
    const out = await r.handler(data, ctx('/nonexistent/resolv.conf'));
    expect(out).toEqual({
      status: 'completed',
      data: { changed: true, source: 'systemd-resolved' },
    });
    expect(r.calls).toEqual([
      ['dns', 'eth0'],
      ['domain', 'eth0'],
      ['dns', 'eth0', '198.51.100.1'],
      ['domain', 'eth0', 'corp.example', '~route.example'],
    ]);
    expect(r.state).toEqual({ dns: ['198.51.100.1'], domain: ['corp.example', '~route.example'] });
    r.calls.length = 0;
    const again = await r.handler(data, ctx());
    expect(again.data).toEqual({ changed: false, source: 'systemd-resolved' });
    expect(r.calls).toEqual([
      ['dns', 'eth0'],
      ['domain', 'eth0'],
    ]);
  });

  it('clears the search list with one empty argument', async () => {
    const r = fakeResolved();
    r.state.domain = ['old.example'];
    const out = await r.handler({ search_domains: [], interface_name: 'eth0' }, ctx());
    expect(out.data).toEqual({ changed: true, source: 'systemd-resolved' });
    expect(r.calls.at(-1)).toEqual(['domain', 'eth0', '']);
    expect(r.state.domain).toEqual([]);
  });

  it('when the domains cannot be set, the servers are put back: never half a change', async () => {
    const r = fakeResolved(true);
    const out = await r.handler(
      { servers: ['198.51.100.1'], search_domains: ['corp.example'], interface_name: 'eth0' },
      ctx(),
    );
    expect(out.status).toBe('failed');
    expect(out.error).toBe(
      'resolvectl domain failed: Access denied; the servers were set back to what they were, so nothing changed',
    );
    expect(r.state.dns).toEqual(['192.0.2.1']);
    expect(r.calls.at(-1)).toEqual(['dns', 'eth0', '192.0.2.1']);
  });

  it('without resolvectl installed, the file is used', async () => {
    const { path } = resolvConf('nameserver 192.0.2.1\n');
    const handler = makeDnsUpdateHandler({
      resolvedRuns: async () => true,
      interfaceProblem: async () => null,
      resolvectl: async () => null,
    });
    const out = await handler({ servers: ['192.0.2.5'], interface_name: 'eth0' }, ctx(path));
    expect(out.data).toEqual({ changed: true, source: path });
    expect(readFileSync(path, 'utf8')).toBe('nameserver 192.0.2.5\n');
  });
});
