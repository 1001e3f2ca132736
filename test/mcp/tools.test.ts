// The MCP tools made from the operation declarations: one per operation, its
// name the operation's with underscores for dots, its input schema the
// declaration's plus target/async/idempotency_key (and confirm for a change),
// the confirmation a change on more than one named host needs, the checks
// a call meets before it is sent, and the routes the resources read.
import { describe, expect, it } from 'vitest';
import { OPERATION_TYPES, OPERATIONS } from '../../src/contract/operations.js';
import { resourceRoute } from '../../src/mcp/server.js';
import {
  operationOfTool,
  reachesGroup,
  readToolCall,
  ToolRefusal,
  toolDefinition,
  toolName,
  toolsFor,
} from '../../src/mcp/tools.js';

describe('MCP tool names', () => {
  it('are the operation names with underscores, within what MCP allows, and map back', () => {
    expect(toolName('node.hostname.get')).toBe('node_hostname_get');
    expect(toolName('command.exec.execute')).toBe('command_exec_execute');
    for (const type of OPERATION_TYPES) {
      const name = toolName(type);
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
      expect(operationOfTool(name)).toBe(type);
    }
    expect(new Set(OPERATION_TYPES.map(toolName)).size).toBe(OPERATION_TYPES.length);
    expect(operationOfTool('node.hostname.get')).toBeUndefined();
    expect(operationOfTool('toString')).toBeUndefined();
  });
});

describe('MCP tool definitions', () => {
  it("carry the declaration's summary, route, permission and input schema", () => {
    const tool = toolDefinition('network.dns.update');
    const decl = OPERATIONS['network.dns.update'];
    expect(tool.title).toBe(decl.summary);
    expect(tool.description).toContain('PUT /node/{target}/network/dns');
    expect(tool.description).toContain('network:write');
    expect(tool.inputSchema.required).toEqual(['interface_name']);
    for (const field of Object.keys(decl.input.properties)) {
      expect(tool.inputSchema.properties[field]).toEqual(
        JSON.parse(JSON.stringify((decl.input.properties as Record<string, unknown>)[field])),
      );
    }
    expect(Object.keys(tool.inputSchema.properties)).toEqual(
      expect.arrayContaining(['target', 'async', 'idempotency_key', 'confirm']),
    );
  });

  it('give a query no confirm and mark it read-only', () => {
    const tool = toolDefinition('node.uptime.get');
    expect(tool.inputSchema.properties).not.toHaveProperty('confirm');
    expect(tool.inputSchema).not.toHaveProperty('required');
    expect(tool.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
  });

  it('are offered by the permissions a token holds', () => {
    expect(toolsFor([])).toEqual([]);
    const names = toolsFor(['node:read']).map((t) => t.name);
    expect(names).toEqual(
      OPERATION_TYPES.filter((t) => OPERATIONS[t].permission === 'node:read').map(toolName),
    );
    expect(names).toContain('node_hostname_get');
    expect(names).not.toContain('node_hostname_update');
  });
});

describe('a tool call', () => {
  it('splits the target and options from the input, _any by default', () => {
    expect(
      readToolCall('network.ping.do', { address: '127.0.0.1', async: true, idempotency_key: 'k' }),
    ).toEqual({
      target: '_any',
      async: true,
      confirm: false,
      idempotencyKey: 'k',
      input: { address: '127.0.0.1' },
    });
  });

  it('refuses a change on _all, a label or a fact comparison without confirm: true', () => {
    for (const target of ['_all', 'group:web', 'fact:os.family=debian']) {
      expect(reachesGroup(target)).toBe(true);
      expect(() => readToolCall('service.restart', { target, name: 'nginx' })).toThrow(ToolRefusal);
      expect(() =>
        readToolCall('service.restart', { target, name: 'nginx', confirm: 'yes' }),
      ).toThrow(/confirm must be true or false/);
      expect(
        readToolCall('service.restart', { target, name: 'nginx', confirm: true }).input,
      ).toEqual({ name: 'nginx' });
    }
    // One host, any one agent, and a read on _all need no confirmation.
    expect(readToolCall('service.restart', { target: 'web-01', name: 'nginx' }).target).toBe(
      'web-01',
    );
    expect(readToolCall('service.restart', { name: 'nginx' }).target).toBe('_any');
    expect(readToolCall('service.list', { target: '_all' }).target).toBe('_all');
    expect(reachesGroup('not a host')).toBe(false);
  });

  it('refuses, before anything is sent, an invalid target or input, naming what is wrong', () => {
    expect(() => readToolCall('node.hostname.get', { target: 'not a host' })).toThrow(
      /^target: invalid target "not a host"/,
    );
    expect(() => readToolCall('service.get', { target: 'web-01', name: '-rf' })).toThrow(
      /invalid input, nothing was sent: name: must be a service name/,
    );
    expect(() => readToolCall('network.ping.do', { target: 'web-01' })).toThrow(/address/);
    // A path value that would move the request to another route once the URL is resolved.
    expect(() =>
      readToolCall('user.sshkey.remove', { target: 'web-01', name: 'alice', fingerprint: '..' }),
    ).toThrow('fingerprint: must not be "." or ".."; nothing was sent');
    expect(() => readToolCall('node.hostname.get', { target: '..' })).toThrow(ToolRefusal);
  });
});

describe('MCP resources', () => {
  it('read the routes of the agents and the jobs, and name no other', () => {
    expect(resourceRoute('osapi://agents')).toBe('/agent');
    expect(resourceRoute('osapi://jobs')).toBe('/job?limit=50');
    expect(resourceRoute('osapi://agent/web-01')).toBe('/agent/web-01');
    expect(resourceRoute('osapi://job/a%2Fb')).toBe('/job/a%2Fb');
    for (const uri of [
      'osapi://agent/..',
      'osapi://agent/%2E%2E',
      'osapi://job/%E0%A4%A',
      'osapi://agent/a/b',
      'osapi://audit',
      'file:///etc/passwd',
    ]) {
      expect(resourceRoute(uri), uri).toBeUndefined();
    }
  });
});
