// A TCP proxy in front of nats-server, to cut one client off the network and
// let it back, while the server and every other client carry on.

import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** nats://127.0.0.1:port of the proxy. */
  readonly url: string;
  /** Drops every connection through the proxy and refuses new ones. */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    cut() {
      down = true;
      dropAll();
    },
    restore() {
      down = false;
    },
    close() {
      down = true;
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
