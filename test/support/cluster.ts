// A real NATS cluster for tests: n supervised nats-server processes on
// loopback, routed to each other, each with its own store dir, all removed
// afterwards. Route ports must be known before the first node starts (each
// node lists every other), so they are taken from the OS and handed over.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import { silentLogger } from './nats.js';

export interface ClusterNode {
  name: string;
  /** The current process; replaced by restart(). */
  server: NatsServerHandle;
  url: string;
  storeDir: string;
  /** kill -9, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store. */
  restart(): Promise<void>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** Every node's client URL, for a client's server list. */
  urls: string[];
  stop(): Promise<void>;
}

/**
 * Ports the OS hands out now, held together so they differ, then released
 * for the servers. Another process could take one in between; on loopback in
 * a test run that has not been seen, and a node that cannot bind fails fast.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function startTestCluster(n = 3, logger: Logger = silentLogger): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-cluster-'));
  const ports = await freePorts(2 * n);
  const clientPorts = ports.slice(0, n);
  const routePorts = ports.slice(n);
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const name = `c${crypto.randomUUID().slice(0, 8)}`;
  const start = (i: number) =>
    startNatsServer({
      host: '127.0.0.1',
      port: clientPorts[i] as number,
      storeDir: join(dir, `n${i}`),
      logger,
      serverName: `n${i}`,
      cluster: { name, host: '127.0.0.1', port: routePorts[i] as number, routes },
    });
  const servers = await Promise.all(Array.from({ length: n }, (_, i) => start(i)));
  const nodes: ClusterNode[] = servers.map((server, i) => {
    const node: ClusterNode = {
      name: `n${i}`,
      server,
      url: server.url,
      storeDir: join(dir, `n${i}`),
      async kill() {
        process.kill(node.server.pid, 'SIGKILL');
        await node.server.exited;
      },
      async restart() {
        node.server = await start(i);
      },
    };
    return node;
  });
  return {
    nodes,
    urls: nodes.map((x) => x.url),
    async stop() {
      await Promise.all(nodes.map((x) => x.server.stop(2000)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
