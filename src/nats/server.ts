// Runs the real nats-server as a supervised child: JetStream on, file store in
// store_dir. Resolves once the server accepts connections; reports its own
// exit so the parent never hangs on a dead server or leaves an orphan behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../log/logger.js';
import { findNatsServer, findSetpriv } from './server-binary.js';
import { type NatsServerAuth, writeServerConfig } from './server-config.js';

export interface NatsServerOptions {
  host: string;
  /** 0 lets the OS choose a free port (nats-server's -1). */
  port: number;
  storeDir: string;
  logger: Logger;
  /** How long to wait for "Server is ready" before giving up. */
  readyTimeoutMs?: number;
  /** Extra nats-server arguments, e.g. a config file with auth or routes. */
  extraArgs?: string[];
  /** Users and permissions: written to a 0600 config file in storeDir, passed with -c. */
  auth?: NatsServerAuth | null;
  /** The server's name; a JetStream cluster needs one per node, stable across restarts. */
  serverName?: string;
  /** Routes to the other nodes: this server then runs as one node of a cluster. */
  cluster?: NatsClusterOptions | null;
}

export interface NatsClusterOptions {
  /** The same on every node. */
  name: string;
  /** Where this node listens for routes; port 0 lets the OS choose. */
  host: string;
  port: number;
  /** Every node's route URL (this node's own is ignored by nats-server). */
  routes: string[];
}

export interface NatsServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NatsServerHandle {
  /** nats://host:port the server listens on (the real port when 0 was asked). */
  readonly url: string;
  readonly port: number;
  /** The port routes from other nodes come in on, when clustered (else 0). */
  readonly clusterPort: number;
  readonly pid: number;
  /** Resolves when the server process ends, for whatever reason. */
  readonly exited: Promise<NatsServerExit>;
  /** SIGTERM, then SIGKILL after the grace period; resolves when it is gone. */
  stop(graceMs?: number): Promise<NatsServerExit>;
}

export class NatsServerStartError extends Error {
  override name = 'NatsServerStartError';
}

// "[INF] Listening for client connections on 127.0.0.1:4222"
const LISTENING = /Listening for client connections on (\S+):(\d+)/;
const READY = /Server is ready/;
// "[INF] Listening for route connections on 127.0.0.1:6222"
const ROUTES_LISTENING = /Listening for route connections on \S+:(\d+)/;

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  mkdirSync(opts.storeDir, { recursive: true, mode: 0o700 });
  // The flags below override the file, which holds only the users.
  const config = opts.auth ? ['-c', writeServerConfig(opts.storeDir, opts.auth)] : [];
  const args = [
    ...config,
    '-a',
    opts.host,
    '-p',
    String(opts.port === 0 ? -1 : opts.port),
    '-js',
    '-sd',
    opts.storeDir,
    ...(opts.serverName ? ['--server_name', opts.serverName] : []),
    ...(opts.cluster ? clusterArgs(opts.cluster) : []),
    ...(opts.extraArgs ?? []),
  ];
  opts.logger.debug({ bin, args }, 'starting nats-server');
  // With setpriv (util-linux), the kernel stops the server if this process
  // dies without a chance to clean up (kill -9): no orphan keeps the port.
  const setpriv = findSetpriv();
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'SIGTERM', '--', bin, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });

  // Last resort: if this process exits any other way, take the server with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<NatsServerExit>((resolve) => {
    child.once('exit', () => process.off('exit', killOnExit));
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });

  const lastLines: string[] = [];
  let port = 0;
  let clusterPort = 0;
  let readySeen = false;
  let host = opts.host;
  const ready = new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
      opts.logger.debug({ component: 'nats-server' }, line);
      const m = LISTENING.exec(line);
      if (m) {
        host = m[1] ?? host;
        port = Number(m[2]);
      }
      const r = ROUTES_LISTENING.exec(line);
      if (r) clusterPort = Number(r[1]);
      if (READY.test(line)) readySeen = true;
      // A clustered server prints its route port just after "ready".
      if (readySeen && (!opts.cluster || clusterPort > 0)) resolve();
    });
    child.once('error', (err) => reject(new NatsServerStartError(`nats-server: ${err.message}`)));
    void exited.then((e) =>
      reject(
        new NatsServerStartError(
          `nats-server exited before it was ready (${describeExit(e)}). Its last lines:\n${lastLines.join('\n')}`,
        ),
      ),
    );
  });

  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NatsServerStartError(`nats-server was not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await terminate(child, exited, 2000);
    throw err;
  } finally {
    clearTimeout(timer);
  }

  // 0.0.0.0 is where it listens, not an address to dial.
  const dialHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `nats://${dialHost.includes(':') ? `[${dialHost}]` : dialHost}:${port}`,
    port,
    clusterPort,
    pid: child.pid ?? 0,
    exited,
    stop: (graceMs = 5000) => terminate(child, exited, graceMs),
  };
}

function clusterArgs(c: NatsClusterOptions): string[] {
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  return [
    '--cluster_name',
    c.name,
    '--cluster',
    `nats://${host}:${c.port === 0 ? -1 : c.port}`,
    ...(c.routes.length > 0 ? ['--routes', c.routes.join(',')] : []),
  ];
}

export function describeExit(e: NatsServerExit): string {
  if (e.signal) return `killed by ${e.signal}`;
  if (e.code === null) return 'could not be started';
  return `exit code ${e.code}`;
}

async function terminate(
  child: ChildProcess,
  exited: Promise<NatsServerExit>,
  graceMs: number,
): Promise<NatsServerExit> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return exited;
}
