// The MCP server over streamable HTTP at /mcp (api.server.mcp.enabled), in
// stateless mode: each POST is one exchange, answered as JSON. The bearer
// token of the request is the user's: the route checks it as any other
// (`authenticated`, audited), and every tool call the exchange makes is a
// request of its own to this server's routes with that token (injected, not
// over the network), so it meets the same permission checks, command policy,
// audit entries and idempotency as from any client.
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { parseBearer } from '../../auth/index.js';
import { createMcpServer } from '../../mcp/server.js';
import { type HttpFetch, OsapiClient } from '../../sdk/client.js';

/**
 * Requests to this server's own routes, as from the address the MCP request
 * came from (the audit entry names it), without leaving the process.
 */
function injectedFetch(app: FastifyInstance, remoteAddress: string): HttpFetch {
  return async (url, init) => {
    const res = await app.inject({
      method: init.method as HTTPMethods,
      url: `${url.pathname}${url.search}`,
      headers: init.headers,
      remoteAddress,
      ...(init.body !== undefined ? { payload: init.body } : {}),
    });
    return {
      status: res.statusCode,
      ok: res.statusCode >= 200 && res.statusCode < 300,
      text: async () => res.body,
      // Only the job stream and the audit export read a body as a stream; the tools use neither.
      body: null,
    };
  };
}

/** The Fastify request as the web-standard one the transport reads (its body already parsed). */
function webRequest(req: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return new Request(`http://${req.hostname || 'localhost'}${req.url}`, {
    method: req.method,
    headers,
  });
}

async function exchange(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  // The auth hook has verified this token already; it is passed on as it came.
  const token = parseBearer(req.headers.authorization);
  const client = new OsapiClient({
    url: 'http://osapi.internal',
    token,
    fetch: injectedFetch(app, req.ip),
  });
  const server = createMcpServer(client);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  try {
    await server.connect(transport);
    const response = await transport.handleRequest(webRequest(req), { parsedBody: req.body });
    reply.code(response.status);
    response.headers.forEach((value, name) => {
      reply.header(name, value);
    });
    return await reply.send(await response.text());
  } finally {
    await server.close();
  }
}

/** Adds POST /mcp; GET and DELETE (a session's stream and end) do not apply to a stateless server. */
export function registerMcpRoute(app: FastifyInstance): void {
  const config = { permission: 'authenticated' as const };
  // Not a REST route: outside the OpenAPI document, as the console's files are.
  const schema = { hide: true };
  app.post('/mcp', { config, schema }, (req, reply) => exchange(app, req, reply));
  app.route({
    method: ['GET', 'DELETE'],
    url: '/mcp',
    config,
    schema,
    handler: async (_req, reply) => {
      reply.header('allow', 'POST');
      // The error body's shape, with HTTP's own status: no other route answers 405.
      return reply.code(405).send({
        error: 'this MCP server is stateless: send each message with POST /mcp',
        code: 405,
        reason: 'method_not_allowed',
      });
    },
  });
}
