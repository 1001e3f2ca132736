// Body and target validation of POST /node/{target}/command/exec|shell: every
// bad request is a 400 naming the field, and no bad request ever becomes a job.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf } from '../support/buckets.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';
import { kvKeys, storeFor, type TempDir, tempDir, waitFor } from './helpers.js';

let sys: TestSystem;
let token: string;
let dir: TempDir;
let sideEffect: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('val-01');
  await sys.waitForAgents(['val-01']);
  token = await sys.token();
  dir = tempDir('validation');
  sideEffect = join(dir.path, 'ran');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

/** A command that, were it ever run, would leave a file behind. */
const append = () => `echo ran >> ${sideEffect}`;

function expect400(r: Awaited<ReturnType<typeof post>>, field: string | RegExp) {
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ code: 400, reason: 'invalid_request' });
  expect(typeof r.body.error).toBe('string');
  expect(r.body.error).toMatch(field);
  expect(Array.isArray(r.body.fields)).toBe(true);
  expect(r.body.fields.length).toBeGreaterThan(0);
  expect(typeof r.body.details).toBe('string');
}

type Case = [name: string, body: Record<string, unknown>, field: RegExp];

const common = (): Case[] => [
  ['command missing', { cwd: '/tmp' }, /command is required/],
  ['command empty', { command: '' }, /command must not be empty/],
  ['command a number', { command: 42 }, /command must be string/],
  ['command null', { command: null }, /command must be string/],
  ['command an array', { command: ['ls'] }, /command must be string/],
  ['cwd empty', { command: append(), cwd: '' }, /cwd must not be empty/],
  ['cwd not a string', { command: append(), cwd: 7 }, /cwd must be string/],
  ['timeout 0', { command: append(), timeout: 0 }, /timeout must be >= 1/],
  ['timeout 301', { command: append(), timeout: 301 }, /timeout must be <= 300/],
  ['timeout -5', { command: append(), timeout: -5 }, /timeout must be >= 1/],
  ['timeout 1.5', { command: append(), timeout: 1.5 }, /timeout must be integer/],
  ['timeout "30" (no coercion)', { command: append(), timeout: '30' }, /timeout must be integer/],
  ['timeout true', { command: append(), timeout: true }, /timeout must be integer/],
  ['unknown field', { command: append(), sudo: true }, /sudo is not a known field/],
];

describe('exec body validation', () => {
  const cases: Case[] = [
    ...common(),
    ['args not an array', { command: 'sh', args: '-c true' }, /args must be array/],
    ['args of numbers', { command: 'sh', args: ['-c', 1] }, /args\[1\] must be string/],
    ['args of objects', { command: 'sh', args: [{}] }, /args\[0\] must be string/],
    ['args null', { command: 'sh', args: null }, /args must be array/],
  ];
  it.each(cases)('%s → 400 naming the field', async (_name, body, field) => {
    const r = await post(sys, '/node/_any/command/exec', body, token);
    expect400(r, field);
    expect(r.body.error).toMatch(/^invalid body: /);
  });
});

describe('shell body validation', () => {
  const cases: Case[] = [
    ...common(),
    ['args (exec only)', { command: append(), args: ['x'] }, /args is not a known field/],
  ];
  it.each(cases)('%s → 400 naming the field', async (_name, body, field) => {
    const r = await post(sys, '/node/_any/command/shell', body, token);
    expect400(r, field);
  });
});

describe('bodies that are not a JSON object', () => {
  for (const kind of ['exec', 'shell']) {
    it(`${kind}: malformed JSON → 400`, async () => {
      const r = await post(sys, `/node/_any/command/${kind}`, '{"command": "ls"', token);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 400, reason: 'invalid_request' });
      expect(r.body.error).toMatch(/JSON/i);
    });

    it(`${kind}: empty body → 400`, async () => {
      const r = await request(sys, 'POST', `/node/_any/command/${kind}`, '', token, {
        'content-type': 'application/json',
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 400, reason: 'invalid_request' });
      expect(r.body.error).toMatch(/body/i);
    });

    it(`${kind}: a JSON array → 400 naming the body`, async () => {
      const r = await post(sys, `/node/_any/command/${kind}`, [{ command: append() }], token);
      expect400(r, /body must be object/);
    });

    it(`${kind}: a JSON string → 400`, async () => {
      const r = await post(sys, `/node/_any/command/${kind}`, JSON.stringify(append()), token);
      expect400(r, /body must be object/);
    });
  }
});

describe('target validation', () => {
  const bad = ['group:', 'a b', ':x', 'group:web..dev', '_foo', 'group:web.', 'a:b:c', 'web$01'];
  it.each(bad)('target %j → 400 invalid_target', async (target) => {
    const path = `/node/${encodeURIComponent(target)}/command/shell`;
    const r = await post(sys, path, { command: append() }, token);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 400, reason: 'invalid_target' });
    expect(r.body.error).toContain(target);
  });
});

describe('a refused request creates no job', () => {
  it('nothing above was stored as a job, and the side effect never happened', async () => {
    // Every request so far in this file was refused.
    const store = await storeFor(sys);
    expect(await kvKeys((await bucketsOf(store)).jobs, 'jobs.>')).toEqual([]);
    expect(await kvKeys((await bucketsOf(store)).jobs, 'status.>')).toEqual([]);
    expect(existsSync(sideEffect)).toBe(false);
  });

  it('the same command in a valid request does run (the check above can fail)', async () => {
    const r = await post(sys, '/node/_any/command/shell', { command: append() }, token);
    expect(r.status).toBe(202);
    expect(r.body.results).toHaveLength(1);
    expect(r.body.results[0]).toMatchObject({ hostname: 'val-01', exit_code: 0 });
    expect(existsSync(sideEffect)).toBe(true);
    const store = await storeFor(sys);
    await waitFor(
      'one job key',
      async () => (await kvKeys((await bucketsOf(store)).jobs, 'jobs.>')).length === 1,
    );
  });
});
