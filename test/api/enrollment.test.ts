// Enrollment, against a real nats-server, with agents not accepted on their
// own: a new agent waits in GET /agent/pending and is sent nothing; accept
// with another fingerprint is refused; accepted, it runs jobs; a new key for
// the same hostname puts it back to pending; a rejected agent takes nothing;
// a result not signed by the host's accepted key is refused.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentIdentity } from '../../src/agent/identity.js';
import { type AgentProcess, startAgentProcess } from '../../src/agent/start.js';
import { systemClock } from '../../src/job/clock.js';
import { openJobStore, storeResponse } from '../../src/job/store.js';
import { infraNames } from '../../src/names/names.js';
import { silentLogger } from '../support/nats.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;
const dirs: string[] = [];
const agents: AgentProcess[] = [];

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'agent.enrollment.auto_accept': false } });
  admin = await sys.token();
});
afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  await sys?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An agent with a state dir (so a key) of its own. */
async function agentWithOwnKey(hostname: string): Promise<{ fingerprint: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-enroll-'));
  dirs.push(dir);
  const a = await startAgentProcess({
    config: {
      ...sys.config,
      state_dir: dir,
      agent: {
        ...sys.config.agent,
        hostname,
        // The API's verification key stays where the API wrote it.
        security: {
          ...sys.config.agent.security,
          job_verify_key_file: join(sys.config.state_dir, 'job-signing.pub'),
        },
      },
    },
    logger: silentLogger,
    clock: systemClock,
    natsServers: [sys.nats.url],
  });
  agents.push(a);
  return { fingerprint: loadAgentIdentity(dir).fingerprint };
}

const call = (method: string, path: string, body?: unknown, token = admin) =>
  request(sys, method, path, body, token);
const pending = async () =>
  ((await call('GET', '/agent/pending')).body.agents as AnyJson[]).map((a) => a.hostname).sort();

describe('enrollment', () => {
  it('a new agent waits, is sent nothing, and runs jobs once accepted with its key', async () => {
    const { fingerprint } = await agentWithOwnKey('en-01');
    await waitFor('en-01 to ask', async () => (await pending()).includes('en-01'));
    const listed = (await call('GET', '/agent/pending')).body.agents.find(
      (a: AnyJson) => a.hostname === 'en-01',
    );
    expect(listed).toMatchObject({ fingerprint, requested_at: expect.any(String) });
    const info = await call('GET', '/agent/en-01');
    expect(info.body).toMatchObject({ state: 'Pending', enrollment: 'pending', fingerprint });

    // Sent nothing: it is not among the agents a target reaches.
    const one = await call('POST', '/node/en-01/command/exec', { command: 'true' });
    expect(one.status).toBe(404);
    expect(one.body.reason).toBe('no_matching_agent');
    expect((await call('POST', '/node/_any/command/exec', { command: 'true' })).status).toBe(404);

    // Another key than the one it presents: refused, nothing changed.
    const wrong = await call('POST', '/agent/en-01/accept?fingerprint=SHA256%3Anot-its-key');
    expect(wrong.status).toBe(400);
    expect(wrong.body.fields[0].field).toBe('fingerprint');
    expect(await pending()).toContain('en-01');
    const writer = await sys.token(['write']);
    expect((await call('POST', '/agent/en-01/accept', undefined, writer)).status).toBe(403);

    const ok = await call(
      'POST',
      `/agent/en-01/accept?fingerprint=${encodeURIComponent(fingerprint)}`,
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ hostname: 'en-01', status: 'accepted', fingerprint });
    expect(await pending()).not.toContain('en-01');
    const ran = await call('POST', '/node/en-01/command/exec', { command: 'echo', args: ['in'] });
    expect(ran.status).toBe(202);
    expect(ran.body.results[0].stdout).toBe('in\n');
    expect((await call('GET', '/agent/en-01')).body).toMatchObject({
      state: 'Ready',
      enrollment: 'accepted',
    });
  });

  it('a new key for an accepted hostname sends it back to pending', async () => {
    await agents.pop()?.stop();
    const { fingerprint } = await agentWithOwnKey('en-01');
    await waitFor('en-01 to ask again', async () => (await pending()).includes('en-01'));
    expect((await call('GET', '/agent/en-01')).body).toMatchObject({
      state: 'Pending',
      fingerprint,
    });
    expect((await call('POST', '/node/en-01/command/exec', { command: 'true' })).status).toBe(404);
    expect((await call('POST', '/agent/en-01/accept')).status).toBe(200);
    const ran = await call('POST', '/node/en-01/command/exec', { command: 'true' });
    expect(ran.body.results[0].status).toBe('completed');
  });

  it('a rejected agent leaves the pending list and takes nothing', async () => {
    await agentWithOwnKey('en-02');
    await waitFor('en-02 to ask', async () => (await pending()).includes('en-02'));
    const r = await call('POST', '/agent/en-02/reject');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('rejected');
    expect(await pending()).not.toContain('en-02');
    expect((await call('GET', '/agent/en-02')).body).toMatchObject({
      state: 'Pending',
      enrollment: 'rejected',
    });
    const all = await call('POST', '/node/_all/command/exec', { command: 'true' });
    expect((all.body.results as AnyJson[]).map((x) => x.hostname)).toEqual(['en-01']);
    expect((await call('POST', '/agent/nope-01/accept')).status).toBe(404);
  });

  it('a result not signed by the host’s accepted key is refused; the real one is taken', async () => {
    const go = join(dirs[0] as string, 'go');
    const made = await call('POST', '/node/en-01/command/shell?async=true', {
      command: `while [ ! -e '${go}' ]; do sleep 0.05; done; echo real`,
    });
    expect(made.status).toBe(202);
    const id = made.body.job_id as string;
    await waitFor('the run to start', async () => {
      const j = await call('GET', `/job/${id}`);
      return j.body.agent_states?.['en-01']?.status === 'running';
    });
    // Written in en-01's name: unsigned, then signed by another agent's key.
    const names = infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
    const forged = {
      job_id: id,
      hostname: 'en-01',
      status: 'completed' as const,
      data: { stdout: 'forged\n', stderr: '', exit_code: 0 },
      started_at: new Date().toISOString(),
      finished_at: new Date().toISOString(),
    };
    const { privateKey } = generateKeyPairSync('ed25519');
    for (const signer of [undefined, { key: privateKey, as: 'agent' as const }]) {
      const store = await openJobStore(sys.api.nc, names, systemClock, undefined, {
        ...(signer ? { signer } : {}),
      });
      await storeResponse(store, forged);
      const j = await call('GET', `/job/${id}`);
      expect(j.body.responses?.['en-01']).toBeUndefined();
      expect(j.body.agent_states['en-01'].status).toBe('running');
    }
    writeFileSync(go, '');
    await waitFor('the real result', async () => {
      const j = await call('GET', `/job/${id}`);
      return j.body.status === 'completed' && j.body;
    });
    const j = await call('GET', `/job/${id}`);
    expect(j.body.responses['en-01'].data.stdout).toBe('real\n');
  });
});
