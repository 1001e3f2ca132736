import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let token: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('web-01', { group: 'web.dev.us-east' });
  await sys.startAgent('web-02', { group: 'web.prod' });
  await sys.startAgent('db-01', { group: 'db' });
  await sys.waitForAgents(['web-01', 'web-02', 'db-01']);
  token = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

const hosts = (body: { results: Array<{ hostname: string }> }) =>
  body.results.map((r) => r.hostname).sort();

describe('targets reach exactly the agents they name', () => {
  it('_all reaches every agent', async () => {
    const r = await post(sys, '/node/_all/command/exec', { command: 'hostname' }, token);
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual(['db-01', 'web-01', 'web-02']);
  });

  it('a hostname reaches that host only', async () => {
    const r = await post(sys, '/node/web-02/command/shell', { command: 'echo $0' }, token);
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual(['web-02']);
  });

  it('a label prefix reaches every agent under it', async () => {
    const r = await post(sys, '/node/group:web/command/exec', { command: 'true' }, token);
    expect(hosts(r.body)).toEqual(['web-01', 'web-02']);
    const dev = await post(sys, '/node/group:web.dev/command/exec', { command: 'true' }, token);
    expect(hosts(dev.body)).toEqual(['web-01']);
    const full = await post(
      sys,
      '/node/group:web.dev.us-east/command/exec',
      { command: 'true' },
      token,
    );
    expect(hosts(full.body)).toEqual(['web-01']);
  });

  it('_any runs on exactly one agent', async () => {
    const r = await post(sys, '/node/_any/command/exec', { command: 'true' }, token);
    expect(r.status).toBe(202);
    expect(r.body.results).toHaveLength(1);
  });

  it('a target no agent matches answers at once and runs nothing', async () => {
    const r = await post(sys, '/node/group:nope/command/exec', { command: 'true' }, token);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 404, reason: 'no_matching_agent' });
    expect(r.body.error).toMatch(/no Ready agent matches target group:nope/);
  });
});
