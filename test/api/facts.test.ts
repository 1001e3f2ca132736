// Facts through the API, against a real nats-server with several agents:
// GET /agent shows each agent's facts, GET /facts/keys the keys in use, and
// one broadcast with `@fact.` references runs with each host's own values; a
// key one host lacks fails that host only, and nothing runs there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let token: string;
const HOSTS = ['fa-01', 'fa-02', 'fa-03'];

beforeAll(async () => {
  sys = await startTestSystem();
  for (const [i, h] of HOSTS.entries()) {
    // fa-03 has no rack: a reference to it fails there only.
    const custom: Record<string, string | number> =
      i < 2 ? { rack: `r${i + 1}`, tier: i } : { tier: i };
    await sys.startAgent(h, {}, { facts: { ...sys.config.agent.facts, custom } });
  }
  await sys.waitForAgents(HOSTS);
  token = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

const call = (method: string, path: string, body?: unknown) =>
  request(sys, method, path, body, token);

describe('facts', () => {
  it('GET /agent/{hostname} shows the agent’s facts', async () => {
    const r = await call('GET', '/agent/fa-01');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      hostname: 'fa-01',
      cpu_count: expect.any(Number),
      architecture: expect.any(String),
      kernel_version: expect.any(String),
      service_mgr: expect.any(String),
      package_mgr: expect.any(String),
      interfaces: expect.any(Array),
      routes: expect.any(Array),
    });
    expect(r.body.facts).toMatchObject({
      hostname: 'fa-01',
      'custom.rack': 'r1',
      'custom.tier': '0',
    });
  });

  it('GET /facts/keys lists the built-in keys and the custom ones in use', async () => {
    const r = await call('GET', '/facts/keys');
    expect(r.status).toBe(200);
    const keys = new Map((r.body.keys as AnyJson[]).map((k) => [k.key, k]));
    expect(keys.get('hostname')).toMatchObject({ builtin: true, description: expect.any(String) });
    expect(keys.get('os.family')?.builtin).toBe(true);
    expect(keys.get('custom.rack')).toMatchObject({ builtin: false });
    expect(keys.get('custom.tier')).toMatchObject({ builtin: false });
    const reader = await sys.token(['read']);
    expect((await request(sys, 'GET', '/facts/keys', undefined, reader)).status).toBe(200);
    expect((await request(sys, 'GET', '/facts/keys')).status).toBe(401);
  });

  it('one broadcast gets each host’s own values', async () => {
    const r = await call('POST', '/node/_all/command/exec', {
      command: 'echo',
      args: ['@fact.hostname', 'tier=@fact.custom.tier', '@@fact.hostname'],
    });
    expect(r.status).toBe(202);
    const out = Object.fromEntries(
      (r.body.results as AnyJson[]).map((x) => [x.hostname, x.stdout]),
    );
    expect(out).toEqual({
      'fa-01': 'fa-01 tier=0 @fact.hostname\n',
      'fa-02': 'fa-02 tier=1 @fact.hostname\n',
      'fa-03': 'fa-03 tier=2 @fact.hostname\n',
    });
  });

  it('a key one host lacks fails that host only, naming the key, and runs nothing there', async () => {
    const r = await call('POST', '/node/_all/command/exec', {
      command: 'echo',
      args: ['@fact.custom.rack'],
    });
    expect(r.status).toBe(202);
    const by = Object.fromEntries((r.body.results as AnyJson[]).map((x) => [x.hostname, x]));
    expect(by['fa-01']).toMatchObject({ status: 'completed', stdout: 'r1\n' });
    expect(by['fa-02']).toMatchObject({ status: 'completed', stdout: 'r2\n' });
    expect(by['fa-03']).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no fact "custom\.rack"/),
    });
    expect(by['fa-03'].stdout ?? '').toBe('');
  });

  it('a reference in a field with a format is checked by each agent with its value', async () => {
    // The API leaves the address to the agents; each pings its own primary address.
    const ok = await call('POST', '/node/fa-01/network/ping', { address: '@fact.primary_ipv4' });
    expect(ok.status).toBe(200);
    expect(ok.body.results[0].status).not.toBe('failed');
    // A value that is not an address fails there, naming the field.
    const bad = await call('POST', '/node/fa-01/network/ping', { address: '@fact.custom.rack' });
    expect(bad.status).toBe(200);
    expect(bad.body.results[0]).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/address/),
    });
  });

  it('refuses a malformed reference with a 400 naming the field', async () => {
    const r = await call('POST', '/node/_all/command/exec', {
      command: 'echo',
      args: ['x', '@fact.'],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/args\[1\].*not a fact reference/);
    const job = await call('POST', '/job', {
      target_hostname: 'fa-01',
      operation: { type: 'command.exec.execute', data: { command: 'echo', args: ['@fact.!x'] } },
    });
    expect(job.status).toBe(400);
    expect(job.body.error).toMatch(/operation\.data\.args\[0\]/);
  });

  it('a fact comparison targets the agents whose fact compares so, previewed by GET /agent?target=', async () => {
    const hostsOf = (r: { body: AnyJson }) =>
      ((r.body.results ?? r.body.agents) as AnyJson[]).map((x) => x.hostname).sort();
    const enc = encodeURIComponent;
    const preview = await call('GET', `/agent?target=${enc('fact:custom.tier>=1')}`);
    expect(preview.status).toBe(200);
    expect(hostsOf(preview)).toEqual(['fa-02', 'fa-03']);
    const ran = await call('POST', `/node/${enc('fact:custom.tier>=1')}/command/exec`, {
      command: 'echo',
      args: ['@fact.hostname'],
    });
    expect(ran.status).toBe(202);
    expect(hostsOf(ran)).toEqual(['fa-02', 'fa-03']);
    expect((ran.body.results as AnyJson[]).map((x) => x.stdout).sort()).toEqual([
      'fa-02\n',
      'fa-03\n',
    ]);
    // The host not picked ran nothing and left no word in the job.
    const job = await call('GET', `/job/${ran.body.job_id}`);
    expect(Object.keys(job.body.agent_states).sort()).toEqual(['fa-02', 'fa-03']);
    expect((job.body.timeline as AnyJson[]).some((e) => e.hostname === 'fa-01')).toBe(false);
    const rack = await call('POST', `/node/${enc('fact:custom.rack=r1')}/command/exec`, {
      command: 'true',
    });
    expect(hostsOf(rack)).toEqual(['fa-01']);
    const not = await call('GET', `/agent?target=${enc('fact:hostname!=fa-01')}`);
    expect(hostsOf(not)).toEqual(['fa-02', 'fa-03']);
    // None: nothing is sent. Not a number for >=: a 400 naming the target.
    const none = await call('POST', `/node/${enc('fact:custom.tier>5')}/command/exec`, {
      command: 'true',
    });
    expect(none.status).toBe(404);
    const bad = await call('POST', `/node/${enc('fact:custom.tier>=abc')}/command/exec`, {
      command: 'true',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/compares numbers/);
  });
});
