// A small round-robin HTTP proxy in front of several API servers, as a load
// balancer would be: each request goes to the next server; one that refuses
// the connection (gone) is skipped for the next. A server that dies while it
// answers cuts that answer (the client sees a 502 or a broken stream), as a
// real balancer would.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpProxy {
  /** http://127.0.0.1:port of the proxy. */
  readonly url: string;
  /** The servers behind it, as http://host:port. */
  setBackends(urls: string[]): void;
  /** How many requests each backend received. */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export async function startHttpProxy(backends: string[]): Promise<HttpProxy> {
  let urls = [...backends];
  let next = 0;
  const received = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      // Whole before sending, so a refused connection can go to the next server.
      const body = await readBody(req);
      const tried = new Set<string>();
      const attempt = () => {
        if (tried.size >= urls.length) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end('no API server answered');
          return;
        }
        const target = urls[next++ % urls.length] as string;
        if (tried.has(target)) {
          attempt();
          return;
        }
        tried.add(target);
        const url = new URL(req.url ?? '/', target);
        const upstream = httpRequest(
          url,
          { method: req.method, headers: { ...req.headers, host: url.host }, agent: false },
          (answer) => {
            received.set(target, (received.get(target) ?? 0) + 1);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('error', () => res.destroy());
            answer.on('aborted', () => res.destroy());
          },
        );
        upstream.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ECONNREFUSED' && !res.headersSent) attempt();
          else if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`the API server failed: ${err.message}`);
          } else res.destroy();
        });
        res.on('close', () => upstream.destroy());
        upstream.end(body);
      };
      attempt();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setBackends(list) {
      urls = [...list];
    },
    counts: () => new Map(received),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
