// The client's HTTP exchange over node:http, for short-lived Node processes (the CLI). The global
// fetch is undici: loading it costs a fresh process about 40 ms, and its connection pool keeps the
// process alive about 120 ms after the last answer (measured on Node 20), which together were a
// third of a CLI invocation. Browsers and long-lived programs keep the global fetch.
//
// It answers as fetch does for what the client reads: the status, the body as text or as a stream,
// redirects followed (the API sent to another origin loses the token, as with fetch), a failure to
// connect as TypeError('fetch failed') with the reason as its cause, an abort as the signal's reason.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpFetch, HttpResponse } from './client.js';

/** As fetch (and browsers) allow, before giving up on a loop. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export const nodeHttpFetch: HttpFetch = async (url, init) => {
  let current = url;
  let { method, body } = init;
  const headers = { ...init.headers };
  for (let hops = 0; ; hops++) {
    const res = await exchange(current, { ...init, method, headers, body });
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined)
      return responseOf(res, method);
    res.resume();
    if (hops >= MAX_REDIRECTS) {
      throw new TypeError('fetch failed', {
        cause: new Error(`more than ${MAX_REDIRECTS} redirects`),
      });
    }
    const next = new URL(location, current);
    // Fetch's rules: a 303, or a 301/302 answering a POST, is followed with a GET and no body.
    if (
      res.statusCode === 303 ||
      ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
    ) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      delete headers['content-type'];
    }
    // The token is for the API that was asked, not for wherever it points.
    if (next.origin !== current.origin) delete headers.authorization;
    current = next;
  }
};

async function exchange(url: URL, init: Parameters<HttpFetch>[1]): Promise<IncomingMessage> {
  // TLS is loaded only for an API served over it: it costs a fresh process several ms.
  const send = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
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
      resolve,
    );
    req.on('error', (err) =>
      reject(
        init.signal?.aborted ? init.signal.reason : new TypeError('fetch failed', { cause: err }),
      ),
    );
    req.end(init.body);
  });
}

function responseOf(res: IncomingMessage, method: string): HttpResponse {
  const status = res.statusCode ?? 0;
  // An answer without a body still ends only once read: else its socket keeps the process alive.
  if (method === 'HEAD' || status === 204 || status === 304) res.resume();
  let body: ReadableStream<Uint8Array> | undefined;
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
