// A Docker daemon of a test file's own: Debian's dockerd started on a socket
// in a temp directory, with its own data and exec roots, no bridge network
// and no iptables rules (so the machine's network is left alone), and a tiny
// image imported from a root filesystem holding Debian's static busybox (no
// registry is needed). stop() ends the daemon (and the containerd it runs),
// unmounts what it left and removes the directory, even after a failure.
// Where the daemon cannot start here, start says why and the tests that need
// it are skipped, visibly.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

const DOCKERD_CANDIDATES = ['/usr/sbin/dockerd', '/usr/bin/dockerd'];
const BUSYBOX = '/bin/busybox';
/** Applets the tests run inside the container. */
const APPLETS = ['sh', 'sleep', 'cat', 'echo', 'env', 'pwd', 'ls', 'true', 'false', 'seq', 'id'];
const READY_TIMEOUT_MS = 30_000;

export interface TestDockerd {
  /** The daemon's unix socket (agent.docker.socket). */
  socket: string;
  /** An image the daemon has: osapitest-busybox:<hex>, busybox's applets in /bin. */
  image: string;
  /** What the daemon wrote (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

export type DockerdStart = { ok: true; daemon: TestDockerd } | { ok: false; reason: string };

/** Whether an ELF file asks for a program interpreter: a dynamically linked binary would not run in the image. */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.toString('latin1', 1, 4) !== 'ELF' || head[4] !== 2) return false;
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

function engine(
  socket: string,
  method: string,
  path: string,
  body?: NodeJS.ReadableStream,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        socketPath: socket,
        method,
        path: `/v1.41${path}`,
        headers: body ? { 'Content-Type': 'application/x-tar' } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (body) body.pipe(r);
    else r.end();
  });
}

/** Mount points under `dir` the daemon left (an overlay of a container it did not clean up). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startTestDockerd(): Promise<DockerdStart> {
  const dockerd = DOCKERD_CANDIDATES.find((p) => existsSync(p));
  if (!dockerd) {
    return { ok: false, reason: 'dockerd is not installed (Debian package docker.io)' };
  }
  if (!existsSync(BUSYBOX) || !isStaticElf(BUSYBOX)) {
    return {
      ok: false,
      reason: `${BUSYBOX} is missing or not statically linked (Debian package busybox-static)`,
    };
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'dockerd needs root' };
  const dir = mkdtempSync('/tmp/osapitest-dockerd-');
  const socket = join(dir, 'docker.sock');
  let logText = '';
  const child = spawn(
    dockerd,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '-H',
      `unix://${socket}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--shutdown-timeout=2',
    ],
    // Its own process group: the containerd it starts goes with it.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const keep = (b: Buffer) => {
    logText = (logText + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 20_000))) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
        await waitForExit(child, 5_000);
      }
    }
    for (const mp of mountsUnder(dir)) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };

  const ready = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(
      () => resolve(`dockerd did not listen within ${READY_TIMEOUT_MS} ms`),
      READY_TIMEOUT_MS,
    );
    const onData = () => {
      if (logText.includes('API listen on')) {
        clearTimeout(timer);
        resolve(null);
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(`dockerd exited (${code ?? signal}) before it listened`);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`dockerd did not start: ${err.message}`);
    });
  });
  if (ready !== null) {
    const tail = logText.trim().split('\n').slice(-5).join(' | ');
    await stop();
    return { ok: false, reason: `${ready}: ${tail}` };
  }

  try {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'));
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
    const tar = join(dir, 'rootfs.tar');
    const made = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    if (made.status !== 0) throw new Error(`tar failed: ${made.stderr.toString()}`);
    const tag = randomBytes(4).toString('hex');
    const imported = await engine(
      socket,
      'POST',
      `/images/create?fromSrc=-&repo=osapitest-busybox&tag=${tag}`,
      createReadStream(tar),
    );
    if (imported.status !== 200 || imported.text.includes('"error"')) {
      throw new Error(`the image import failed: ${imported.status} ${imported.text}`);
    }
    return {
      ok: true,
      daemon: { socket, image: `osapitest-busybox:${tag}`, log: () => logText, stop },
    };
  } catch (err) {
    await stop();
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** A throwaway container name. */
export function throwawayName(): string {
  return `osapitest-${randomBytes(6).toString('hex')}`;
}
