// The client's HTTP exchange over node:http, for short-lived Node processes (the CLI). The global
// fetch is undici: loading it costs a fresh process about 40 ms, and its connection pool keeps the
// process alive about 120 ms after the last answer (measured on Node 20), which together were a
// third of a CLI invocation. Browsers and long-lived programs keep the global fetch.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpFetch, HttpResponse } from './client.js';

export const nodeHttpFetch: HttpFetch = async (url, init) => {
  // TLS is loaded only for an API served over it: it costs a fresh process several ms.
  const send = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = send(
      url,
      {
        method: init.method,
        headers: {
          ...init.headers,
          ...(init.body !== undefined ? { 'content-length': Buffer.byteLength(init.body) } : {}),
        },
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => resolve(responseOf(res, init.method)),
    );
    // As fetch reports it, so that callers see one shape of failure: the reason is the cause.
    req.once('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.end(init.body);
  });
};

function responseOf(res: IncomingMessage, method: string): HttpResponse {
  const status = res.statusCode ?? 0;
  // An answer without a body still ends only once read: else its socket keeps the process alive.
  if (method === 'HEAD' || status === 204 || status === 304) res.resume();
  let body: ReadableStream<Uint8Array> | null | undefined;
  return {
    status,
    ok: status >= 200 && status < 300,
    async text() {
      res.setEncoding('utf8');
      let text = '';
      for await (const chunk of res) text += chunk as string;
      return text;
    },
    // Read as a stream (server-sent events, the audit export) only when asked.
    get body() {
      body ??= Readable.toWeb(res) as ReadableStream<Uint8Array>;
      return body;
    },
  };
}
