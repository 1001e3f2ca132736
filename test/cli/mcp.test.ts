// `osapi mcp` (the compiled CLI) driven by the MCP SDK's client over stdio,
// against an in-process API with a real nats-server and an agent: it finds
// the API and the token as `osapi client` does (--url, the token from the
// environment), lists the tools the token may run, runs a query and a
// command through the API, refuses a change on _all without confirm, and the
// calls are in the audit log under the token's user.
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_TYPES, OPERATIONS } from '../../src/contract/operations.js';
import { BUILTIN_ROLES } from '../../src/contract/permissions.js';
import { toolName } from '../../src/mcp/tools.js';
import { writeLocalClient } from '../../src/state/local.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { BIN, childEnv, cleanup, tempDir } from './helpers.js';

const HOST = 'mcp-stdio-01';

let sys: TestSystem;
let admin: string;
const clients: Client[] = [];

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent(HOST);
  await sys.waitForAgents([HOST]);
  admin = await sys.token(['admin']);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await sys?.stop();
  await cleanup();
}, 30_000);

/** The environment as the transport takes it: no unset variables. */
function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

/** `osapi mcp` as a child process, with these arguments and settings. */
async function start(
  args: string[],
  stateDir: string,
  env: Record<string, string>,
): Promise<Client> {
  const client = new Client({ name: 'osapi-test', version: '1.0.0' });
  clients.push(client);
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', ...args],
      env: definedOnly(childEnv(stateDir, env)),
      stderr: 'pipe',
    }),
  );
  return client;
}

/** `osapi mcp --url URL`, its token from the environment. */
function connect(token: string): Promise<Client> {
  return start(['--url', sys.url], tempDir('osapi-mcp-'), {
    OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
  });
}

function answerOf(result: CallToolResult): AnyJson {
  const first = result.content[0];
  if (first?.type !== 'text') throw new Error('the result has no text');
  return JSON.parse(first.text);
}

function expectedTools(permissions: readonly string[]): string[] {
  return OPERATION_TYPES.filter((t) => permissions.includes(OPERATIONS[t].permission))
    .map(toolName)
    .sort();
}

describe('osapi mcp (stdio)', () => {
  it('lists the tools of a read token (no change among them) and of an admin token (all)', async () => {
    const read = await connect(await sys.token(['read']));
    const readTools = (await read.listTools()).tools;
    expect(readTools.map((t) => t.name).sort()).toEqual(expectedTools(BUILTIN_ROLES.read));
    expect(readTools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    await read.close();

    const all = await connect(admin);
    const names = (await all.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedTools(BUILTIN_ROLES.admin));
    expect(names).toContain('command_exec_execute');
  });

  it('runs a query and a command through the API, refuses _all without confirm, and both are audited', async () => {
    const client = await connect(admin);
    const query = (await client.callTool({
      name: 'node_hostname_get',
      arguments: { target: HOST },
    })) as CallToolResult;
    expect(query.isError).toBeFalsy();
    expect(answerOf(query).results[0]).toMatchObject({ hostname: HOST, status: 'completed' });

    const command = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: HOST, command: 'echo', args: ['over-stdio'] },
    })) as CallToolResult;
    expect(command.isError).toBeFalsy();
    expect(answerOf(command).results[0]).toMatchObject({ exit_code: 0, stdout: 'over-stdio\n' });

    const refused = (await client.callTool({
      name: 'command_exec_execute',
      arguments: { target: '_all', command: 'echo', args: ['never-sent'] },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('confirm: true');

    await sys.api.audit.flush();
    const entries = (await request(sys, 'GET', '/audit?limit=100', undefined, admin)).body
      .items as AnyJson[];
    expect(entries.find((e) => e.args?.[0] === 'over-stdio')).toMatchObject({
      user: 'tester@example.com',
      operation_id: 'POST /node/:hostname/command/exec',
      target: HOST,
      response_code: 202,
    });
    expect(entries.some((e) => e.path === `/node/${HOST}/hostname`)).toBe(true);
    expect(entries.some((e) => e.args?.[0] === 'never-sent')).toBe(false);
  });

  it('without flags, reaches the API and token of the local client file, as osapi client does', async () => {
    const stateDir = tempDir('osapi-mcp-local-');
    writeLocalClient(stateDir, { url: sys.url, token: await sys.token(['read']) });
    const client = await start([], stateDir, {});
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedTools(BUILTIN_ROLES.read));
  });

  it('answers what was asked before its input ended, then exits 0', async () => {
    const messages = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'pipe', version: '1' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    ];
    const child = spawn(process.execPath, [BIN, 'mcp', '--url', sys.url], {
      env: childEnv(tempDir('osapi-mcp-pipe-'), { OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: admin }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      child.stdin.end(messages.map((m) => `${JSON.stringify(m)}\n`).join(''));
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const answers = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(answers[1].result.tools).toHaveLength(OPERATION_TYPES.length);
  });

  it('tells a client without a valid token why it lists nothing', async () => {
    const client = await connect('not-a-token');
    await expect(client.listTools()).rejects.toThrow(/token/);
  });
});
