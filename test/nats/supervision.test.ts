import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startNatsServer } from '../../src/nats/server.js';
import { silentLogger } from '../support/nats.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'osapi-sup-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Gone, or a zombie nobody reaps here (this machine's PID 1 does not). */
function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

function childPids(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`;
  return existsSync(path)
    ? readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    : [];
}

describe('supervised nats-server', () => {
  it('reports the port it really got and its own exit', async () => {
    const server = await startNatsServer({
      host: '127.0.0.1',
      port: 0,
      storeDir: join(tempDir(), 'js'),
      logger: silentLogger,
    });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    process.kill(server.pid, 'SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it("fails to start with the server's own words when the port is taken", async () => {
    const first = await startNatsServer({
      host: '127.0.0.1',
      port: 0,
      storeDir: join(tempDir(), 'js'),
      logger: silentLogger,
    });
    try {
      await expect(
        startNatsServer({
          host: '127.0.0.1',
          port: first.port,
          storeDir: join(tempDir(), 'js'),
          logger: silentLogger,
        }),
      ).rejects.toThrow(/exited before it was ready/);
    } finally {
      await first.stop();
    }
  });

  it('`osapi nats server start` says so and exits non-zero when nats-server dies on its own', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'osapi'), 'nats', 'server', 'start', '-j'],
      {
        env: {
          ...process.env,
          OSAPI_STATE_DIR: tempDir(),
          OSAPI_NATS_SERVER_PORT: '0',
          OSAPI_NATS_SERVER_HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += String(d);
      });
      const ready = await new Promise<{ nats_url: string }>((resolve, reject) => {
        child.stdout.once('data', (d) => resolve(JSON.parse(String(d))));
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      expect(ready.nats_url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const [natsPid] = childPids(child.pid ?? 0);
      expect(natsPid).toBeGreaterThan(0);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      process.kill(natsPid ?? 0, 'SIGKILL');
      expect(await exited).toBe(1);
      expect(stderr).toMatch(/nats-server exited unexpectedly \(killed by SIGKILL\)/);
      expect(isGone(natsPid ?? 0)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('`osapi nats server start` whose layout fails exits non-zero and stops its nats-server', async () => {
    const state = tempDir();
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'osapi'), 'nats', 'server', 'start', '-j'],
      {
        env: {
          ...process.env,
          OSAPI_STATE_DIR: state,
          OSAPI_NATS_SERVER_PORT: '0',
          // nats-server refuses a stream name with a dot, once it is running.
          OSAPI_NATS_KV_BUCKET: 'bad.bucket',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    // Bounded: before the fix it never exited, its nats-server keeping it alive.
    const code = await Promise.race([
      new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
      new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000).unref()),
    ]).finally(() => child.kill('SIGKILL'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot contain '\.'/);
    // No nats-server on this state dir's store is left.
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(state) && !isGone(Number(p));
        } catch {
          return false;
        }
      });
    expect(left).toEqual([]);
  });

  it('nats-server does not outlive an osapi killed with SIGKILL', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'osapi'), 'nats', 'server', 'start', '-j'],
      {
        env: {
          ...process.env,
          OSAPI_STATE_DIR: tempDir(),
          OSAPI_NATS_SERVER_PORT: '0',
          OSAPI_NATS_SERVER_HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const [natsPid] = childPids(child.pid ?? 0);
    expect(natsPid).toBeGreaterThan(0);
    child.kill('SIGKILL');
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = isGone(natsPid ?? 0);
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone).toBe(true);
  });
});
