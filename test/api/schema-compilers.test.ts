// Route schemas are compiled at first use (src/api/schema-compilers.ts): every
// one of the server's compiles, none is compiled before a request needs it,
// and a compiled one gives Ajv's and fast-json-stringify's answers, called as
// Fastify calls them.
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lazySchemaCompilers } from '../../src/api/schema-compilers.js';
import { schemaCompilersOf } from '../../src/api/server.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

describe('the API server', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    // Every optional route on, so every schema is counted.
    sys = await startTestSystem({
      overrides: { 'api.server.mcp.enabled': true, 'api.server.ui.enabled': true },
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('compiles a route’s schemas when a request first needs them, and every one compiles', async () => {
    const compilers = schemaCompilersOf(sys.api.app);
    if (!compilers) throw new Error('the server made no schema compilers');
    const atStart = compilers.counts();
    expect(atStart.made).toBeGreaterThan(100);
    expect(atStart.compiled).toBeLessThan(atStart.made / 10);

    const refused = await request(sys, 'GET', '/job?limit=abc', undefined, await sys.token());
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/limit/);
    const afterOne = compilers.counts();
    expect(afterOne.compiled).toBeGreaterThan(atStart.compiled);
    expect(afterOne.compiled).toBeLessThan(atStart.made / 5);

    compilers.compileAll();
    expect(compilers.counts()).toEqual({ compiled: afterOne.made, made: afterOne.made });
  });
});

describe('lazySchemaCompilers', () => {
  const body = {
    type: 'object',
    properties: { timeout: { type: 'integer', maximum: 300 } },
    required: ['timeout'],
    additionalProperties: false,
  };
  const strict = () => new Ajv({ allErrors: true, coerceTypes: false, strict: false });
  const lenient = () => new Ajv({ allErrors: true, coerceTypes: true, strict: false });

  it('a validator gives the compiled one’s answer and errors, compiled once', () => {
    const ajv = strict();
    const compile = vi.spyOn(ajv, 'compile');
    const c = lazySchemaCompilers(ajv, lenient());
    const validate = c.validator({ schema: body, httpPart: 'body' });
    expect(compile).not.toHaveBeenCalled();
    expect(c.counts()).toEqual({ compiled: 0, made: 1 });
    expect(validate({ timeout: 301 })).toBe(false);
    expect(validate.errors?.map((e) => `${e.instancePath} ${e.keyword}`)).toEqual([
      '/timeout maximum',
    ]);
    expect(validate({ timeout: 30 })).toBe(true);
    expect(validate.errors).toBeNull();
    expect(c.counts()).toEqual({ compiled: 1, made: 1 });
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('a validator takes the data context Fastify passes, so a coerced root value is written back', () => {
    const c = lazySchemaCompilers(strict(), lenient());
    const validate = c.validator({ schema: { type: 'integer' }, httpPart: 'querystring' });
    // Fastify passes the context only to a validator that says it takes one, as Ajv's do.
    expect(validate.schemaEnv).toBe(true);
    const request = { query: '5' as unknown };
    const context = { parentData: request, parentDataProperty: 'query' };
    expect(validate('5', context as unknown as Parameters<typeof validate>[1])).toBe(true);
    expect(request.query).toBe(5);
  });

  it('a body is checked without coercion, a query string with it', () => {
    const c = lazySchemaCompilers(strict(), lenient());
    expect(c.validator({ schema: body, httpPart: 'body' })({ timeout: '30' })).toBe(false);
    expect(c.validator({ schema: body, httpPart: 'querystring' })({ timeout: '30' })).toBe(true);
  });

  it('a serializer writes only what its schema declares', () => {
    const c = lazySchemaCompilers(strict(), lenient());
    const serialize = c.serializer({
      schema: { type: 'object', properties: { id: { type: 'string' } } },
      method: 'GET',
      url: '/x',
      httpStatus: '200',
    });
    expect(serialize({ id: 'a', secret: 'b' })).toBe('{"id":"a"}');
  });

  it('a schema that does not compile throws its error at each use and at compileAll', () => {
    const c = lazySchemaCompilers(strict(), lenient());
    const validate = c.validator({ schema: { type: 'no-such-type' }, httpPart: 'body' });
    expect(() => validate({})).toThrow(/must be JSONType|schema is invalid/);
    expect(() => validate({})).toThrow(/must be JSONType|schema is invalid/);
    expect(c.counts()).toEqual({ compiled: 0, made: 1 });
    expect(() => c.compileAll()).toThrow(/must be JSONType|schema is invalid/);
  });
});
