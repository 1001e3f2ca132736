// Every pattern of every operation's input says in words what it asks for:
// a 400 never answers with a regular expression or with words meant for
// another field. And the API's own 400 says those words.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/contract/operations.js';
import { patternMessage } from '../../src/contract/pattern-messages.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

interface Schema {
  pattern?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  propertyNames?: Schema;
  patternProperties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
}

/** Each pattern a request could break, with where it is. */
function patternsOf(s: Schema | undefined, where: string, out: Map<string, string>): void {
  if (!s || typeof s !== 'object') return;
  if (typeof s.pattern === 'string' && !out.has(s.pattern)) out.set(s.pattern, where);
  patternsOf(s.propertyNames, `${where} (its names)`, out);
  for (const [k, v] of Object.entries(s.properties ?? {})) patternsOf(v, `${where}.${k}`, out);
  // A record's key pattern (`^.*$`) is how values are found, never a rule a key breaks.
  for (const v of Object.values(s.patternProperties ?? {})) patternsOf(v, `${where}{}`, out);
  patternsOf(s.items, `${where}[]`, out);
  for (const x of s.anyOf ?? []) patternsOf(x, where, out);
  if (typeof s.additionalProperties === 'object') patternsOf(s.additionalProperties, where, out);
}

describe('pattern messages', () => {
  it('every pattern of every operation input has its words', () => {
    const found = new Map<string, string>();
    for (const [type, decl] of Object.entries(OPERATIONS)) {
      patternsOf(decl.input as Schema, type, found);
    }
    const without = [...found].filter(([p]) => patternMessage(p) === undefined);
    expect(without.map(([p, where]) => `${where}: ${p}`)).toEqual([]);
    expect(found.size).toBeGreaterThan(20);
  });
});

describe("the API's 400 for a broken pattern", () => {
  let sys: TestSystem;
  let token: string;
  beforeAll(async () => {
    sys = await startTestSystem();
    token = await sys.token(['admin']);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it.each([
    ['PUT', '/node/_any/hostname', { hostname: '-rf' }, 'hostname', 'must be a host name'],
    [
      'PUT',
      '/node/_any/timezone',
      { timezone: '../../etc/passwd' },
      'timezone',
      'tz database name',
    ],
    ['POST', '/node/_any/sysctl', { key: 'vm.swappiness', value: '1\n2' }, 'value', 'printable'],
  ])('%s %s names the field and says what it takes', async (method, path, body, field, words) => {
    const r = await request(sys, method, path, body, token);
    expect(r.status).toBe(400);
    const problem = r.body.fields.find((f: { field: string }) => f.field === field);
    expect(problem.message).toContain(words);
    expect(problem.message).not.toContain('NUL');
  });
});
