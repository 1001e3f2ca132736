import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { makeCert as makeCertIn } from '../support/certificates.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['ca-01', 'ca-02', 'ca-03'];
const tmp = mkdtempSync(join(tmpdir(), 'osapi-certs-api-'));
const dirs = new Map<string, string>();
const logs = new Map<string, string>();

let sys: TestSystem;
let admin: string;
let writer: string;
let reader: string;

const makeCert = (cn: string, ca = true) => makeCertIn(tmp, cn, ca);

const ca = makeCert('osapitest-api-root');
const ca2 = makeCert('osapitest-api-root-2');
const leaf = makeCert('osapitest-api-leaf', false);

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) {
    const dir = mkdtempSync(join(tmp, `${h}-store-`));
    const log = join(tmp, `${h}-runs`);
    const tool = join(tmp, `${h}-update-ca-certificates`);
    writeFileSync(tool, `#!/bin/sh\necho "run $*" >> '${log}'\n`);
    chmodSync(tool, 0o755);
    dirs.set(h, dir);
    logs.set(h, log);
    await sys.startAgent(
      h,
      { group: 'ca' },
      { certificates: { dir } },
      {
        updateCaCertificates: tool,
      },
    );
  }
  await sys.waitForAgents(HOSTS);
  admin = await sys.token(['admin']);
  writer = await sys.token(['write']);
  reader = await sys.token(['read']);
  for (const [name, text] of [
    ['root.pem', ca.cert],
    ['root2.pem', ca2.cert],
    ['leaf.pem', leaf.cert],
    ['with-key.pem', ca.cert + ca.key],
    ['garbage.pem', 'not a certificate\n'],
    ['broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
    ['extra.pem', `${ca.cert}# a comment\n`],
  ]) {
    const r = await post(
      sys,
      '/file?force=true',
      { name, content: Buffer.from(text as string).toString('base64') },
      admin,
    );
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  }
});
afterAll(async () => {
  await sys?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const runs = (h: string) => {
  const log = logs.get(h) as string;
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').length - 1 : 0;
};
const fileOf = (h: string, name: string) => join(dirs.get(h) as string, `osapi-${name}.crt`);

describe('a CA certificate through the routes', () => {
  it('a broadcast adds it on three agents; again changes nothing; a read token lists it', async () => {
    const made = await post(
      sys,
      '/node/_all/certificate/ca',
      { name: 'corp-root', object: 'root.pem' },
      writer,
    );
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(byHost(made.body.results)).toEqual(
      HOSTS.map((hostname) => ({ hostname, status: 'ok', changed: true, name: 'corp-root' })),
    );
    for (const h of HOSTS) {
      expect(readFileSync(fileOf(h, 'corp-root'), 'utf8')).toBe(ca.cert);
      expect(runs(h)).toBe(1);
    }
    const again = await post(
      sys,
      '/node/_all/certificate/ca',
      { name: 'corp-root', object: 'root.pem' },
      writer,
    );
    expect(again.body.results.map((i: AnyJson) => i.changed)).toEqual([false, false, false]);
    for (const h of HOSTS) expect(runs(h)).toBe(1);

    const list = await request(sys, 'GET', '/node/ca-02/certificate/ca', undefined, reader);
    expect(list.status).toBe(200);
    const [item] = list.body.results;
    expect(item.status).toBe('ok');
    expect(item.certificates.find((c: AnyJson) => c.source === 'custom')).toMatchObject({
      name: 'corp-root',
      subject: 'CN=osapitest-api-root',
      issuer: 'CN=osapitest-api-root',
      certificates: 1,
    });
  });

  it('PUT replaces it from another object, DELETE removes it, the SDK names both', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    await client.certificateCaCreate('ca-01', { name: 'swap', object: 'root.pem' });
    const put = await client.certificateCaUpdate('ca-01', { name: 'swap', object: 'root2.pem' });
    expect(put.status).toBe(200);
    expect(put.body.results[0]).toMatchObject({ status: 'ok', changed: true, name: 'swap' });
    expect(readFileSync(fileOf('ca-01', 'swap'), 'utf8')).toBe(ca2.cert);
    const del = await client.certificateCaDelete('ca-01', { name: 'swap' });
    expect(del.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(fileOf('ca-01', 'swap'))).toBe(false);
    const gone = await client.certificateCaDelete('ca-01', { name: 'swap' });
    expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: false });
  });

  it('refuses an object that is not PEM CA certificates alone: 400 naming object, no job sent', async () => {
    const before = HOSTS.map(runs);
    const cases = [
      ['with-key.pem', /private key/],
      ['leaf.pem', /not a CA certificate/],
      ['garbage.pem', /holds no PEM certificate/],
      ['broken.pem', /certificate 1 of object broken\.pem cannot be read/],
      ['extra.pem', /holds text besides its certificates/],
    ] as const;
    for (const [object, why] of cases) {
      for (const [method, path, body] of [
        ['POST', '/node/_all/certificate/ca', { name: 'bad', object }],
        ['PUT', '/node/_all/certificate/ca/corp-root', { object }],
      ] as const) {
        const r = await request(sys, method, path, body, admin);
        expect(r.status, `${method} ${object} ${JSON.stringify(r.body)}`).toBe(400);
        expect(r.body.fields).toEqual([{ field: 'object', message: expect.stringMatching(why) }]);
        expect(r.body.fields[0].message).toContain(`object ${object}`);
      }
      // POST /job checks the same, naming the field where its body holds it.
      const job = await post(
        sys,
        '/job',
        {
          target_hostname: 'ca-03',
          operation: { type: 'certificate.ca.create', data: { name: 'bad', object } },
        },
        admin,
      );
      expect(job.status, JSON.stringify(job.body)).toBe(400);
      expect(job.body.fields).toEqual([
        { field: 'operation.data.object', message: expect.stringMatching(why) },
      ]);
    }
    for (const h of HOSTS) expect(existsSync(fileOf(h, 'bad'))).toBe(false);
    expect(HOSTS.map(runs)).toEqual(before);
    expect(readFileSync(fileOf('ca-03', 'corp-root'), 'utf8')).toBe(ca.cert);
  });
});

describe('permissions and hostile input', () => {
  it('a read token cannot change the trust store', async () => {
    for (const [method, path, body] of [
      ['POST', '/node/ca-01/certificate/ca', { name: 'x', object: 'root.pem' }],
      ['PUT', '/node/ca-01/certificate/ca/x', { object: 'root.pem' }],
      ['DELETE', '/node/ca-01/certificate/ca/x', undefined],
    ] as const) {
      const r = await request(sys, method, path, body, reader);
      expect(r.status, `${method} ${path}`).toBe(403);
    }
  });

  it.each([
    ['POST', '/node/ca-01/certificate/ca', { name: '../etc', object: 'root.pem' }, 'name'],
    ['POST', '/node/ca-01/certificate/ca', { name: '-x', object: 'root.pem' }, 'name'],
    ['POST', '/node/ca-01/certificate/ca', { name: 'x' }, 'object'],
    ['POST', '/node/ca-01/certificate/ca', { name: 'x', object: 'no-such-object' }, 'object'],
    ['PUT', '/node/ca-01/certificate/ca/.hidden', { object: 'root.pem' }, 'name'],
    ['PUT', `/node/ca-01/certificate/ca/${'x'.repeat(65)}`, { object: 'root.pem' }, 'name'],
    ['DELETE', '/node/ca-01/certificate/ca/a%2Fb', undefined, 'name'],
  ] as const)('%s %s %j: 400 naming %s', async (method, path, body, field) => {
    const r = await request(sys, method, path, body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(JSON.stringify(r.body)).toContain(field);
  });
});
