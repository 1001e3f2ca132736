// The docker handlers against a real Docker daemon: Debian's dockerd, started
// by this file on a socket of its own (test/support/dockerd.ts), with an image
// imported from Debian's static busybox. Where dockerd cannot start, the
// tests that need it are skipped (with the reason printed) rather than passed.
// The stream demultiplexer and the unreachable socket need no daemon.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDemux } from '../../src/agent/handlers/docker-engine.js';
import {
  HANDLERS,
  type HandlerContext,
  type HandlerOutcome,
} from '../../src/agent/handlers/index.js';
import type { OperationType } from '../../src/contract/operations.js';
import { type DockerdStart, startTestDockerd, throwawayName } from '../support/dockerd.js';

let started: DockerdStart = { ok: false, reason: 'not started yet' };
const made: string[] = [];

function ctxFor(socket: string, maxOutputBytes = 1 << 20): HandlerContext {
  return {
    hostname: 'docker-test',
    labels: {},
    maxOutputBytes,
    signal: new AbortController().signal,
    host: { unitDir: '/nonexistent', dockerSocket: socket },
  };
}

function run(
  type: OperationType,
  data: unknown,
  ctx: HandlerContext,
): Promise<HandlerOutcome & { data: Record<string, unknown> | null }> {
  return HANDLERS[type](data, ctx) as Promise<
    HandlerOutcome & { data: Record<string, unknown> | null }
  >;
}

beforeAll(async () => {
  started = await startTestDockerd();
  if (!started.ok) console.warn(`docker tests skipped: ${started.reason}`);
}, 60_000);

afterAll(async () => {
  if (!started.ok) return;
  const ctx = ctxFor(started.daemon.socket);
  for (const id of made) await run('docker.container.remove', { id, force: true }, ctx);
  await started.daemon.stop();
}, 60_000);

describe('the stream of an exec', () => {
  const frame = (stream: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('is split into stdout and stderr by its frame headers, whatever the chunks', () => {
    const whole = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')]);
    // Every cut: a header or a payload split across two reads.
    for (let cut = 1; cut < whole.length; cut++) {
      const demux = new StreamDemux(1024);
      demux.push(whole.subarray(0, cut));
      demux.push(whole.subarray(cut));
      expect(demux.finish()).toEqual({
        stdout: 'out one\nout two\n',
        stderr: 'err\n',
        stdoutTruncated: false,
        stderrTruncated: false,
      });
    }
  });

  it('is capped per stream as command output is', () => {
    const demux = new StreamDemux(16);
    demux.push(frame(1, 'x'.repeat(100)));
    demux.push(frame(2, 'short'));
    const out = demux.finish();
    expect(out.stdoutTruncated).toBe(true);
    expect(out.stdout).toMatch(/bytes omitted/);
    expect(out).toMatchObject({ stderr: 'short', stderrTruncated: false });
  });
});

describe('a host without a Docker daemon', () => {
  let dir: string;
  let server: Server;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osapitest-nodocker-'));
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers skipped when nothing is at the socket path', async () => {
    const out = await run('docker.container.list', {}, ctxFor(join(dir, 'absent.sock')));
    expect(out.state).toBe('skipped');
    expect(out.error).toMatch(/no Docker daemon answers on .*absent\.sock.*agent\.docker\.socket/);
  });

  it('answers failed, not skipped, when something else answers there and hangs up', async () => {
    const path = join(dir, 'other.sock');
    server = createServer((s) => s.end('not http\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const out = await run('docker.container.list', {}, ctxFor(path));
    expect(out.state).toBeUndefined();
    expect(out.status).toBe('failed');
  });
});

describe('containers on a real dockerd', () => {
  const need = () => {
    if (!started.ok) throw new Error(`no dockerd: ${started.reason}`);
    return started.daemon;
  };
  // skipIf is read when tests are collected, before beforeAll started the
  // daemon: each test skips itself, with the reason, when there is none.
  const it_ = (name: string, fn: () => Promise<void>, timeout?: number) =>
    it(
      name,
      async (t) => {
        if (!started.ok) t.skip(`no dockerd here: ${started.reason}`);
        await fn();
      },
      timeout,
    );

  it_(
    'creates, lists, inspects, starts, stops and removes one, each change idempotent',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      const create = {
        image: d.image,
        name,
        hostname: 'box-one',
        command: ['sleep', '600'],
        env: ['GREETING=hello world', 'EMPTY='],
        ports: ['18080:80/tcp', '127.0.0.1:18443:443'],
        volumes: [`${tmpdir()}:/mnt/host:ro`],
        restart_policy: 'unless-stopped',
        auto_start: false,
      };
      const first = await run('docker.container.create', create, ctx);
      expect(first.status).toBe('completed');
      expect(first.data).toMatchObject({ name, image: d.image, state: 'created', changed: true });
      const id = first.data?.id as string;
      expect(id).toMatch(/^[0-9a-f]{64}$/);

      // The same create again finds it: nothing new.
      const again = await run('docker.container.create', create, ctx);
      expect(again.data).toMatchObject({ id, changed: false });
      // The same name with another image is refused, naming both.
      const other = await run('docker.container.create', { image: 'debian:12', name }, ctx);
      expect(other.status).toBe('failed');
      expect(other.error).toMatch(/exists already with the image osapitest-busybox.*not debian:12/);

      const detail = await run('docker.container.get', { id: name }, ctx);
      expect(detail.data).toMatchObject({
        id,
        name,
        state: 'created',
        restart_policy: 'unless-stopped',
        command: ['sleep', '600'],
        mounts: [`${tmpdir()}:/mnt/host:ro`],
      });
      expect(detail.data?.env).toEqual(expect.arrayContaining(['GREETING=hello world', 'EMPTY=']));
      expect([...((detail.data?.ports as string[] | undefined) ?? [])].sort()).toEqual([
        '127.0.0.1:18443:443/tcp',
        '18080:80/tcp',
      ]);

      const start = await run('docker.container.start', { id: name }, ctx);
      expect(start.data).toEqual({ id: name, message: 'started', changed: true });
      expect((await run('docker.container.start', { id: name }, ctx)).data).toMatchObject({
        changed: false,
        message: 'already running',
      });

      const running = await run('docker.container.list', { state: 'running' }, ctx);
      expect(running.data?.containers).toEqual(
        expect.arrayContaining([expect.objectContaining({ id, name, state: 'running' })]),
      );
      const one = await run('docker.container.list', { limit: 1 }, ctx);
      expect(one.data?.containers).toHaveLength(1);
      const stopped = await run('docker.container.list', { state: 'stopped' }, ctx);
      expect(
        ((stopped.data?.containers as Array<{ id: string }> | undefined) ?? []).map((c) => c.id),
      ).not.toContain(id);

      // The stop's timeout: 1 s, then the daemon kills `sleep` (which ignores nothing, but is pid 1).
      const stop = await run('docker.container.stop', { id: name, stop_timeout: 1 }, ctx);
      expect(stop.data).toEqual({ id: name, message: 'stopped', changed: true });
      expect((await run('docker.container.stop', { id: name }, ctx)).data).toMatchObject({
        changed: false,
      });
      expect((await run('docker.container.get', { id }, ctx)).data).toMatchObject({
        state: 'exited',
      });

      const removed = await run('docker.container.remove', { id: name }, ctx);
      expect(removed.data).toEqual({ id: name, message: 'removed', changed: true });
      expect((await run('docker.container.remove', { id: name }, ctx)).data).toMatchObject({
        changed: false,
      });
      const gone = await run('docker.container.get', { id: name }, ctx);
      expect(gone.status).toBe('failed');
      expect(gone.error).toMatch(/no container ".*" on this host/);
    },
    60_000,
  );

  it_(
    'starts a new container by default, and refuses to remove it running without force',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      const out = await run(
        'docker.container.create',
        { image: d.image, name, command: ['sleep', '600'] },
        ctx,
      );
      expect(out.data).toMatchObject({ state: 'running', changed: true });
      const refused = await run('docker.container.remove', { id: name }, ctx);
      expect(refused.status).toBe('failed');
      expect(refused.error).toMatch(/stop it first, or ask with force/);
      expect((await run('docker.container.get', { id: name }, ctx)).data).toMatchObject({
        state: 'running',
      });
      const forced = await run('docker.container.remove', { id: name, force: true }, ctx);
      expect(forced.data).toMatchObject({ changed: true });
    },
    60_000,
  );

  it_(
    'leaves nothing behind when a new container will not start',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      const out = await run(
        'docker.container.create',
        { image: d.image, name, command: ['/no/such/program'] },
        ctx,
      );
      expect(out.status).toBe('failed');
      expect(out.error).toMatch(/created but would not start .*; it was removed again/);
      expect((await run('docker.container.get', { id: name }, ctx)).status).toBe('failed');
    },
    60_000,
  );

  it_('says an image the host lacks must be pulled first', async () => {
    const d = need();
    const out = await run(
      'docker.container.create',
      { image: 'osapitest-absent:1', name: throwawayName() },
      ctxFor(d.socket),
    );
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/the image osapitest-absent:1 is not on this host: pull it first/);
  });

  it_(
    'runs a command inside: stdout, stderr and exit code apart; env and working_dir',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      await run(
        'docker.container.create',
        { image: d.image, name, command: ['sleep', '600'] },
        ctx,
      );
      const out = await run(
        'docker.container.exec',
        {
          id: name,
          command: ['sh', '-c', 'echo "$GREETING"; pwd; echo oops >&2; exit 3'],
          env: ['GREETING=hi there'],
          working_dir: '/tmp',
        },
        ctx,
      );
      expect(out.status).toBe('completed');
      expect(out.data).toEqual({
        stdout: 'hi there\n/tmp\n',
        stderr: 'oops\n',
        exit_code: 3,
        stdout_truncated: false,
        stderr_truncated: false,
        changed: true,
      });
      // An argument is one argument: nothing in it is read by a shell.
      const literal = await run(
        'docker.container.exec',
        { id: name, command: ['echo', '$(id); rm -rf /', '--help'] },
        ctx,
      );
      expect(literal.data).toMatchObject({ stdout: '$(id); rm -rf / --help\n', exit_code: 0 });
      const missing = await run('docker.container.exec', { id: name, command: ['nope'] }, ctx);
      expect(missing.data).toMatchObject({ exit_code: 126 });
    },
    60_000,
  );

  it_(
    'caps an exec’s output as a command’s, and kills it at its timeout',
    async () => {
      const d = need();
      const name = throwawayName();
      made.push(name);
      await run(
        'docker.container.create',
        { image: d.image, name, command: ['sleep', '600'] },
        ctxFor(d.socket),
      );
      const small = ctxFor(d.socket, 64);
      const big = await run(
        'docker.container.exec',
        { id: name, command: ['seq', '1', '5000'] },
        small,
      );
      expect(big.data).toMatchObject({ stdout_truncated: true, exit_code: 0 });
      expect(big.data?.stdout).toMatch(/^1\n2\n[\s\S]*bytes omitted[\s\S]*\n5000\n$/);

      const began = Date.now();
      const slow = await run(
        'docker.container.exec',
        { id: name, command: ['sleep', '30'], timeout: 1 },
        ctxFor(d.socket),
      );
      expect(slow.status).toBe('failed');
      expect(slow.error).toBe('the command ran past its 1 s timeout and was killed');
      expect(Date.now() - began).toBeLessThan(15_000);
      // The command was killed, and only it: the container's `sleep 600` lives on.
      const after = await run(
        'docker.container.exec',
        { id: name, command: ['sh', '-c', 'cat /proc/[0-9]*/cmdline'] },
        ctxFor(d.socket),
      );
      expect(after.data).toMatchObject({ exit_code: 0 });
      expect(after.data?.stdout).toContain('sleep\u0000600\u0000');
      expect(after.data?.stdout).not.toContain('sleep\u000030\u0000');
    },
    60_000,
  );

  it_(
    'kills an exec when its job is cancelled, saying who cancelled',
    async () => {
      const d = need();
      const name = throwawayName();
      made.push(name);
      await run(
        'docker.container.create',
        { image: d.image, name, command: ['sleep', '600'] },
        ctxFor(d.socket),
      );
      const cancel = new AbortController();
      const ctx = { ...ctxFor(d.socket), signal: cancel.signal };
      const began = Date.now();
      const pending = run(
        'docker.container.exec',
        // Says it started, then waits: the cancel comes once it runs.
        { id: name, command: ['sh', '-c', 'echo started > /tmp/started; exec sleep 60'] },
        ctx,
      );
      const check = ctxFor(d.socket);
      for (;;) {
        const probe = await run(
          'docker.container.exec',
          { id: name, command: ['cat', '/tmp/started'] },
          check,
        );
        if (probe.data?.stdout === 'started\n') break;
      }
      cancel.abort('cancelled by tester@example.com');
      const out = await pending;
      expect(out).toMatchObject({ status: 'failed', error: 'cancelled by tester@example.com' });
      expect(Date.now() - began).toBeLessThan(20_000);
      // Killed, not only let go: no `sleep 60` runs in the container (pid 1 is `sleep 600`).
      const procs = await run(
        'docker.container.exec',
        { id: name, command: ['sh', '-c', 'cat /proc/[0-9]*/cmdline'] },
        check,
      );
      expect(procs.data?.stdout).toContain('sleep\u0000600\u0000');
      expect(procs.data?.stdout).not.toContain('sleep\u000060\u0000');
    },
    60_000,
  );

  it_(
    'a create by name of a stopped container of that image starts it',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      const body = { image: d.image, name, command: ['sleep', '600'], auto_start: false };
      await run('docker.container.create', body, ctx);
      const started = await run('docker.container.create', { ...body, auto_start: true }, ctx);
      expect(started.data).toMatchObject({ name, state: 'running', changed: true });
      const again = await run('docker.container.create', { ...body, auto_start: true }, ctx);
      expect(again.data).toMatchObject({ state: 'running', changed: false });
    },
    60_000,
  );

  it_(
    'refuses an exec in a stopped or absent container',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      const name = throwawayName();
      made.push(name);
      await run(
        'docker.container.create',
        { image: d.image, name, command: ['sleep', '600'], auto_start: false },
        ctx,
      );
      const stopped = await run('docker.container.exec', { id: name, command: ['true'] }, ctx);
      expect(stopped.status).toBe('failed');
      expect(stopped.error).toMatch(/is not running/);
      const absent = await run(
        'docker.container.exec',
        { id: throwawayName(), command: ['true'] },
        ctx,
      );
      expect(absent.error).toMatch(/no container ".*" on this host/);
    },
    60_000,
  );

  it_(
    'pulls: the registry cannot be reached here, and the daemon says so',
    async () => {
      const d = need();
      const out = await run('docker.image.pull', { image: 'osapitest/none:1' }, ctxFor(d.socket));
      expect(out.status).toBe('failed');
      // The daemon's own words, whatever the network lacks (DNS, route, registry).
      expect(out.error).toMatch(/^cannot pull osapitest\/none:1: \S/);
    },
    120_000,
  );

  it_(
    'removes an image: untagged, then gone; in use only with force',
    async () => {
      const d = need();
      const ctx = ctxFor(d.socket);
      // A second tag of the test image, made through the Engine: removing it untags.
      const tag = `osapitest-extra:${throwawayName().slice(10)}`;
      const [repo, t] = tag.split(':') as [string, string];
      const { engineCall } = await import('../../src/agent/handlers/docker-engine.js');
      const tagged = await engineCall(d.socket, {
        method: 'POST',
        path: `/images/${encodeURIComponent(d.image)}/tag`,
        query: { repo, tag: t },
        signal: new AbortController().signal,
        timeoutMs: 10_000,
      });
      expect(tagged.status).toBe(201);
      const untag = await run('docker.image.remove', { image: tag }, ctx);
      expect(untag.data).toMatchObject({ changed: true, message: 'untagged' });
      const again = await run('docker.image.remove', { image: tag }, ctx);
      expect(again.data).toMatchObject({ changed: false });

      // In use by a container: refused without force.
      const name = throwawayName();
      made.push(name);
      await run('docker.container.create', { image: d.image, name, auto_start: false }, ctx);
      const inUse = await run('docker.image.remove', { image: d.image }, ctx);
      expect(inUse.status).toBe('failed');
      expect(inUse.error).toMatch(/containers use it/);
    },
    60_000,
  );
});
