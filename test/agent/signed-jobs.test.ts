import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../../src/agent/start.js';
import { systemClock } from '../../src/job/clock.js';
import { resultMacKeys, resultMacMatches } from '../../src/job/result-mac.js';
import { publicKeyOf, signedBytes } from '../../src/job/result-signing.js';
import { jobSigner } from '../../src/job/signing.js';
import {
  type JobStore,
  openJobStore,
  publishJob,
  readResponse,
  readStatusEvents,
} from '../../src/job/store.js';
import {
  infraNames,
  JOB_HEADER,
  jobKey,
  kvStream,
  kvSubject,
  RESULT_MAC_HEADER,
  responseKey,
} from '../../src/names/names.js';
import { jobSigningKeyPath } from '../../src/state/local.js';
import { bucketsOf } from '../support/buckets.js';
import { silentLogger } from '../support/nats.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

const HOST = 'signed-01';
let sys: TestSystem;
let dir: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent(HOST);
  await sys.waitForAgents([HOST]);
  dir = mkdtempSync(join(tmpdir(), 'osapi-signed-'));
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function names() {
  return infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
}

function touchJob(file: string) {
  return {
    type: 'command.shell.execute' as const,
    data: { command: `touch ${file}`, args: [], timeout: 5 },
    target: { kind: 'host' as const, hostname: HOST },
    createdBy: 'intruder',
    startWithinMs: 60_000,
  };
}

async function refusal(store: JobStore, id: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const failed = (await readStatusEvents(store, id)).find((e) => e.event === 'failed');
    if (failed?.error) return failed.error;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} was never refused`);
}

describe('agents run only jobs the API signed', () => {
  it('runs nothing of a job published straight onto NATS without a signature', async () => {
    const store = await openJobStore(sys.api.nc, names(), systemClock);
    const file = join(dir, 'unsigned');
    const job = await publishJob(store, touchJob(file));
    expect(await refusal(store, job.id)).toMatch(/refused, not run: the job is not signed/);
    expect(existsSync(file)).toBe(false);
    expect(await readResponse(store, job.id, HOST)).toBeNull();
  });

  it('runs nothing of a job signed with another key', async () => {
    const other = jobSigner(generateKeyPairSync('ed25519').privateKey);
    const store = await openJobStore(sys.api.nc, names(), systemClock, other);
    const file = join(dir, 'other-key');
    const job = await publishJob(store, touchJob(file));
    expect(await refusal(store, job.id)).toMatch(/does not verify against this agent's key/);
    expect(existsSync(file)).toBe(false);
  });

  /**
   * A job the API signed, published for a host with no agent (so nothing runs
   * it before the change), and the same record sent to HOST with its command
   * changed to touch `file`: what someone who can write to NATS could forge.
   */
  async function signedThenChanged(store: JobStore, original: string, file: string) {
    const job = await publishJob(store, {
      ...touchJob(join(dir, original)),
      target: { kind: 'host', hostname: 'nobody' },
    });
    const { revision: _r, ...record } = job;
    const forged = {
      ...record,
      target_hostname: HOST,
      operation: { ...record.operation, data: { command: `touch ${file}`, args: [], timeout: 5 } },
    };
    return { job, forged };
  }

  it('runs nothing of a signed job whose command was changed in NATS', async () => {
    const store = await openJobStore(sys.api.nc, names(), systemClock, sys.api.signer);
    const file = join(dir, 'tampered');
    const { job, forged } = await signedThenChanged(store, 'original', file);
    await (await bucketsOf(store)).jobs.put(jobKey(job.id), JSON.stringify(forged));
    await store.js.publish(`${names().namespace}.jobs.modify.host.${HOST}`, job.id);
    expect(await refusal(store, job.id)).toMatch(/does not verify/);
    expect(existsSync(file)).toBe(false);
  });

  it('runs nothing of a signed job whose command was changed in the notification carrying it', async () => {
    const store = await openJobStore(sys.api.nc, names(), systemClock, sys.api.signer);
    const file = join(dir, 'tampered-header');
    const { job, forged } = await signedThenChanged(store, 'original-header', file);
    const h = headers();
    h.set(JOB_HEADER, JSON.stringify(forged));
    await store.js.publish(`${names().namespace}.jobs.modify.host.${HOST}`, job.id, {
      headers: h,
    });
    expect(await refusal(store, job.id)).toMatch(/does not verify/);
    expect(existsSync(file)).toBe(false);
  });

  it('runs nothing of a notification carrying another job than it names', async () => {
    const store = await openJobStore(sys.api.nc, names(), systemClock, sys.api.signer);
    const file = join(dir, 'swapped');
    const job = await publishJob(store, {
      ...touchJob(file),
      target: { kind: 'host', hostname: 'nobody' },
    });
    const { revision: _r, ...record } = job;
    const agent = sys.agents.get(HOST)?.agent;
    const before = agent?.settled ?? 0;
    const h = headers();
    h.set(JOB_HEADER, JSON.stringify({ ...record, target_hostname: HOST }));
    await store.js.publish(`${names().namespace}.jobs.modify.host.${HOST}`, crypto.randomUUID(), {
      headers: h,
    });
    for (let i = 0; i < 200 && (agent?.settled ?? 0) <= before; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(agent?.settled).toBe(before + 1);
    expect(existsSync(file)).toBe(false);
    expect(await readResponse(store, job.id, HOST)).toBeNull();
  });

  it('runs a job the API signed', async () => {
    const store = await openJobStore(sys.api.nc, names(), systemClock, sys.api.signer);
    const file = join(dir, 'signed');
    const job = await publishJob(store, touchJob(file));
    for (let i = 0; i < 200 && !(await readResponse(store, job.id, HOST)); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await readResponse(store, job.id, HOST))?.status).toBe('completed');
    expect(existsSync(file)).toBe(true);

    // Its result carries an HMAC under the key this agent shares with the API
    // servers (src/job/result-mac.ts), derived here from the API's side.
    const bucket = store.names.responsesBucket;
    const stored = await (await jetstreamManager(sys.api.nc)).direct.getMessage(kvStream(bucket), {
      last_by_subj: kvSubject(bucket, responseKey(job.id, HOST)),
    });
    const h = stored?.header;
    const mac = h?.get(RESULT_MAC_HEADER) ?? '';
    expect(mac).not.toBe('');
    const apiKey = createPrivateKey(readFileSync(jobSigningKeyPath(sys.config.state_dir)));
    const accepted = sys.api.states.decision(HOST);
    expect(accepted?.status).toBe('accepted');
    const agentKey = publicKeyOf(accepted?.public_key ?? '');
    const shared = agentKey && resultMacKeys(apiKey)(agentKey);
    expect(shared && resultMacMatches(shared, signedBytes(job.id, HOST, h ?? headers()), mac)).toBe(
      true,
    );
  });

  it('an agent without the API public key refuses to start, saying what to do', async () => {
    const config = { ...sys.config, state_dir: join(dir, 'empty-state') };
    await expect(
      startAgentProcess({
        config,
        logger: silentLogger,
        clock: systemClock,
        natsServers: [sys.nats.url],
      }),
    ).rejects.toThrow(/no job verification key: .*job-signing\.pub does not exist/);
  });
});
