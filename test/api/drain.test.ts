// Drain and undrain, against a real nats-server with three agents: a drained
// agent finishes what it runs (Draining, then Cordoned), broadcasts skip it
// with the reason instead of waiting, `_any` never picks it, a job addressed
// to it alone is skipped; undrained it is Ready and takes jobs again. Each
// change is on its timeline; a change that does not apply is a 409.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { type TempDir, tempDir, waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;
let dir: TempDir;
const HOSTS = ['dr-01', 'dr-02', 'dr-03'];

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
  dir = tempDir('drain');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

const call = (method: string, path: string, body?: unknown, token = admin) =>
  request(sys, method, path, body, token);
const stateOf = async (h: string) => (await call('GET', `/agent/${h}`)).body.state as string;

describe('drain and undrain', () => {
  it('a drained agent finishes its run, is skipped by broadcasts, never picked by _any', async () => {
    const go = join(dir.path, 'go');
    const running = await call('POST', '/node/dr-02/command/shell?async=true', {
      command: `while [ ! -e '${go}' ]; do sleep 0.05; done; echo finished`,
    });
    expect(running.status).toBe(202);
    await waitFor('the run to start on dr-02', async () => {
      const j = await call('GET', `/job/${running.body.job_id}`);
      return j.body.agent_states?.['dr-02']?.status === 'running';
    });

    const drained = await call('POST', '/agent/dr-02/drain');
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ hostname: 'dr-02', state: 'Draining' });
    expect(await stateOf('dr-02')).toBe('Draining');

    // A broadcast does not wait for it: skipped, with the reason.
    const all = await call('POST', '/node/_all/command/exec', { command: 'echo', args: ['hi'] });
    expect(all.status).toBe(202);
    const by = Object.fromEntries((all.body.results as AnyJson[]).map((r) => [r.hostname, r]));
    expect(by['dr-01']).toMatchObject({ status: 'completed', stdout: 'hi\n' });
    expect(by['dr-03']).toMatchObject({ status: 'completed' });
    expect(by['dr-02']).toMatchObject({
      state: 'skipped',
      error: expect.stringMatching(/dr-02 is drained/),
    });
    const job = await call('GET', `/job/${all.body.job_id}`);
    expect(job.body.agent_states['dr-02'].status).toBe('skipped');

    // `_any` never picks it.
    for (let i = 0; i < 6; i++) {
      const any = await call('POST', '/node/_any/command/exec', { command: 'true' });
      expect(any.status).toBe(202);
      expect(any.body.results[0].hostname).not.toBe('dr-02');
    }
    // A job for it alone is skipped, not run.
    const alone = await call('POST', '/node/dr-02/command/exec', { command: 'true' });
    expect(alone.status).toBe(202);
    expect(alone.body.results[0].error).toMatch(/drained/);

    // Its run goes on to its end; then it is Cordoned.
    writeFileSync(go, '');
    await waitFor('the run on dr-02 to end', async () => {
      const j = await call('GET', `/job/${running.body.job_id}`);
      return j.body.status === 'completed';
    });
    expect(
      (await call('GET', `/job/${running.body.job_id}`)).body.responses['dr-02'].data.stdout,
    ).toBe('finished\n');
    await waitFor('dr-02 to be Cordoned', async () => (await stateOf('dr-02')) === 'Cordoned');
    expect(existsSync(go)).toBe(true);

    // Draining again is a 409; undrain brings it back.
    const again = await call('POST', '/agent/dr-02/drain');
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe('agent_state_conflict');
    const back = await call('POST', '/agent/dr-02/undrain');
    expect(back.status).toBe(200);
    expect(back.body.state).toBe('Ready');
    await waitFor('dr-02 to take jobs again', async () => {
      const r = await call('POST', '/node/dr-02/command/exec', { command: 'echo', args: ['back'] });
      return r.body.results?.[0]?.stdout === 'back\n';
    });
    expect(await stateOf('dr-02')).toBe('Ready');
    expect((await call('POST', '/agent/dr-02/undrain')).status).toBe(409);

    // Its timeline tells the story, with who asked.
    const events = ((await call('GET', '/agent/dr-02')).body.timeline as AnyJson[]).map(
      (e) => e.event,
    );
    expect(events).toEqual(
      expect.arrayContaining(['drained', 'draining', 'cordoned', 'undrained', 'ready']),
    );
    const tl = (await call('GET', '/agent/dr-02')).body.timeline as AnyJson[];
    expect(tl.find((e) => e.event === 'drained')?.message).toMatch(/tester@example\.com/);
  });

  it('answers 404 for an unknown agent and 403 without agent:write', async () => {
    expect((await call('POST', '/agent/nope-01/drain')).status).toBe(404);
    const writer = await sys.token(['write']);
    const r = await call('POST', '/agent/dr-01/drain', undefined, writer);
    expect(r.status).toBe(403);
    expect(await stateOf('dr-01')).toBe('Ready');
  });

  it('answers 400 naming hostname for a name no agent can have, on every agent route', async () => {
    for (const [method, path] of [
      ['POST', '/agent/bad%20name!/drain'],
      ['POST', '/agent/bad%20name!/undrain'],
      ['POST', '/agent/_internal/drain'],
      ['POST', '/agent/bad%20name!/accept'],
      ['POST', '/agent/bad%20name!/reject'],
      ['GET', '/agent/a..b'],
      ['GET', `/agent/${'a'.repeat(254)}`],
    ] as const) {
      const r = await call(method, path);
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.body.fields?.[0]?.field, `${method} ${path}`).toBe('hostname');
      // In words, not as a regular expression.
      expect(r.body.fields[0].message).not.toMatch(/pattern|\^/);
    }
  });
});
