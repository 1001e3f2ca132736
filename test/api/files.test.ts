// The file store (POST/GET/DELETE /file, GET /file/stale) and file
// deployment (POST /node/{target}/file/deploy|undeploy|status) against a
// real nats-server with its users (the agents' NATS user may read objects,
// never write one) and two agents writing real files in a temp dir.
import {
  chmodSync,
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUsers } from '../support/nats-users.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { waitFor } from './helpers.js';

const users = natsUsers();
const A = 'files-a';
const B = 'files-b';
const MAX = 4096;

let sys: TestSystem;
let admin: string;
let reader: string;
const dir = mkdtempSync(join(tmpdir(), 'osapi-files-'));

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const upload = (name: string, content: string | Buffer, extra: object = {}, query = '') =>
  post(sys, `/file${query}`, { name, content: b64(content), ...extra }, admin);
const deploy = (target: string, body: object) =>
  post(sys, `/node/${target}/file/deploy`, body, admin);
const byHost = (body: AnyJson) =>
  Object.fromEntries((body.results as AnyJson[]).map((r) => [r.hostname, r]));

beforeAll(async () => {
  sys = await startTestSystem({
    natsAuth: true,
    overrides: { ...users.overrides, 'api.server.files.max_bytes': MAX },
  });
  await sys.startAgent(A, { group: 'files' });
  await sys.startAgent(B, { group: 'files' });
  await sys.waitForAgents([A, B]);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});

afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the file store', () => {
  it('stores an object once, says when nothing changed, and refuses other content without force', async () => {
    const first = await upload('store-a', 'one\n');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      name: 'store-a',
      size: 4,
      changed: true,
      content_type: 'raw',
    });
    expect(first.body.sha256).toMatch(/^[0-9a-f]{64}$/);

    const again = await upload('store-a', 'one\n');
    expect(again.status).toBe(201);
    expect(again.body.changed).toBe(false);

    const other = await upload('store-a', 'two\n');
    expect(other.status).toBe(409);
    expect(other.body.reason).toBe('object_exists');
    expect((await request(sys, 'GET', '/file/store-a', undefined, admin)).body.sha256).toBe(
      first.body.sha256,
    );

    const forced = await upload('store-a', 'two\n', {}, '?force=true');
    expect(forced.status).toBe(201);
    expect(forced.body.changed).toBe(true);
    expect(forced.body.sha256).not.toBe(first.body.sha256);
  });

  it('takes a multipart form as curl -F sends it, and only on POST /file', async () => {
    const form = (name: string, text: string, type?: string) => {
      const f = new FormData();
      f.set('name', name);
      if (type) f.set('content_type', type);
      f.set('file', new Blob([text]), 'local-name.tmpl');
      return f;
    };
    const send = (path: string, body: FormData | string, headers: Record<string, string> = {}) =>
      fetch(`${sys.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, ...headers },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as AnyJson }));
    const made = await send('/file', form('form-obj', 'hello {{hostname}}\n', 'template'));
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body).toMatchObject({
      name: 'form-obj',
      size: 19,
      content_type: 'template',
      changed: true,
    });
    const json = await upload('form-obj', 'hello {{hostname}}\n', { content_type: 'template' });
    expect(json.body).toMatchObject({ changed: false, sha256: made.body.sha256 });

    expect((await send('/job', form('x', 'y'))).status).toBe(415);
    const broken = await send('/file', '--b\r\nnope', {
      'content-type': 'multipart/form-data; boundary=b',
    });
    expect(broken.status).toBe(400);
    const big = await send('/file', form('form-big', 'a'.repeat(MAX + 1)));
    expect(big.status).toBe(413);
  });

  it('lists, shows and deletes objects; 404 for an unknown one', async () => {
    await upload('store-b', 'bee', { content_type: 'template' });
    const list = await request(sys, 'GET', '/file', undefined, reader);
    expect(list.status).toBe(200);
    const b = list.body.files.find((f: AnyJson) => f.name === 'store-b');
    expect(b).toMatchObject({ size: 3, content_type: 'template', source: 'upload' });
    expect(list.body.total).toBe(list.body.files.length);

    expect((await request(sys, 'GET', '/file/store-b', undefined, reader)).body).toMatchObject({
      name: 'store-b',
      size: 3,
      content_type: 'template',
    });
    expect((await request(sys, 'DELETE', '/file/store-b', undefined, reader)).status).toBe(403);
    const del = await request(sys, 'DELETE', '/file/store-b', undefined, admin);
    expect(del).toMatchObject({ status: 200, body: { name: 'store-b', deleted: true } });
    expect((await request(sys, 'GET', '/file/store-b', undefined, admin)).status).toBe(404);
    expect((await request(sys, 'DELETE', '/file/store-b', undefined, admin)).status).toBe(404);
  });

  it('refuses bad names, reserved names, bad base64 and objects over the limit', async () => {
    for (const name of ['-x', '../etc', 'a/b', '', '.hidden', 'x'.repeat(129)]) {
      const r = await upload(name, 'x');
      expect(r.status, name).toBe(400);
      expect(r.body.fields[0].field).toBe('name');
    }
    const reserved = await upload('osapi.internal', 'x');
    expect(reserved.status).toBe(400);
    expect(reserved.body.error).toMatch(/kept for the system/);
    const bad = await post(sys, '/file', { name: 'ok', content: 'not base64!' }, admin);
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('content');
    const big = await upload('big', Buffer.alloc(MAX + 1, 'a'));
    expect(big.status).toBe(413);
    expect(big.body.reason).toBe('payload_too_large');
    expect((await upload('fits', Buffer.alloc(MAX, 'a'))).status).toBe(201);
    expect((await upload('nope', 'x', { extra: 1 })).status).toBe(400);
    expect((await post(sys, '/file', { name: 'r', content: b64('x') }, reader)).status).toBe(403);
  });
});

describe('deploying files', () => {
  it('writes an object with its mode on every host of a target, then says nothing changed', async () => {
    await upload('conf-raw', 'key = value\n');
    const path = join(dir, 'raw.conf');
    const first = await deploy('group:files', {
      object_name: 'conf-raw',
      path,
      mode: '0640',
      content_type: 'raw',
    });
    expect(first.status).toBe(202);
    const items = byHost(first.body);
    expect(Object.keys(items).sort()).toEqual([A, B]);
    for (const r of Object.values(items) as AnyJson[]) expect(r.status).toBe('ok');
    expect(readFileSync(path, 'utf8')).toBe('key = value\n');
    expect(statSync(path).mode & 0o777).toBe(0o640);

    const again = await deploy(A, {
      object_name: 'conf-raw',
      path,
      mode: '0640',
      content_type: 'raw',
    });
    expect(again.body.results).toEqual([
      expect.objectContaining({ hostname: A, status: 'ok', changed: false }),
    ]);
    // Another mode is a change.
    const vars = await deploy(A, {
      object_name: 'conf-raw',
      path: join(dir, 'v'),
      content_type: 'template',
      vars: { 'a-b': 1 },
    });
    expect(vars.status).toBe(400);
    expect(vars.body.fields[0].field).toMatch(/^vars/);
    const mode = await deploy(A, {
      object_name: 'conf-raw',
      path,
      mode: '0600',
      content_type: 'raw',
    });
    expect(mode.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('renders a template with the hostname, vars and facts, and fails a host lacking a variable', async () => {
    await upload('motd', 'host={{hostname}} team={{vars.team}} arch={{facts.architecture}}\n', {
      content_type: 'template',
    });
    const path = join(dir, `motd-${A}`);
    const r = await deploy(A, {
      object_name: 'motd',
      path,
      content_type: 'template',
      vars: { team: 'web' },
    });
    expect(r.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^host=${A} team=web arch=\\S+\\n$`));

    const missing = join(dir, 'never');
    const bad = await deploy(A, { object_name: 'motd', path: missing, content_type: 'template' });
    expect(bad.body.results[0].status).toBe('failed');
    expect(bad.body.results[0].error).toMatch(/vars\.team/);
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses an unknown object and bad paths, naming the field, before anything runs', async () => {
    const none = await deploy(A, {
      object_name: 'no-such',
      path: join(dir, 'x'),
      content_type: 'raw',
    });
    expect(none.status).toBe(400);
    expect(none.body.fields).toEqual([expect.objectContaining({ field: 'object_name' })]);
    for (const path of ['relative', '/a/../b', '/a//b', '/a/', '/', '/a\nb']) {
      const r = await deploy(A, { object_name: 'conf-raw', path, content_type: 'raw' });
      expect(r.status, JSON.stringify(path)).toBe(400);
      expect(r.body.fields[0].field).toBe('path');
    }
    const mode = await deploy(A, {
      object_name: 'conf-raw',
      path: join(dir, 'm'),
      mode: '999',
      content_type: 'raw',
    });
    expect(mode.status).toBe(400);
    const owner = await deploy(A, {
      object_name: 'conf-raw',
      path: join(dir, 'o'),
      owner: 'root;id',
      content_type: 'raw',
    });
    expect(owner.status).toBe(400);
    expect(
      (
        await post(
          sys,
          `/node/${A}/file/deploy`,
          { object_name: 'conf-raw', path: join(dir, 'r'), content_type: 'raw' },
          reader,
        )
      ).status,
    ).toBe(403);
  });

  it('reports in-sync, drifted, missing and not-deployed, and undeploys only its own files', async () => {
    await upload('status-obj', 'v1\n');
    const path = join(dir, 'status.conf');
    await deploy(A, { object_name: 'status-obj', path, content_type: 'raw' });
    const status = async () =>
      (await post(sys, `/node/${A}/file/status`, { path }, reader)).body.results[0];
    expect(await status()).toMatchObject({ status: 'in-sync', object_name: 'status-obj', path });
    writeFileSync(path, 'edited by hand\n');
    expect(await status()).toMatchObject({ status: 'drifted' });
    rmSync(path);
    expect(await status()).toMatchObject({ status: 'missing', sha256: '' });

    const foreign = join(dir, 'foreign.conf');
    writeFileSync(foreign, 'mine\n');
    const notOurs = await post(sys, `/node/${A}/file/status`, { path: foreign }, reader);
    expect(notOurs.body.results[0]).toMatchObject({ status: 'not-deployed' });
    const refuse = await post(sys, `/node/${A}/file/undeploy`, { path: foreign }, admin);
    expect(refuse.body.results[0]).toMatchObject({ status: 'failed', changed: false });
    expect(readFileSync(foreign, 'utf8')).toBe('mine\n');

    await deploy(A, { object_name: 'status-obj', path, content_type: 'raw' });
    const gone = await post(sys, `/node/${A}/file/undeploy`, { path }, admin);
    expect(gone.status).toBe(202);
    expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(existsSync(path)).toBe(false);
    const twice = await post(sys, `/node/${A}/file/undeploy`, { path }, admin);
    expect(twice.body.results[0]).toMatchObject({ status: 'ok', changed: false });
  });

  it('lists deployments whose object changed or was deleted as stale', async () => {
    await upload('stale-obj', 'first\n');
    const path = join(dir, 'stale.conf');
    await deploy(B, { object_name: 'stale-obj', path, content_type: 'raw' });
    const stale = async () =>
      (
        (await request(sys, 'GET', '/file/stale', undefined, reader)).body.stale as AnyJson[]
      ).filter((s) => s.object_name === 'stale-obj');
    expect(await stale()).toEqual([]);
    const next = await upload('stale-obj', 'second\n', {}, '?force=true');
    expect(await stale()).toEqual([
      expect.objectContaining({
        hostname: B,
        path,
        provider: 'file',
        current_sha: next.body.sha256,
      }),
    ]);
    await request(sys, 'DELETE', '/file/stale-obj', undefined, admin);
    expect((await stale())[0]?.current_sha).toBe('');
  });

  it('POST /job deploys as the route does: the digest looked up, an unknown object named', async () => {
    const path = join(dir, 'by-job.conf');
    const made = await post(
      sys,
      '/job',
      {
        operation: {
          type: 'file.deploy',
          data: { object_name: 'conf-raw', path, content_type: 'raw' },
        },
        target_hostname: A,
      },
      admin,
    );
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await waitFor('the deployment to complete', async () => {
      const j = await request(sys, 'GET', `/job/${made.body.job_id}`, undefined, admin);
      return j.body.status === 'completed' ? j.body : undefined;
    });
    expect(readFileSync(path, 'utf8')).toBe('key = value\n');

    const none = await post(
      sys,
      '/job',
      {
        operation: {
          type: 'file.deploy',
          data: { object_name: 'no-such', path, content_type: 'raw' },
        },
        target_hostname: A,
      },
      admin,
    );
    expect(none.status).toBe(400);
    expect(none.body.fields).toEqual([
      expect.objectContaining({ field: 'operation.data.object_name' }),
    ]);
    const bad = await post(
      sys,
      '/job',
      {
        operation: { type: 'file.deploy', data: { object_name: '-x', path, content_type: 'raw' } },
        target_hostname: A,
      },
      admin,
    );
    expect(bad.body.fields).toEqual([
      {
        field: 'operation.data.object_name',
        message: expect.stringMatching(/^must be 1 to 128 letters/),
      },
    ]);
    // The digest is the API's to set.
    const smuggled = await post(
      sys,
      '/job',
      {
        operation: {
          type: 'file.deploy',
          data: {
            object_name: 'conf-raw',
            path,
            content_type: 'raw',
            object_sha256: 'a'.repeat(64),
          },
        },
        target_hostname: A,
      },
      admin,
    );
    expect(smuggled.status).toBe(400);
  });

  it('puts back what a file held before it was first deployed over, and never removes a file changed since', async () => {
    const path = join(dir, 'had-content.conf');
    writeFileSync(path, 'original\n', { mode: 0o600 });
    await deploy(A, { object_name: 'conf-raw', path, mode: '0644', content_type: 'raw' });
    expect(readFileSync(path, 'utf8')).toBe('key = value\n');
    // Deployed again with other content: what was there first is still what comes back.
    await upload('conf-raw-2', 'second\n');
    await deploy(A, { object_name: 'conf-raw-2', path, content_type: 'raw' });
    const back = await post(sys, `/node/${A}/file/undeploy`, { path }, admin);
    expect(back.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(path, 'utf8')).toBe('original\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const edited = join(dir, 'edited.conf');
    await deploy(A, { object_name: 'conf-raw', path: edited, content_type: 'raw' });
    writeFileSync(edited, 'someone else now\n');
    const kept = await post(sys, `/node/${A}/file/undeploy`, { path: edited }, admin);
    expect(kept.body.results[0]).toMatchObject({ status: 'failed', changed: false });
    expect(kept.body.results[0].error).toMatch(/changed since it was deployed/);
    expect(readFileSync(edited, 'utf8')).toBe('someone else now\n');
  });

  it('follows no symbolic link on the way, and tells nothing of a path it did not deploy', async () => {
    const real = mkdtempSync(join(dir, 'real-'));
    const link = join(dir, 'link-dir');
    symlinkSync(real, link);
    const r = await deploy(A, {
      object_name: 'conf-raw',
      path: join(link, 'x.conf'),
      content_type: 'raw',
    });
    expect(r.body.results[0].status).toBe('failed');
    expect(r.body.results[0].error).toMatch(/is a symbolic link/);
    expect(existsSync(join(real, 'x.conf'))).toBe(false);

    const secret = join(dir, 'secret');
    writeFileSync(secret, 'not yours\n');
    const status = await post(sys, `/node/${A}/file/status`, { path: secret }, reader);
    expect(status.body.results[0]).toMatchObject({ status: 'not-deployed', sha256: '' });
  });

  it('leaves the file as it was when it cannot be written', async () => {
    const locked = mkdtempSync(join(dir, 'locked-'));
    const path = join(locked, 'sub', 'x.conf');
    const r = await deploy(A, { object_name: 'conf-raw', path, content_type: 'raw' });
    expect(r.body.results[0].status).toBe('failed');
    expect(r.body.results[0].error).toMatch(/does not exist/);
    chmodSync(locked, 0o755);
    const status = await post(sys, `/node/${A}/file/status`, { path }, reader);
    expect(status.body.results[0].status).toBe('not-deployed');
  });
});

describe('request data that would stall or crash the API', () => {
  /** `depth` arrays within each other around a 1, as JSON text: too deep to build as an object. */
  const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  beforeAll(async () => {
    await upload('conf-raw', 'key = value\n');
  });

  it('a template variable named password is data like any other: 96 KB of it under an Idempotency-Key makes the job, and a retry gets it back', async () => {
    const body = {
      object_name: 'conf-raw',
      path: join(dir, 'vars-password.conf'),
      content_type: 'raw',
      vars: { password: 'p'.repeat(96 * 1024) },
    };
    const headers = { 'idempotency-key': 'vars-password' };
    const first = await request(sys, 'POST', `/node/${A}/file/deploy`, body, admin, headers);
    expect(first.status, JSON.stringify(first.body).slice(0, 300)).toBe(202);
    expect(first.body.results[0]).toMatchObject({ hostname: A, status: 'ok' });
    const again = await request(sys, 'POST', `/node/${A}/file/deploy`, body, admin, headers);
    expect(again.status).toBe(202);
    expect(again.body.job_id).toBe(first.body.job_id);
  });

  it('data nested deeper than 32 levels is a 400 naming its field, on the route and on POST /job, for any operation', async () => {
    const deep = nested(200_000);
    const route = await request(
      sys,
      'POST',
      `/node/${A}/file/deploy`,
      `{"object_name":"conf-raw","path":"/tmp/x","content_type":"raw","vars":{"v":${deep}}}`,
      admin,
    );
    expect(route.status, JSON.stringify(route.body)).toBe(400);
    expect(route.body.fields).toEqual([
      { field: 'vars', message: expect.stringMatching(/more than 32 levels deep/) },
    ]);
    const job = await request(
      sys,
      'POST',
      '/job',
      `{"operation":{"type":"file.deploy","data":{"object_name":"conf-raw","path":"/tmp/x","content_type":"raw","vars":{"v":${deep}}}},"target_hostname":"${A}"}`,
      admin,
    );
    expect(job.status, JSON.stringify(job.body)).toBe(400);
    expect(job.body.fields).toEqual([
      { field: 'operation.data.vars', message: expect.stringMatching(/32 levels/) },
    ]);
    // Any operation, any field: checked before the data's own schema.
    const other = await request(
      sys,
      'POST',
      '/job',
      `{"operation":{"type":"file.status","data":{"path":"/tmp/x","extra":${deep}}},"target_hostname":"${A}"}`,
      admin,
    );
    expect(other.status, JSON.stringify(other.body)).toBe(400);
    expect(other.body.fields).toEqual([
      { field: 'operation.data.extra', message: expect.stringMatching(/32 levels/) },
    ]);
    // 32 levels, the data's own and vars' included, are taken; 33 are not.
    const at = (levels: number) =>
      deploy(A, {
        object_name: 'conf-raw',
        path: join(dir, 'fits.conf'),
        content_type: 'raw',
        vars: { v: JSON.parse(nested(levels - 2)) },
      });
    const fits = await at(32);
    expect(fits.status, JSON.stringify(fits.body)).toBe(202);
    expect((await at(33)).status).toBe(400);
  });
});
