// The docker routes (docker:read, docker:write, docker:execute) against a real
// nats-server, agents in this process and real Docker daemons: dk-01 and
// dk-02 each have a dockerd of their own (test/support/dockerd.ts: Debian's
// docker.io on a temp socket, an image imported from busybox-static); dk-03's
// socket has no daemon, so it answers skipped. Where dockerd cannot start on
// this machine the tests that need it are skipped with the reason; the 400s,
// 403s and the command policy's refusals need no daemon and always run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishJob, readResponse } from '../../src/job/store.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { type DockerdStart, startTestDockerd, throwawayName } from '../support/dockerd.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { byHost, storeFor, waitFor } from './helpers.js';

const ROLES = {
  // May run commands in containers, but only `echo *`, as a command exec role may.
  'docker-echo': {
    permissions: ['docker:read', 'docker:execute', 'command:execute', 'job:read'],
    commands: { exec: ['echo *'], shell: false },
  },
};

const HOSTS = ['dk-01', 'dk-02'];
let sys: TestSystem;
let admin: string;
let writer: string;
let reader: string;
let daemons: DockerdStart[] = [];
let absentDir: string;
const containers: Array<[string, string]> = [];
let image = '';

const ready = () => daemons.length === 2 && daemons.every((d) => d.ok);
const reason = () =>
  daemons.map((d) => (d.ok ? '' : d.reason)).find(Boolean) ?? 'daemons not started';

beforeAll(async () => {
  absentDir = mkdtempSync(join(tmpdir(), 'osapitest-nodocker-'));
  [sys, ...daemons] = await Promise.all([
    startTestSystem({ overrides: { 'api.server.security.roles': ROLES } }),
    startTestDockerd(),
    startTestDockerd(),
  ]);
  if (!ready()) console.warn(`docker route tests that need a daemon are skipped: ${reason()}`);
  for (const [i, h] of HOSTS.entries()) {
    const d = daemons[i];
    const socket = d?.ok ? d.daemon.socket : join(absentDir, `${h}.sock`);
    await sys.startAgent(h, { group: 'docker' }, { docker: { socket } });
  }
  await sys.startAgent(
    'dk-03',
    { group: 'docker-none' },
    {
      docker: { socket: join(absentDir, 'none.sock') },
    },
  );
  await sys.waitForAgents([...HOSTS, 'dk-03']);
  // Both daemons imported the same root filesystem under their own tag: give dk-02 dk-01's tag too.
  const [one, two] = daemons;
  if (one?.ok && two?.ok) {
    image = one.daemon.image;
    const { engineCall } = await import('../../src/agent/handlers/docker-engine.js');
    const [repo, tag] = image.split(':') as [string, string];
    const tagged = await engineCall(two.daemon.socket, {
      method: 'POST',
      path: `/images/${encodeURIComponent(two.daemon.image)}/tag`,
      query: { repo, tag },
      signal: new AbortController().signal,
      timeoutMs: 10_000,
    });
    if (tagged.status !== 201) throw new Error(`cannot tag the image on dk-02: ${tagged.status}`);
  }
  admin = await sys.token(['admin']);
  writer = await sys.token(['write']);
  reader = await sys.token(['read']);
}, 90_000);

afterAll(async () => {
  try {
    for (const [host, name] of containers) {
      await request(
        sys,
        'DELETE',
        `/node/${host}/container/docker/${name}?force=true`,
        undefined,
        admin,
      );
    }
    await sys?.stop();
  } finally {
    for (const d of daemons) if (d.ok) await d.daemon.stop();
    rmSync(absentDir, { recursive: true, force: true });
  }
}, 90_000);

/** A test that needs both daemons: skipped, with the reason, where they could not start. */
function withDaemons(name: string, fn: () => Promise<void>, timeout = 60_000) {
  it(
    name,
    async (t) => {
      if (!ready()) t.skip(`no dockerd here: ${reason()}`);
      await fn();
    },
    timeout,
  );
}

describe('docker through the routes', () => {
  withDaemons(
    'creates a container on two hosts at once; the same again changes nothing',
    async () => {
      const name = throwawayName();
      for (const h of HOSTS) containers.push([h, name]);
      const body = { image, name, command: ['sleep', '600'], env: ['A=1'] };
      const r = await post(sys, '/node/group:docker/container/docker', body, admin);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(byHost(r.body.results)).toEqual(
        HOSTS.map((hostname) => ({
          hostname,
          status: 'ok',
          id: expect.stringMatching(/^[0-9a-f]{64}$/),
          name,
          image,
          state: 'running',
          created: expect.any(String),
          changed: true,
        })),
      );
      const again = await post(sys, '/node/group:docker/container/docker', body, admin);
      expect(again.body.results.map((x: AnyJson) => x.changed)).toEqual([false, false]);

      // Listed on both with a read token; dk-03 has no daemon: skipped, saying so.
      const list = await request(
        sys,
        'GET',
        '/node/_all/container/docker?state=running',
        undefined,
        reader,
      );
      expect(list.status).toBe(200);
      const items = byHost(list.body.results);
      for (const item of items.filter((x: AnyJson) => HOSTS.includes(x.hostname))) {
        expect(item.status).toBe('ok');
        expect(item.containers.map((c: AnyJson) => c.name)).toContain(name);
      }
      const none = items.find((x: AnyJson) => x.hostname === 'dk-03');
      expect(none).toMatchObject({
        status: 'skipped',
        error: expect.stringMatching(/no Docker daemon answers/),
      });

      const got = await request(
        sys,
        'GET',
        `/node/dk-01/container/docker/${name}`,
        undefined,
        reader,
      );
      expect(got.body.results[0]).toMatchObject({
        hostname: 'dk-01',
        status: 'ok',
        name,
        state: 'running',
        env: expect.arrayContaining(['A=1']),
        command: ['sleep', '600'],
      });
    },
  );

  withDaemons('stops with a timeout, starts, execs and removes through the routes', async () => {
    const name = throwawayName();
    containers.push(['dk-01', name]);
    await post(
      sys,
      '/node/dk-01/container/docker',
      { image, name, command: ['sleep', '600'] },
      admin,
    );
    const stop = await post(
      sys,
      `/node/dk-01/container/docker/${name}/stop`,
      { timeout: 1 },
      writer,
    );
    expect(stop.body.results).toEqual([
      { hostname: 'dk-01', status: 'ok', id: name, message: 'stopped', changed: true },
    ]);
    const stopAgain = await post(sys, `/node/dk-01/container/docker/${name}/stop`, {}, writer);
    expect(stopAgain.body.results[0]).toMatchObject({ status: 'ok', changed: false });
    const start = await post(sys, `/node/dk-01/container/docker/${name}/start`, {}, writer);
    expect(start.body.results[0]).toMatchObject({ status: 'ok', changed: true });

    const exec = await post(
      sys,
      `/node/dk-01/container/docker/${name}/exec`,
      {
        command: ['sh', '-c', 'echo "$X in $(pwd)"; exit 2'],
        env: ['X=hello'],
        working_dir: '/bin',
      },
      admin,
    );
    expect(exec.status).toBe(202);
    expect(exec.body.results).toEqual([
      {
        hostname: 'dk-01',
        status: 'ok',
        stdout: 'hello in /bin\n',
        stderr: '',
        exit_code: 2,
        stdout_truncated: false,
        stderr_truncated: false,
        changed: true,
      },
    ]);

    const removeRunning = await request(
      sys,
      'DELETE',
      `/node/dk-01/container/docker/${name}`,
      undefined,
      writer,
    );
    expect(removeRunning.body.results[0]).toMatchObject({ status: 'failed', changed: false });
    // `force` is a query parameter, as the reference has it.
    const removed = await request(
      sys,
      'DELETE',
      `/node/dk-01/container/docker/${name}?force=true`,
      undefined,
      writer,
    );
    expect(removed.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    const again = await request(
      sys,
      'DELETE',
      `/node/dk-01/container/docker/${name}?force=true`,
      undefined,
      writer,
    );
    expect(again.body.results[0]).toMatchObject({ status: 'ok', changed: false });
  });

  withDaemons(
    'pulls: no registry is reachable here, and the answer is the daemon’s failure',
    async () => {
      const r = await post(
        sys,
        '/node/dk-02/container/docker/pull',
        { image: 'osapitest/none:1' },
        writer,
      );
      expect(r.status).toBe(202);
      expect(r.body.results[0]).toMatchObject({
        hostname: 'dk-02',
        status: 'failed',
        changed: false,
        error: expect.stringMatching(/^cannot pull osapitest\/none:1: \S/),
      });
    },
    120_000,
  );

  withDaemons('removes an image by a reference in the path', async () => {
    // An image no container uses: the tag dk-02 was given in beforeAll.
    const r = await request(
      sys,
      'DELETE',
      `/node/dk-02/container/docker/image/${encodeURIComponent(image)}`,
      undefined,
      writer,
    );
    expect(r.body.results[0]).toMatchObject({ status: 'ok', changed: true, message: 'untagged' });
    const again = await request(
      sys,
      'DELETE',
      `/node/dk-02/container/docker/image/${image}`,
      undefined,
      writer,
    );
    expect(again.body.results[0]).toMatchObject({ status: 'ok', changed: false });
    // A reference with a registry and a path: its '/' travels encoded through the route (the host has no such image).
    const pathRef = await request(
      sys,
      'DELETE',
      `/node/dk-02/container/docker/image/${encodeURIComponent('registry.example:5000/team/app:1')}`,
      undefined,
      writer,
    );
    expect(pathRef.body.results[0]).toMatchObject({
      status: 'ok',
      changed: false,
      id: 'registry.example:5000/team/app:1',
    });
  });

  withDaemons('the SDK names each operation', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const name = throwawayName();
    containers.push(['dk-02', name]);
    const [, two] = daemons;
    const own = two?.ok ? two.daemon.image : '';
    const made = await client.dockerCreate('dk-02', {
      image: own,
      name,
      command: ['sleep', '600'],
    });
    expect(made.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    const out = await client.dockerExec('dk-02', { id: name, command: ['echo', 'sdk'] });
    expect(out.body.results[0]).toMatchObject({ stdout: 'sdk\n', exit_code: 0 });
    const got = await client.dockerInspect('dk-02', { id: name });
    expect(got.body.results[0]?.name).toBe(name);
    const stopped = await client.dockerStop('dk-02', { id: name, timeout: 0 });
    expect(stopped.body.results[0]).toMatchObject({ changed: true });
    const removed = await client.dockerRemove('dk-02', { id: name });
    expect(removed.body.results[0]).toMatchObject({ changed: true });
  });
});

describe('docker route checks (no daemon needed)', () => {
  it('bad input: 400 naming the field', async () => {
    const cases: Array<[string, string, AnyJson, string]> = [
      ['POST', '/node/dk-03/container/docker', { image: '-rf' }, 'image'],
      ['POST', '/node/dk-03/container/docker', { image: 'Debian:12' }, 'image'],
      ['POST', '/node/dk-03/container/docker', { image: 'a/../b' }, 'image'],
      ['POST', '/node/dk-03/container/docker', { image: 'debian', name: '-x' }, 'name'],
      [
        'POST',
        '/node/dk-03/container/docker',
        { image: 'debian', ports: ['99999:80'] },
        'ports[0]',
      ],
      ['POST', '/node/dk-03/container/docker', { image: 'debian', ports: ['80'] }, 'ports[0]'],
      [
        'POST',
        '/node/dk-03/container/docker',
        { image: 'debian', volumes: ['/a/../etc:/c'] },
        'volumes[0]',
      ],
      [
        'POST',
        '/node/dk-03/container/docker',
        { image: 'debian', volumes: ['./rel:/c'] },
        'volumes[0]',
      ],
      ['POST', '/node/dk-03/container/docker', { image: 'debian', env: ['no-equals'] }, 'env[0]'],
      ['POST', '/node/dk-03/container/docker', { image: 'debian', dns: ['not-an-ip'] }, 'dns[0]'],
      [
        'POST',
        '/node/dk-03/container/docker',
        { image: 'debian', restart_policy: 'sometimes' },
        'restart_policy',
      ],
      ['POST', '/node/dk-03/container/docker', { image: 'debian', privileged: true }, 'privileged'],
      ['POST', '/node/dk-03/container/docker/box/exec', { command: [] }, 'command'],
      ['POST', '/node/dk-03/container/docker/-box/exec', { command: ['true'] }, 'id'],
      ['POST', '/node/dk-03/container/docker/box/stop', { timeout: 1000 }, 'timeout'],
      ['GET', '/node/dk-03/container/docker?state=paused', undefined, 'state'],
      ['DELETE', '/node/dk-03/container/docker/image/-f', undefined, 'image'],
      ['POST', '/node/dk-03/container/docker/pull', {}, 'image'],
      ['DELETE', '/node/dk-03/container/docker/box', { force: true }, 'force'],
      ['DELETE', '/node/dk-03/container/docker/box?force=maybe', undefined, 'force'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await request(sys, method, path, body, admin);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(
        r.body.fields.map((f: AnyJson) => f.field),
        JSON.stringify(r.body),
      ).toContain(field);
    }
  });

  it('permissions: read lists but may not change; write changes but may not exec', async () => {
    const list = await request(sys, 'GET', '/node/dk-03/container/docker', undefined, reader);
    expect(list.status).toBe(200);
    const create = await post(sys, '/node/dk-03/container/docker', { image: 'debian:12' }, reader);
    expect(create.status).toBe(403);
    const exec = await post(
      sys,
      '/node/dk-03/container/docker/box/exec',
      { command: ['true'] },
      writer,
    );
    expect(exec.status).toBe(403);
    expect(JSON.stringify(exec.body)).toMatch(/docker:execute/);
  });

  it('exec falls under the command policy: the same 403 as a command exec of the same argv', async () => {
    const token = await sys.token(['docker-echo']);
    const argv = ['touch', '/tmp/osapitest-docker-policy'];
    const viaDocker = await post(
      sys,
      '/node/dk-03/container/docker/box/exec',
      { command: argv },
      token,
    );
    const viaCommand = await post(
      sys,
      '/node/dk-03/command/exec',
      { command: argv[0], args: argv.slice(1) },
      token,
    );
    expect(viaDocker.status).toBe(403);
    expect(viaCommand.status).toBe(403);
    expect(viaDocker.body.error).toBe(viaCommand.body.error);
    expect(viaDocker.body.error).toMatch(/allows exec only for "echo \*"/);
    // The env names and the working directory are the policy's too.
    const env = await post(
      sys,
      '/node/dk-03/container/docker/box/exec',
      { command: ['echo', 'hi'], env: ['LD_PRELOAD=/x.so'] },
      token,
    );
    expect(env.status).toBe(403);
    expect(env.body.error).toMatch(/lists no env names, so a command may not set LD_PRELOAD/);
    const cwd = await post(
      sys,
      '/node/dk-03/container/docker/box/exec',
      { command: ['echo', 'hi'], working_dir: '/etc' },
      token,
    );
    expect(cwd.status).toBe(403);
    expect(cwd.body.error).toMatch(/lists no cwd directories/);
    // Through POST /job as well.
    const job = await post(
      sys,
      '/job',
      {
        operation: { type: 'docker.container.exec', data: { id: 'box', command: argv } },
        target_hostname: 'dk-03',
      },
      token,
    );
    expect(job.status).toBe(403);
    // What the policy allows goes through (dk-03 has no daemon: skipped).
    const allowed = await post(
      sys,
      '/node/dk-03/container/docker/box/exec',
      { command: ['echo', 'hi'] },
      token,
    );
    expect(allowed.status).toBe(202);
    expect(allowed.body.results[0]).toMatchObject({ status: 'skipped' });
  });

  it('exec is checked again by the agent, from the signed job’s policy', async () => {
    const store = await storeFor(sys);
    const job = await publishJob(store, {
      type: 'docker.container.exec',
      data: { id: 'box', command: ['touch', '/tmp/x'] },
      target: { kind: 'host', hostname: 'dk-03' },
      createdBy: 'policy-user',
      startWithinMs: 60_000,
      commandPolicy: { exec: ['echo *'], shell: [] },
    });
    const resp = await waitFor(
      'the agent’s answer',
      async () => (await readResponse(store, job.id, 'dk-03')) ?? undefined,
    );
    expect(resp).toMatchObject({ status: 'failed' });
    expect(resp?.error).toMatch(/refused, not run: .*allows exec only for "echo \*"/);
  });
});
