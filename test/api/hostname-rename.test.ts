// An agent named after its host (agent.hostname not set) takes the name
// PUT /node/{hostname}/hostname gives the host, without a restart: it
// re-registers under it, keeps its acceptance and its drained state, finishes
// what it was running under the old name, and takes jobs under the new one.
// A claim to have been renamed that the job does not back is not believed.
// Against a real nats-server; the host's name is a stand-in `hostname` tool
// keeping it in a file (this machine's name never changes).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInfoRecord } from '../../src/job/records.js';
import { readEnrollment } from '../../src/job/store.js';
import { createLogger } from '../../src/log/logger.js';
import { registryKey } from '../../src/names/names.js';
import { bucketsOf } from '../support/buckets.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { newAgentPublicKey, storeFor, waitFor } from './helpers.js';

const lines: string[] = [];
const capture = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});

const OLD = `osapitest-${randomBytes(3).toString('hex')}`;
const NEW = `${OLD}-new`;
let sys: TestSystem;
let admin: string;
let dir: string;

const kernelName = () => readFileSync(join(dir, 'name'), 'utf8').trim();
const call = (method: string, path: string, body?: unknown) =>
  request(sys, method, path, body, admin);
const registered = () => sys.api.registry.agents().map((a) => a.info.hostname);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-rename-'));
  writeFileSync(join(dir, 'name'), `${OLD}\n`);
  writeFileSync(join(dir, 'etc-hostname'), `${OLD}\n`);
  const tool = join(dir, 'hostname');
  // It says it started, then waits for the test's word: the agent is drained while it runs.
  writeFileSync(
    tool,
    `#!/bin/sh\n: > '${dir}/started'\nwhile [ ! -e '${dir}/go' ]; do sleep 0.02; done\nprintf '%s\\n' "$1" > '${dir}/name'\n`,
  );
  chmodSync(tool, 0o755);
  sys = await startTestSystem({
    overrides: { 'agent.enrollment.auto_accept': false },
    logger: createLogger({ debug: false, destination: capture }),
  });
  admin = await sys.token(['admin']);
  await sys.startAgent(
    OLD,
    {},
    // No agent.hostname: the agent is named after its host.
    { hostname: '', node: { hostname_file: join(dir, 'etc-hostname') } },
    {
      systemdRunDir: join(dir, 'no-systemd'),
      hostnameTool: tool,
      kernelHostname: kernelName,
    },
  );
  await waitFor('the agent to ask to be accepted', async () =>
    ((await call('GET', '/agent/pending')).body.agents as AnyJson[]).some(
      (a) => a.hostname === OLD,
    ),
  );
  expect((await call('POST', `/agent/${OLD}/accept`)).status).toBe(200);
  await waitFor('the agent to be Ready', async () => {
    return (await call('GET', `/agent/${OLD}`)).body.state === 'Ready';
  });
});
afterAll(async () => {
  await sys?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an agent named after its host, renamed by PUT /node/{hostname}/hostname', () => {
  it('re-registers under the new name, accepted, drained as the old name was while it ran, and the old name leaves', async () => {
    const put = call('PUT', `/node/${OLD}/hostname`, { hostname: NEW });
    await waitFor('the rename to be under way', async () => existsSync(join(dir, 'started')));
    expect((await call('POST', `/agent/${OLD}/drain`)).status).toBe(200);
    writeFileSync(join(dir, 'go'), '');
    const r = await put;
    expect(r.status).toBe(202);
    expect(r.body.results).toEqual([
      expect.objectContaining({
        hostname: OLD,
        status: 'ok',
        name: NEW,
        changed: true,
        agent_hostname: NEW,
      }),
    ]);
    expect(kernelName()).toBe(NEW);
    await waitFor('the agent under its new name only', async () => {
      const names = registered();
      return names.includes(NEW) && !names.includes(OLD);
    });
    const store = await storeFor(sys);
    await waitFor('the acceptance to be carried over', async () => {
      return (await readEnrollment(store, NEW)) !== null;
    });
    const carried = (await readEnrollment(store, NEW))?.record;
    expect(carried).toMatchObject({
      status: 'accepted',
      decided_by: `rename of ${OLD} (job ${r.body.job_id})`,
    });
    expect(carried?.fingerprint).toBe((await readEnrollment(store, OLD))?.record.fingerprint);
    await waitFor('the new name to be listed drained', async () => {
      const a = (await call('GET', `/agent/${NEW}`)).body;
      return a.enrollment === 'accepted' && a.state === 'Cordoned';
    });
  });

  it('takes jobs under the new name once undrained; the old name finds no agent', async () => {
    expect((await call('POST', `/agent/${NEW}/undrain`)).status).toBe(200);
    await waitFor('the new name to be Ready', async () => {
      return (await call('GET', `/agent/${NEW}`)).body.state === 'Ready';
    });
    const ran = await call('POST', `/node/${NEW}/command/exec`, { command: 'true' });
    expect(ran.status).toBe(202);
    expect(ran.body.results).toEqual([
      expect.objectContaining({ hostname: NEW, status: 'completed', exit_code: 0 }),
    ]);
    expect((await call('POST', `/node/${OLD}/command/exec`, { command: 'true' })).status).toBe(404);
  });

  it('a claim to have been renamed that its job does not back is not believed', async () => {
    // The same key and the same job, under a name that job never asked for.
    const store = await storeFor(sys);
    const real = sys.api.registry.agents().find((a) => a.info.hostname === NEW)?.info;
    const jobId = real?.renamed_from?.job_id;
    expect(jobId).toBeDefined();
    const forged = `${OLD}-forged`;
    const now = new Date().toISOString();
    const entry = {
      ...(real as AgentInfoRecord),
      hostname: forged,
      registered_at: now,
      renamed_from: { hostname: OLD, job_id: jobId as string },
    } satisfies AgentInfoRecord;
    await (await bucketsOf(store)).registry.put(registryKey(forged), JSON.stringify(entry));
    await waitFor('the forged claim to be refused', async () =>
      lines.some((l) => l.includes(forged) && l.includes('did not ask for the name')),
    );
    expect(await readEnrollment(store, forged)).toBeNull();
    expect((await call('GET', `/agent/${forged}`)).body.enrollment).toBe('pending');
  });

  it("an entry stating an accepted key's fingerprint beside another key is not an agent", async () => {
    const store = await storeFor(sys);
    const real = sys.api.registry.agents().find((a) => a.info.hostname === NEW)?.info;
    const other = newAgentPublicKey();
    const mixed = `${OLD}-mixed`;
    const entry = {
      ...(real as AgentInfoRecord),
      hostname: mixed,
      public_key: other.toString('base64'),
      renamed_from: { hostname: OLD, job_id: real?.renamed_from?.job_id as string },
    } satisfies AgentInfoRecord;
    await (await bucketsOf(store)).registry.put(registryKey(mixed), JSON.stringify(entry));
    await waitFor('the entry to be ignored', async () =>
      lines.some((l) => l.includes(registryKey(mixed)) && l.includes('fingerprint is not its key')),
    );
    expect(registered()).not.toContain(mixed);
    expect(await readEnrollment(store, mixed)).toBeNull();
  });
});
