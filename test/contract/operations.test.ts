// Each operation is declared once (src/contract/operations.ts), and every
// place that offers it is made from that declaration: the route (method,
// path, permission, summary), the OpenAPI operation, the SDK method, the CLI
// command, the agent's handler. A declaration added without one of these, or
// one of these drifting from its declaration, fails here.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../src/agent/handlers/index.js';
import { listRoutes } from '../../src/api/route-table.js';
import { buildProgram } from '../../src/cli/main.js';
import {
  documentedRoute,
  fieldOfParam,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  operationCategory,
  operationData,
  operationTimeoutS,
  pathParams,
} from '../../src/contract/operations.js';
import { PERMISSIONS } from '../../src/contract/permissions.js';
import { OsapiClient } from '../../src/sdk/client.js';

const declared = OPERATION_TYPES.map(
  (type) => [type, OPERATIONS[type] as OperationDeclaration] as const,
);

/** The command at `words` under `osapi client`, or undefined. */
function cliCommand(words: readonly string[]): Command | undefined {
  let c: Command | undefined = buildProgram().commands.find((x) => x.name() === 'client');
  for (const w of words) c = c?.commands.find((x) => x.name() === w);
  return c;
}

describe('operation declarations', () => {
  it('names are unique and dotted, SDK names and CLI words unique too', () => {
    for (const [type] of declared) expect(type).toMatch(/^[a-z]+(\.[a-z]+){1,2}$/);
    const sdk = declared.map(([, d]) => d.sdk);
    expect(new Set(sdk).size).toBe(sdk.length);
    const words = declared.map(([, d]) => d.cli.command.join(' '));
    expect(new Set(words).size).toBe(words.length);
    const routes = declared.map(([, d]) => `${d.method} ${d.path}`);
    expect(new Set(routes).size).toBe(routes.length);
  });

  it('each one has a route with its method, path, permission and summary', async () => {
    const routes = await listRoutes();
    for (const [type, d] of declared) {
      const url = d.path.replace(/\{([A-Za-z]+)\}/g, ':$1');
      const route = routes.find((r) => r.method === d.method && r.url === url);
      expect(route, type).toBeDefined();
      expect(route?.permission, type).toBe(d.permission);
      expect(route?.summary, type).toBe(d.summary);
      expect(PERMISSIONS).toContain(d.permission);
    }
  });

  it('each path field is a field of the input, and a GET takes nothing else but optional query fields', () => {
    for (const [type, d] of declared) {
      const fields = pathParams(d).map(fieldOfParam);
      for (const f of fields) expect(Object.keys(d.input.properties), type).toContain(f);
      if (d.method === 'GET') {
        const required = (d.input as { required?: string[] }).required ?? [];
        expect([...required].sort(), type).toEqual(
          fields.filter((f) => required.includes(f)).sort(),
        );
        expect(
          fields.every((f) => required.includes(f)),
          type,
        ).toBe(true);
      }
    }
  });

  it('a GET sends its fields besides the path in the query string, checked there', async () => {
    const { OsapiClient } = await import('../../src/sdk/client.js');
    const asked: string[] = [];
    const client = new OsapiClient({
      url: 'http://127.0.0.1:1',
      fetch: async (url) => {
        asked.push(String(url));
        return new Response('{"job_id":"x","results":[]}', { status: 200 });
      },
    });
    await client.logUnitList('web-01', { name: 'ssh.service', lines: 5, priority: 'err' });
    expect(asked).toEqual([
      'http://127.0.0.1:1/node/web-01/log/unit/ssh.service?lines=5&priority=err',
    ]);
  });

  it('each one has an SDK method of its declared name', () => {
    for (const [type, d] of declared) {
      expect(
        typeof (OsapiClient.prototype as unknown as Record<string, unknown>)[d.sdk],
        type,
      ).toBe('function');
    }
  });

  it('each one has a CLI command at its declared words, described by its summary', () => {
    for (const [type, d] of declared) {
      const c = cliCommand(d.cli.command);
      expect(c, `${type}: osapi client ${d.cli.command.join(' ')}`).toBeDefined();
      expect(c?.description(), type).toBe(`${d.summary} (${documentedRoute(d)}).`);
      if (d.cli.generated === false) continue;
      // A flag per input field, and the target.
      const flags = c?.options.map((o) => o.long) ?? [];
      for (const f of Object.keys(d.input.properties)) {
        expect(flags, type).toContain(`--${d.cli.flagNames?.[f] ?? f.replaceAll('_', '-')}`);
      }
      expect(flags).toContain('--target');
      // osapi reads its own options wherever they stand: a command's flag of the same name would never reach it.
      const own = buildProgram().options.flatMap((o) => [o.long, o.short]);
      const mine = c?.options.flatMap((o) => [o.long, o.short]) ?? [];
      for (const f of mine) if (f) expect(own, `${type}: ${f}`).not.toContain(f);
    }
  });

  it('each one has an agent handler', () => {
    for (const [type] of declared) expect(typeof HANDLERS[type], type).toBe('function');
    expect(Object.keys(HANDLERS).sort()).toEqual([...OPERATION_TYPES].sort());
  });

  it('a change offers rate control and travels as modify; a query does neither', () => {
    for (const [type, d] of declared) {
      expect(operationCategory(type)).toBe(d.kind);
      const keys = Object.keys(d.input.properties);
      if (d.kind === 'modify')
        expect(keys, type).toEqual(expect.arrayContaining(['max_concurrency', 'max_errors']));
      else expect(keys, type).not.toContain('max_concurrency');
    }
  });

  it("the job's data leaves rate control out and applies a command's defaults", () => {
    expect(
      operationData('network.dns.update', {
        search_domains: [],
        interface_name: 'eth0',
        max_concurrency: 2,
        max_errors: '10%',
      }),
    ).toEqual({ search_domains: [], interface_name: 'eth0' });
    expect(operationData('command.exec.execute', { command: 'true', max_concurrency: 1 })).toEqual({
      command: 'true',
      args: [],
      timeout: 30,
    });
  });

  it("an agent's time is the declared default, or the data's own timeout within the maximum", () => {
    expect(operationTimeoutS('node.os.get', {})).toBe(10);
    expect(operationTimeoutS('command.shell.execute', { timeout: 7 })).toBe(7);
    expect(operationTimeoutS('command.shell.execute', { timeout: 301 })).toBe(30);
    expect(operationTimeoutS('command.shell.execute', null)).toBe(30);
  });
});
