// The client's node:http exchange (src/sdk/node-http.ts), which the CLI uses instead of the global
// fetch: it must answer as fetch does for everything the client reads, and never hold the process
// open once the answer is in.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiApiError, OsapiClient } from '../../src/sdk/client.js';
import { nodeHttpFetch } from '../../src/sdk/node-http.js';

let server: Server;
let base: string;
/** A second server: another origin, which must not be sent the token. */
let other: Server;
let otherBase: string;
const otherSeen: Array<{ auth?: string; body: string }> = [];
const seen: Array<{ method: string; url: string; body: string; auth?: string }> = [];

async function bodyOf(req: IncomingMessage): Promise<string> {
  req.setEncoding('utf8');
  let body = '';
  for await (const chunk of req) body += chunk as string;
  return body;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      });
      if (req.url === '/echo') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: JSON.parse(body || 'null'), ünïcode: '✓' }));
      } else if (req.url === '/missing' || req.url?.startsWith('/job/')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'no such thing', code: 'not_found' }));
      } else if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: a\ndata: 1\n\n');
        setImmediate(() => res.end('event: b\ndata: 2\n\n'));
      } else if (req.url === '/moved') {
        res.writeHead(308, { location: '/echo' });
        res.end();
      } else if (req.url === '/see-other') {
        res.writeHead(303, { location: '/page' });
        res.end();
      } else if (req.url === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
      } else if (req.url === '/elsewhere') {
        res.writeHead(307, { location: `${otherBase}/echo` });
        res.end();
      } else if (req.url === '/hang') {
        // Never answers: for the abort.
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>ui</html>');
      }
    });
  });
  // As the API does (72 s): an idle connection outlives the test unless the client lets go of it.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  other = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      otherSeen.push({
        body,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => other.listen(0, 'localhost', r));
  otherBase = `http://localhost:${(other.address() as AddressInfo).port}`;
});
afterAll(async () => {
  other.closeAllConnections();
  await new Promise((r) => other.close(r));
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('nodeHttpFetch', () => {
  it('sends the method, headers and body, and reads the answer as text', async () => {
    const res = await nodeHttpFetch(new URL('/echo', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify({ a: 'é' }),
    });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(JSON.parse(await res.text())).toEqual({ got: { a: 'é' }, ünïcode: '✓' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/echo', auth: 'Bearer t' });
  });

  it('gives an error status as an answer, not a rejection', async () => {
    const res = await nodeHttpFetch(new URL('/missing', base), { method: 'GET', headers: {} });
    expect(res.status).toBe(404);
    expect(res.ok).toBe(false);
    expect(JSON.parse(await res.text())).toMatchObject({ code: 'not_found' });
  });

  it('streams a body as it comes', async () => {
    const res = await nodeHttpFetch(new URL('/events', base), { method: 'GET', headers: {} });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    expect(text).toBe('event: a\ndata: 1\n\nevent: b\ndata: 2\n\n');
  });

  it('rejects as fetch does when nothing answers, with the reason as its cause', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await nodeHttpFetch(new URL(`http://127.0.0.1:${port}/`), {
      method: 'GET',
      headers: {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('fetch failed');
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('follows redirects as fetch does', async () => {
    const post = (path: string) =>
      nodeHttpFetch(new URL(path, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
        body: '{"n":1}',
      });
    // 307/308 keep the method and body.
    const moved = await post('/moved');
    expect(moved.status).toBe(200);
    expect(JSON.parse(await moved.text())).toMatchObject({ got: { n: 1 } });
    // 303 turns into a GET without a body.
    const seeOther = await post('/see-other');
    expect(seeOther.status).toBe(200);
    expect(await seeOther.text()).toBe('<html>ui</html>');
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/page', body: '' });
    // To another origin: the body goes, the token does not.
    const elsewhere = await post('/elsewhere');
    expect(elsewhere.status).toBe(200);
    await elsewhere.text();
    expect(otherSeen.at(-1)).toEqual({ body: '{"n":1}' });
    // A loop ends in a failure, not a hang.
    await expect(post('/loop')).rejects.toThrow('fetch failed');
  });

  it("stops waiting when its signal aborts, rejecting with the signal's reason as fetch does", async () => {
    const hang = (signal: AbortSignal) =>
      nodeHttpFetch(new URL('/hang', base), { method: 'GET', headers: {}, signal }).then(
        () => new Error('answered'),
        (e: unknown) => e as Error,
      );
    const ac = new AbortController();
    const aborted = hang(ac.signal);
    ac.abort();
    expect((await aborted).name).toBe('AbortError');
    expect((await hang(AbortSignal.timeout(50))).name).toBe('TimeoutError');
  });

  it('serves the client as the global fetch does', async () => {
    const viaNode = new OsapiClient({ url: base, token: 'tok', fetch: nodeHttpFetch });
    const viaFetch = new OsapiClient({ url: base, token: 'tok' });
    const [a, b] = await Promise.all(
      [viaNode, viaFetch].map((c) => c.jobGet('x').catch((e: unknown) => e)),
    );
    expect(a).toBeInstanceOf(OsapiApiError);
    expect(b).toBeInstanceOf(OsapiApiError);
    expect([(a as OsapiApiError).status, (a as OsapiApiError).body]).toEqual([
      (b as OsapiApiError).status,
      (b as OsapiApiError).body,
    ]);
    expect((a as OsapiApiError).message).toBe('no such thing');
    // Both reached the server with the token.
    expect(seen.filter((s) => s.auth === 'Bearer tok').length).toBeGreaterThanOrEqual(2);
  });

  it('lets a process end as soon as its last answer is read, a HEAD one included', async () => {
    const module = join(import.meta.dirname, '..', '..', 'src', 'sdk', 'node-http.ts');
    const script = `
      import { nodeHttpFetch } from ${JSON.stringify(module)};
      const head = await nodeHttpFetch(new URL('/ui/', ${JSON.stringify(base)}), { method: 'HEAD', headers: {} });
      const get = await nodeHttpFetch(new URL('/echo', ${JSON.stringify(base)}), { method: 'POST', headers: {}, body: '1' });
      console.log(head.status, get.status, await get.text());
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    // The server keeps connections alive (72 s for the API): only a process that lets go of them ends.
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out.trim()).toBe('200 200 {"got":1,"ünïcode":"✓"}');
  }, 20_000);
});
