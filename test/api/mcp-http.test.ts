// The MCP server at /mcp (api.server.mcp.enabled), driven by the MCP SDK's
// own client over streamable HTTP against a real nats-server and two agents:
// the tools a token lists, a query and a command run through the API, a
// role's command policy, a change on _all refused without confirm,
// idempotency keys, async calls, the agents and jobs resources, and the
// audit entries naming the calls. Without the switch there is no /mcp.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_TYPES, OPERATIONS } from '../../src/contract/operations.js';
import { BUILTIN_ROLES } from '../../src/contract/permissions.js';
import { toolName } from '../../src/mcp/tools.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

const HOSTS = ['mcp-h-01', 'mcp-h-02'];

let sys: TestSystem;
let admin: string;
let reader: string;
const clients: Client[] = [];

beforeAll(async () => {
  sys = await startTestSystem({
    overrides: {
      'api.server.mcp.enabled': true,
      // A role limited to some commands: its policy applies to a tool call as to any request.
      'api.server.security.roles': {
        ops: { permissions: ['command:execute', 'node:read'], commands: { exec: ['echo *'] } },
      },
    },
  });
  for (const h of HOSTS) await sys.startAgent(h, { group: 'mcp' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await sys?.stop();
});

/** An MCP client connected to /mcp with this bearer token. */
async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'osapi-test', version: '1.0.0' });
  clients.push(client);
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', sys.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** The tool result's JSON answer. */
function answerOf(result: CallToolResult): AnyJson {
  const first = result.content[0];
  if (first?.type !== 'text') throw new Error('the result has no text');
  return JSON.parse(first.text);
}

/** A resource's JSON, which it carries as text. */
async function readJson(client: Client, uri: string): Promise<AnyJson> {
  const [content] = (await client.readResource({ uri })).contents;
  if (!content || !('text' in content)) throw new Error(`${uri} has no text`);
  expect(content).toMatchObject({ uri, mimeType: 'application/json' });
  return JSON.parse(content.text);
}

/** The tools of the operations these permissions allow. */
function expectedTools(permissions: readonly string[]): string[] {
  return OPERATION_TYPES.filter((t) => permissions.includes(OPERATIONS[t].permission))
    .map(toolName)
    .sort();
}

describe('MCP over streamable HTTP at /mcp', () => {
  it('lists for a read token only the reads its role allows, each with its declared schema', async () => {
    const client = await connect(reader);
    expect(client.getServerVersion()?.name).toBe('osapi');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedTools(BUILTIN_ROLES.read));
    expect(names).toContain('node_hostname_get');
    expect(names).not.toContain('command_exec_execute');
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    expect(
      tools.some((t) => t.inputSchema.properties && 'confirm' in t.inputSchema.properties),
    ).toBe(false);
    const ping = tools.find((t) => t.name === 'sysctl_get');
    expect(ping?.inputSchema.required).toEqual(['key']);
    expect(ping?.description).toContain('GET /node/{target}/sysctl/{key}');
  });

  it('lists every operation for an admin token, a change with confirm in its schema', async () => {
    const client = await connect(admin);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(expectedTools(BUILTIN_ROLES.admin));
    expect(tools).toHaveLength(OPERATION_TYPES.length);
    const exec = tools.find((t) => t.name === 'command_exec_execute');
    expect(exec?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(Object.keys(exec?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['command', 'args', 'target', 'confirm', 'idempotency_key']),
    );
    expect(exec?.inputSchema.required).toEqual(['command']);
  });

  it('runs a query through the API: node_hostname_get on every host of a label', async () => {
    const client = await connect(reader);
    const result = (await client.callTool({
      name: 'node_hostname_get',
      arguments: { target: 'group:mcp' },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const answer = answerOf(result);
    expect(result.structuredContent).toEqual(answer);
    expect(answer.results.map((r: AnyJson) => r.hostname).sort()).toEqual(HOSTS);
    for (const item of answer.results) {
      expect(item.status).toBe('completed');
    }
  });

  it('runs a command on one host; a read token is refused it by the API with its message', async () => {
    const client = await connect(admin);
    const result = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: 'mcp-h-01', command: 'echo', args: ['from-mcp'] },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const [item] = answerOf(result).results;
    expect(item).toMatchObject({ hostname: 'mcp-h-01', exit_code: 0, stdout: 'from-mcp\n' });

    const refused = (await (
      await connect(reader)
    ).callTool({
      name: 'command_exec_execute',
      arguments: { target: 'mcp-h-01', command: 'echo', args: ['no'] },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(answerOf({ content: refused.content.slice(1) } as CallToolResult).reason).toBe(
      'forbidden',
    );
    expect(JSON.stringify(refused.content[0])).toContain('The API answered 403');
  });

  it("applies the token's command policy: a command outside it is the API's 403", async () => {
    const client = await connect(await sys.token(['ops']));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('command_exec_execute');
    const allowed = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: 'mcp-h-01', command: 'echo', args: ['allowed'] },
    })) as CallToolResult;
    expect(answerOf(allowed).results[0]).toMatchObject({ exit_code: 0, stdout: 'allowed\n' });
    const outside = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: 'mcp-h-01', command: 'cat', args: ['/etc/hostname'] },
    })) as CallToolResult;
    expect(outside.isError).toBe(true);
    expect(JSON.stringify(outside.content[0])).toContain('The API answered 403');
    expect(outside.structuredContent).toMatchObject({ status: 403, reason: 'forbidden' });
  });

  it('refuses a change on _all or a label without confirm: true, and sends nothing', async () => {
    const client = await connect(admin);
    const before = (await request(sys, 'GET', '/job?limit=100', undefined, admin)).body.total_items;
    for (const target of ['_all', 'group:mcp']) {
      const result = (await client.callTool({
        name: 'command_exec_execute',
        arguments: { target, command: 'true' },
      })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain('confirm: true');
    }
    expect((await request(sys, 'GET', '/job?limit=100', undefined, admin)).body.total_items).toBe(
      before,
    );
    const confirmed = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: '_all', command: 'true', confirm: true },
    })) as CallToolResult;
    expect(confirmed.isError).toBeFalsy();
    expect(answerOf(confirmed).results).toHaveLength(HOSTS.length);
  });

  it('sends idempotency_key as Idempotency-Key: the same key again answers the first job', async () => {
    const client = await connect(admin);
    const idempotencyKey = `mcp-${crypto.randomUUID()}`;
    const call = () =>
      client.callTool({
        name: 'command_exec_execute',
        arguments: {
          target: 'mcp-h-01',
          command: 'echo',
          args: ['once'],
          idempotency_key: idempotencyKey,
        },
      }) as Promise<CallToolResult>;
    const first = answerOf(await call());
    const again = answerOf(await call());
    expect(again.job_id).toBe(first.job_id);
  });

  it('with async: true answers the job id at once; the job resource has the results', async () => {
    const client = await connect(admin);
    const sent = answerOf(
      (await client.callTool({
        name: 'node_uptime_get',
        arguments: { target: 'mcp-h-02', async: true },
      })) as CallToolResult,
    );
    expect(sent.results).toEqual([]);
    expect(sent.job_id).toEqual(expect.any(String));
    const job = await readJson(client, `osapi://job/${sent.job_id}`);
    expect(job.id).toBe(sent.job_id);
  });

  it('offers agents and jobs as resources, read through the API', async () => {
    const client = await connect(admin);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(['osapi://agents', 'osapi://jobs']);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((r) => r.uriTemplate).sort()).toEqual([
      'osapi://agent/{hostname}',
      'osapi://job/{job_id}',
    ]);
    const list = await readJson(client, 'osapi://agents');
    expect(list.agents.map((a: AnyJson) => a.hostname).sort()).toEqual(HOSTS);
    expect((await readJson(client, 'osapi://agent/mcp-h-02')).hostname).toBe('mcp-h-02');
    const newest = (await readJson(client, 'osapi://jobs')).items[0];
    expect((await readJson(client, `osapi://job/${newest.id}`)).id).toBe(newest.id);
    await expect(
      client.readResource({ uri: `osapi://job/${crypto.randomUUID()}` }),
    ).rejects.toThrow(/the API answered 404/);
  });

  it('records each call in the audit log as the request it made, with the user of the token', async () => {
    const client = await connect(admin);
    await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: 'mcp-h-02', command: 'echo', args: ['audited'] },
    });
    await client.callTool({ name: 'node_hostname_get', arguments: { target: 'mcp-h-02' } });
    await sys.api.audit.flush();
    const { body } = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
    const entries = body.items as AnyJson[];
    const command = entries.find((e) => e.args?.[0] === 'audited');
    expect(command).toMatchObject({
      user: 'tester@example.com',
      roles: ['admin'],
      method: 'POST',
      path: '/node/mcp-h-02/command/exec',
      operation_id: 'POST /node/:hostname/command/exec',
      target: 'mcp-h-02',
      command: 'echo',
      response_code: 202,
    });
    expect(entries.some((e) => e.path === '/node/mcp-h-02/hostname' && e.method === 'GET')).toBe(
      true,
    );
    // The exchanges themselves are recorded too.
    expect(entries.some((e) => e.path === '/mcp' && e.method === 'POST')).toBe(true);
  });

  it('needs a valid token, as every route does', async () => {
    const res = await request(sys, 'POST', '/mcp', {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
    });
    expect(res.status).toBe(401);
    expect((await request(sys, 'GET', '/mcp', undefined, admin)).status).toBe(405);
  });
});

describe('without api.server.mcp.enabled', () => {
  it('has no /mcp', async () => {
    const off = await startTestSystem();
    try {
      const res = await request(off, 'POST', '/mcp', {}, await off.token(['admin']));
      expect(res.status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
