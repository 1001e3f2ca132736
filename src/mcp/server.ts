// An MCP server for assistants, over any transport (stdio for `osapi mcp`,
// streamable HTTP at the API server's /mcp). It holds no authority of its
// own: every tool call and resource read is a request to the API with the
// user's token (the SDK client it is given), so the token's permissions, the
// command policy, the audit log and idempotency apply as to any client. Which
// tools it lists it asks the API (GET /auth/me), never reading the token.
//
// The low-level Server rather than McpServer: the tools' input schemas are
// the declarations' JSON Schemas as they are, and the list depends on the
// token, neither of which McpServer's registered tools express.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { pathSegment } from '../contract/operations.js';
import { OsapiApiError, type OsapiClient, OsapiConnectionError } from '../sdk/client.js';
import { VERSION } from '../version.js';
import { operationOfTool, readToolCall, ToolRefusal, toolsFor } from './tools.js';

const INSTRUCTIONS = [
  'OSAPI manages Linux hosts: each tool runs one operation on the hosts a target names',
  '(_any, _all, a hostname, a label key:value, or fact:<key><op><value>) and answers one item per host.',
  'A change on _all, a label or a fact comparison needs confirm: true: ask the user before sending it.',
  'Resources: osapi://agents (the agents), osapi://jobs (recent jobs), osapi://agent/{hostname}, osapi://job/{job_id}.',
].join(' ');

/** A resource the server offers, and the permission its route needs. */
const RESOURCES = [
  {
    uri: 'osapi://agents',
    name: 'agents',
    title: 'Agents',
    description: 'Every registered agent: hostname, state, labels, facts (GET /agent).',
    permission: 'agent:read',
  },
  {
    uri: 'osapi://jobs',
    name: 'jobs',
    title: 'Recent jobs',
    description: 'The 50 newest jobs with their status (GET /job).',
    permission: 'job:read',
  },
] as const;

const RESOURCE_TEMPLATES = [
  {
    uriTemplate: 'osapi://agent/{hostname}',
    name: 'agent',
    title: 'Agent',
    description: 'One agent by hostname (GET /agent/{hostname}).',
    permission: 'agent:read',
  },
  {
    uriTemplate: 'osapi://job/{job_id}',
    name: 'job',
    title: 'Job',
    description: 'One job: its operation, target and the answer of each host (GET /job/{id}).',
    permission: 'job:read',
  },
] as const;

const JSON_TYPE = 'application/json';

/** The API route a resource URI reads, or undefined when it names none. */
export function resourceRoute(uri: string): string | undefined {
  if (uri === 'osapi://agents') return '/agent';
  if (uri === 'osapi://jobs') return '/job?limit=50';
  const one = /^osapi:\/\/(agent|job)\/([^/?#]+)$/.exec(uri);
  if (!one) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(one[2] as string);
  } catch {
    return undefined;
  }
  // `.` and `..` would name another route once the URL is resolved.
  if (name === '.' || name === '..') return undefined;
  return `/${one[1]}/${pathSegment(name)}`;
}

/** The API's answer as a tool result: its JSON as text, and as structured content. */
function answered(body: unknown): CallToolResult {
  const structured =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : { value: body };
  return {
    content: [{ type: 'text', text: JSON.stringify(body, null, 2) }],
    structuredContent: structured,
  };
}

/** A failed call as a tool error: the API's own message first, then its body. */
function failed(err: unknown): CallToolResult {
  if (err instanceof OsapiApiError) {
    const body = err.body !== null && typeof err.body === 'object' ? err.body : undefined;
    return {
      isError: true,
      content: [
        { type: 'text', text: `The API answered ${err.status}: ${err.message}` },
        ...(body ? [{ type: 'text' as const, text: JSON.stringify(body, null, 2) }] : []),
      ],
      ...(body ? { structuredContent: { status: err.status, ...body } } : {}),
    };
  }
  if (err instanceof ToolRefusal || err instanceof OsapiConnectionError) {
    return { isError: true, content: [{ type: 'text', text: err.message }] };
  }
  throw err;
}

/** The permissions the API says the client's token holds. */
async function heldPermissions(client: OsapiClient): Promise<string[]> {
  try {
    return (await client.authMe()).body.permissions;
  } catch (err) {
    // No valid token, or no API: the client is told why rather than shown nothing.
    if (err instanceof OsapiApiError || err instanceof OsapiConnectionError) {
      throw new McpError(ErrorCode.InternalError, err.message);
    }
    throw err;
  }
}

/** An MCP server whose every call goes to the API through `client` (and its token). */
export function createMcpServer(client: OsapiClient): Server {
  const server = new Server(
    { name: 'osapi', version: VERSION },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: toolsFor(await heldPermissions(client)),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const type = operationOfTool(request.params.name);
    if (!type) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `there is no tool ${request.params.name}; tools/list names the tools this token may run`,
      );
    }
    try {
      const call = readToolCall(type, request.params.arguments ?? {});
      const { body } = await client.call(type, call.target, call.input as never, {
        async: call.async,
        ...(call.idempotencyKey !== undefined ? { idempotencyKey: call.idempotencyKey } : {}),
      });
      return answered(body);
    } catch (err) {
      return failed(err);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const held = new Set(await heldPermissions(client));
    return {
      resources: RESOURCES.filter((r) => held.has(r.permission)).map(
        ({ permission: _p, ...r }) => ({ ...r, mimeType: JSON_TYPE }),
      ),
    };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => {
    const held = new Set(await heldPermissions(client));
    return {
      resourceTemplates: RESOURCE_TEMPLATES.filter((r) => held.has(r.permission)).map(
        ({ permission: _p, ...r }) => ({ ...r, mimeType: JSON_TYPE }),
      ),
    };
  });

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const route = resourceRoute(uri);
    if (!route) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `there is no resource ${uri}; resources/list and resources/templates/list name them`,
      );
    }
    try {
      const { body } = await client.request('GET', route);
      const result: ReadResourceResult = {
        contents: [{ uri, mimeType: JSON_TYPE, text: JSON.stringify(body, null, 2) }],
      };
      return result;
    } catch (err) {
      if (err instanceof OsapiApiError || err instanceof OsapiConnectionError) {
        const status = err instanceof OsapiApiError ? `the API answered ${err.status}: ` : '';
        throw new McpError(ErrorCode.InvalidRequest, `${status}${err.message}`);
      }
      throw err;
    }
  });

  return server;
}
