// The CA certificate handlers: PEM checks on certificates and keys openssl
// makes here; create, update and delete in a temp directory with a stand-in
// update-ca-certificates that records its runs (and one that fails, to see
// the file put back); and once in this machine's real trust store with
// its real update-ca-certificates, a throwaway name removed in `finally`.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { parseCaPem } from '../../src/job/object-checks.js';
import { makeCert as makeCertIn } from '../support/certificates.js';
import { holdMachineLock } from '../support/machine-lock.js';

const tmp = mkdtempSync(join(tmpdir(), 'osapi-certs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const makeCert = (cn: string, ca = true) => makeCertIn(tmp, cn, ca);

const objects = new Map<string, Uint8Array>();
function store(name: string, text: string): { object: string; object_sha256: string } {
  const bytes = Buffer.from(text);
  objects.set(name, bytes);
  return { object: name, object_sha256: createHash('sha256').update(bytes).digest('hex') };
}

function standIn(exitCode: number): { tool: string; runs: () => number; log: string } {
  const dir = mkdtempSync(join(tmp, 'tool-'));
  const log = join(dir, 'runs');
  const tool = join(dir, 'update-ca-certificates');
  writeFileSync(tool, `#!/bin/sh\necho "run $*" >> '${log}'\nexit ${exitCode}\n`);
  chmodSync(tool, 0o755);
  return {
    tool,
    log,
    runs: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').length - 1 : 0),
  };
}

function ctxFor(certificateDir: string, tool: string): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024 * 1024,
    signal: new AbortController().signal,
    host: { unitDir: tmp, certificateDir, updateCaCertificates: tool },
    objects: {
      read: async (name) => {
        const bytes = objects.get(name);
        if (!bytes) throw new Error(`object ${name} is gone`);
        return bytes;
      },
    },
  };
}

const ca = makeCert('osapitest-root');
const ca2 = makeCert('osapitest-root-2');
const leaf = makeCert('osapitest-leaf', false);

describe('PEM checks', () => {
  it('takes CA certificates, one or several', () => {
    const one = parseCaPem('x', Buffer.from(ca.cert));
    expect('certificates' in one && one.certificates).toHaveLength(1);
    const two = parseCaPem('x', Buffer.from(ca.cert + ca2.cert));
    expect('certificates' in two && two.certificates).toHaveLength(2);
  });

  it.each([
    ['a private key beside the certificate', () => ca.cert + ca.key, /holds a private key/],
    ['a private key alone', () => ca.key, /holds a private key/],
    ['a certificate that is not a CA', () => leaf.cert, /is not a CA certificate/],
    ['no PEM at all', () => 'hello', /holds no PEM certificate/],
    ['text besides the certificate', () => `${ca.cert}rm -rf /\n`, /text besides/],
    [
      'a public key block',
      () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      /"PUBLIC KEY" block/,
    ],
    [
      'a damaged certificate',
      () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /cannot be read/,
    ],
  ])('refuses %s', (_what, text, problem) => {
    const out = parseCaPem('object x', Buffer.from(text()));
    expect('problem' in out && out.problem).toMatch(problem);
  });
});

describe('in a temp directory with a stand-in tool', () => {
  it('creates, says changed:false again, updates, lists and deletes, running the tool per change', async () => {
    const dir = mkdtempSync(join(tmp, 'store-'));
    const t = standIn(0);
    const ctx = ctxFor(dir, t.tool);
    const first = store('root.pem', ca.cert);
    const created = await runJob('certificate.ca.create', { name: 'corp', ...first }, ctx);
    expect(created).toMatchObject({ status: 'completed', data: { name: 'corp', changed: true } });
    expect(readFileSync(join(dir, 'osapi-corp.crt'), 'utf8')).toBe(ca.cert);
    expect(t.runs()).toBe(1);

    const again = await runJob('certificate.ca.create', { name: 'corp', ...first }, ctx);
    expect(again.data).toEqual({ name: 'corp', changed: false });
    expect(t.runs()).toBe(1);

    const other = store('root2.pem', ca2.cert);
    const clash = await runJob('certificate.ca.create', { name: 'corp', ...other }, ctx);
    expect(clash).toMatchObject({ status: 'failed', error: expect.stringMatching(/update/) });

    const updated = await runJob('certificate.ca.update', { name: 'corp', ...other }, ctx);
    expect(updated.data).toEqual({ name: 'corp', changed: true });
    expect(readFileSync(join(dir, 'osapi-corp.crt'), 'utf8')).toBe(ca2.cert);
    expect(t.runs()).toBe(2);

    writeFileSync(join(dir, 'someone-else.crt'), ca.cert);
    const list = await runJob('certificate.ca.list', {}, ctx);
    const certs = (list.data as { certificates: Record<string, unknown>[] }).certificates;
    const custom = certs.filter((c) => c.source === 'custom');
    expect(custom).toEqual([
      {
        name: 'corp',
        source: 'custom',
        subject: 'CN=osapitest-root-2',
        issuer: 'CN=osapitest-root-2',
        not_after: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        fingerprint: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
        certificates: 1,
      },
    ]);

    const deleted = await runJob('certificate.ca.delete', { name: 'corp' }, ctx);
    expect(deleted.data).toEqual({ name: 'corp', changed: true });
    expect(existsSync(join(dir, 'osapi-corp.crt'))).toBe(false);
    expect(existsSync(join(dir, 'someone-else.crt'))).toBe(true);
    const gone = await runJob('certificate.ca.delete', { name: 'corp' }, ctx);
    expect(gone.data).toEqual({ name: 'corp', changed: false });
    expect(t.runs()).toBe(3);
    expect(readFileSync(t.log, 'utf8')).toBe('run --fresh\n'.repeat(3));

    const missing = await runJob('certificate.ca.update', { name: 'nope', ...other }, ctx);
    expect(missing).toMatchObject({ status: 'failed', error: expect.stringMatching(/create/) });
  });

  it('refuses a private key or a leaf without writing or running anything', async () => {
    const dir = mkdtempSync(join(tmp, 'store-'));
    const t = standIn(0);
    const ctx = ctxFor(dir, t.tool);
    for (const text of [ca.cert + ca.key, leaf.cert]) {
      const out = await runJob(
        'certificate.ca.create',
        { name: 'bad', ...store('bad.pem', text) },
        ctx,
      );
      expect(out.status).toBe('failed');
    }
    expect(existsSync(join(dir, 'osapi-bad.crt'))).toBe(false);
    expect(t.runs()).toBe(0);
  });

  it('puts the old file back when the tool fails', async () => {
    const dir = mkdtempSync(join(tmp, 'store-'));
    const ok = standIn(0);
    await runJob(
      'certificate.ca.create',
      { name: 'corp', ...store('a.pem', ca.cert) },
      ctxFor(dir, ok.tool),
    );
    const failing = standIn(3);
    const ctx = ctxFor(dir, failing.tool);
    const out = await runJob(
      'certificate.ca.update',
      { name: 'corp', ...store('b.pem', ca2.cert) },
      ctx,
    );
    expect(out).toMatchObject({ status: 'failed' });
    expect(readFileSync(join(dir, 'osapi-corp.crt'), 'utf8')).toBe(ca.cert);
    const created = await runJob(
      'certificate.ca.create',
      { name: 'new', ...store('b.pem', ca2.cert) },
      ctx,
    );
    expect(created.status).toBe('failed');
    expect(existsSync(join(dir, 'osapi-new.crt'))).toBe(false);
  });

  it('a host without the tool answers skipped', async () => {
    const dir = mkdtempSync(join(tmp, 'store-'));
    const out = await runJob(
      'certificate.ca.create',
      { name: 'corp', ...store('a.pem', ca.cert) },
      ctxFor(dir, join(tmp, 'no-such-tool')),
    );
    expect(out).toMatchObject({ state: 'skipped', error: expect.stringMatching(/not installed/) });
  });

  it('refuses names that are paths or options', async () => {
    const ctx = ctxFor(tmp, standIn(0).tool);
    for (const name of ['../x', '-x', '.x', 'a/b', '', 'x'.repeat(65)]) {
      const out = await runJob('certificate.ca.delete', { name }, ctx);
      expect(out.error, name).toMatch(/^invalid job data/);
    }
  });
});

const REAL_DIR = '/usr/local/share/ca-certificates';
const REAL_TOOL = '/usr/sbin/update-ca-certificates';
const canUseReal = existsSync(REAL_DIR) && existsSync(REAL_TOOL) && process.getuid?.() === 0;

describe.skipIf(!canUseReal)("this machine's trust store, with its update-ca-certificates", () => {
  it('adds a throwaway CA to /etc/ssl/certs and its bundle, then removes it', async () => {
    const name = `osapitest-${randomBytes(4).toString('hex')}`;
    const file = join(REAL_DIR, `osapi-${name}.crt`);
    const link = `/etc/ssl/certs/osapi-${name}.pem`;
    const own = makeCert(name);
    const ctx = ctxFor(REAL_DIR, REAL_TOOL);
    // Another test run on this machine may be rebuilding the same trust store: its turn first.
    const release = await holdMachineLock('trust-store');
    try {
      const created = await runJob(
        'certificate.ca.create',
        { name, ...store(`${name}.pem`, own.cert) },
        ctx,
      );
      expect(created, JSON.stringify(created)).toMatchObject({ status: 'completed' });
      expect(existsSync(link)).toBe(true);
      const body = own.cert.trim().split('\n').slice(1, -1).join('\n');
      expect(readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')).toContain(body);
      const list = await runJob('certificate.ca.list', {}, ctx);
      const certs = (list.data as { certificates: { name: string; source: string }[] })
        .certificates;
      expect(certs.find((c) => c.name === name)).toMatchObject({ source: 'custom' });
      expect(certs.some((c) => c.source === 'system')).toBe(true);

      const deleted = await runJob('certificate.ca.delete', { name }, ctx);
      expect(deleted.data).toEqual({ name, changed: true });
      // lstat, not exists: a link left dangling counts as left.
      expect(lstatSync(link, { throwIfNoEntry: false })).toBeUndefined();
      expect(readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')).not.toContain(body);
    } finally {
      try {
        if (existsSync(file)) {
          rmSync(file);
          execFileSync(REAL_TOOL, ['--fresh'], { stdio: 'ignore' });
        }
      } finally {
        await release();
      }
    }
  }, 180_000);
});
