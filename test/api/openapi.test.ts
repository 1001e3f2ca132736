// GET /openapi.json is generated from the route schemas: every registered
// route is in it with its permission, nothing else is, and every example in
// it validates against the schema beside it.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../support/routes.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let doc: AnyJson;

beforeAll(async () => {
  sys = await startTestSystem();
  const r = await request(sys, 'GET', '/openapi.json');
  expect(r.status).toBe(200);
  doc = r.body;
});
afterAll(async () => {
  await sys?.stop();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** `/job/:id` → `/job/{id}`, as OpenAPI spells a path parameter. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function escapePointer(s: string): string {
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Every example in the document that does not validate, as `pointer: why`:
 * schema `examples` arrays (JSON Schema 2020-12, as OpenAPI 3.1 has them) and
 * media-type `example` / `examples`, each against the schema it sits with.
 */
function exampleProblems(document: AnyJson): { checked: number; problems: string[] } {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const problems: string[] = [];
  let checked = 0;
  const check = (schemaPointer: string, value: unknown, where: string) => {
    checked++;
    const validate = ajv.compile({ $ref: `openapi.json#${schemaPointer}` });
    if (!validate(value)) problems.push(`${where}: ${ajv.errorsText(validate.errors)}`);
  };
  const walk = (node: unknown, pointer: string, inPaths: boolean) => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const isSchema = 'type' in o || 'properties' in o || '$ref' in o;
    if (Array.isArray(o.examples) && isSchema) {
      o.examples.forEach((ex, i) => {
        check(pointer, ex, `${pointer}/examples/${i}`);
      });
    }
    // A media type object: { schema, example? , examples? }.
    if (inPaths && o.schema && typeof o.schema === 'object') {
      if ('example' in o) check(`${pointer}/schema`, o.example, `${pointer}/example`);
      if (o.examples && !Array.isArray(o.examples)) {
        for (const [name, ex] of Object.entries(o.examples as Record<string, { value: unknown }>)) {
          check(`${pointer}/schema`, ex.value, `${pointer}/examples/${name}`);
        }
      }
    }
    for (const [k, v] of Object.entries(o)) {
      walk(v, `${pointer}/${escapePointer(k)}`, inPaths || k === 'paths');
    }
  };
  walk(document, '', false);
  return { checked, problems };
}

describe('GET /openapi.json', () => {
  it('is OpenAPI 3.1 with a bearer security scheme, open to anyone', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('lists every registered route, with its permission', async () => {
    const routes = await registeredRoutes();
    expect(routes.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
      if (!op) {
        missing.push(`${r.method} ${r.url}`);
        continue;
      }
      expect(op['x-permission'], `${r.method} ${r.url}`).toBe(r.permission);
      if (r.permission === 'public') {
        expect(op.security).toEqual([]);
      } else {
        expect(op.security).toEqual([{ bearer: [] }]);
        expect(op.description).toContain(`\`${String(r.permission)}\``);
      }
    }
    expect(missing).toEqual([]);
  });

  it('lists nothing the server does not serve', () => {
    const extra: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, AnyJson>)) {
      for (const method of METHODS.filter((m) => m in item)) {
        const url = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
        if (!sys.api.app.hasRoute({ method: method.toUpperCase(), url })) {
          extra.push(`${method} ${path}`);
        }
      }
    }
    expect(extra).toEqual([]);
  });

  it('documents the routes own answers and the errors a token can bring', () => {
    const status = doc.paths['/health/status'].get;
    expect(Object.keys(status.responses).sort()).toEqual(['200', '401', '403', '503']);
    expect(status['x-permission']).toBe('health:read');
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
    // The job stream answers an event stream, and its errors as JSON like every route.
    const stream = doc.paths['/job/{id}/stream'].get;
    expect(stream['x-permission']).toBe('job:read');
    expect(Object.keys(stream.responses['200'].content)).toEqual(['text/event-stream']);
    expect(Object.keys(stream.responses['400'].content)).toEqual(['application/json']);
    expect(stream.parameters.map((p: { name: string }) => p.name)).toContain('last-event-id');
    const exec = doc.paths['/node/{hostname}/command/exec'].post;
    expect(
      exec.responses['400'].content['application/json'].schema.properties.reason,
    ).toBeDefined();
  });

  it('carries request examples, and every example validates against its schema', () => {
    const exec = doc.paths['/node/{hostname}/command/exec'].post.requestBody.content;
    const job = doc.paths['/job'].post.requestBody.content;
    const shell = doc.paths['/node/{hostname}/command/shell'].post.requestBody.content;
    for (const media of [exec, job, shell]) {
      const m = media['application/json'];
      expect(m.example ?? m.examples ?? m.schema.examples).toBeDefined();
    }
    const { checked, problems } = exampleProblems(doc);
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it('the example check catches an example that does not validate', () => {
    const broken = structuredClone(doc);
    const media = broken.paths['/job'].post.requestBody.content['application/json'];
    const bad = { operation: { type: 'no.such.type', data: {} }, target_hostname: '_all' };
    if (media.examples) media.examples.bad = { value: bad };
    else media.example = bad;
    const { problems } = exampleProblems(broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/\/paths\/~1job\/post/);
  });
});
