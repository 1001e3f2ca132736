import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let token: string;

beforeAll(async () => {
  sys = await startTestSystem();
  token = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

describe('request bodies', () => {
  it('reports every problem of a body at once', async () => {
    const r = await request(
      sys,
      'POST',
      '/node/_any/command/exec',
      { command: '', timeout: 500, x: 1 },
      token,
    );
    expect(r.status).toBe(400);
    const fields = r.body.fields.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['command', 'timeout', 'x']);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'answers 415 to a %s body',
    async (type) => {
      const r = await request(sys, 'POST', '/node/_any/command/exec', 'command=ls', token, {
        'content-type': type,
      });
      expect(r.status).toBe(415);
      expect(r.body).toMatchObject({ code: 415, reason: 'unsupported_media_type' });
    },
  );

  it('answers 413 to a body over 1 MiB', async () => {
    const big = JSON.stringify({ command: 'x'.repeat(1024 * 1024 + 10) });
    const r = await request(sys, 'POST', '/node/_any/command/exec', big, token);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ code: 413, reason: 'payload_too_large' });
  });
});
