// A redelivered notification never runs a command a second time: the claim
// an agent writes before it starts a job survives the agent, and a redelivery
// that finds it ends the job in a documented state instead of running again.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_STOPPED_MIDRUN } from '../../src/agent/agent.js';
import { systemClock } from '../../src/job/clock.js';
import { consumerName } from '../../src/job/names.js';
import {
  appendStatus,
  claimJob,
  type JobStore,
  publishJob,
  readResponse,
  readStatusEvents,
  storeResponse,
} from '../../src/job/store.js';
import type { Target } from '../../src/job/target.js';
import { connectNats } from '../../src/nats/connection.js';
import { storeFor, type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

const HOST = 'r-01';

let sys: TestSystem;
let store: JobStore;
let dir: TempDir;

// A short ack wait and no back-off, so a redelivery comes within a second.
const agentSettings = () => ({
  consumer: { ...sys.config.agent.consumer, ack_wait: 1000, back_off: [] },
});

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent(HOST, {}, agentSettings());
  await sys.waitForAgents([HOST]);
  store = await storeFor(sys);
  dir = tempDir('redelivery');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

function shellJob(file: string, target: Target) {
  return {
    type: 'command.shell.execute' as const,
    data: { command: `echo ran >> ${file}`, args: [], timeout: 5 },
    target,
    createdBy: 'redelivery-test',
    startWithinMs: 60_000,
  };
}

/** Resolves once the consumer has delivered and had acknowledged everything in the stream. */
async function drained(consumer: string) {
  const jsm = await jetstreamManager(sys.api.nc);
  const last = (await jsm.streams.info(store.names.stream)).state.last_seq;
  await waitFor(`consumer ${consumer} to ack up to ${last}`, async () => {
    const info = await jsm.consumers.info(store.names.stream, consumer);
    return info.ack_floor.stream_seq >= last && info.num_ack_pending === 0;
  });
}

const base = () => sys.config.agent.consumer.name;

describe('an agent that died between starting a job and acking it', () => {
  it('after redelivery the command is not run again and the job ends failed', async () => {
    const file = join(dir.path, 'midrun');
    await sys.stopAgent(HOST);

    // The agent that dies: it takes the notification from its durable host
    // consumer, claims the job, records that it started, and is gone before
    // it runs the command or acks.
    const nc = await connectNats({ settings: testClient(sys.nats.url), logger: silentLogger });
    const dying = await storeFor(sys, nc);
    const job = await publishJob(dying, shellJob(file, { kind: 'host', hostname: HOST }));
    const consumer = await jetstream(nc).consumers.get(
      store.names.stream,
      consumerName(base(), { host: HOST }),
    );
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.string()).toBe(job.id);
    expect(msg?.info.redelivered).toBe(false);
    expect(await claimJob(dying, job.id, { hostname: HOST }, HOST)).toBe(true);
    await appendStatus(dying, job.id, 'acknowledged', HOST, { message: 'received' });
    await appendStatus(dying, job.id, 'started', HOST);
    await nc.close();

    // The same agent comes back; its durable consumer redelivers the unacked notification.
    await sys.startAgent(HOST, {}, agentSettings());
    const response = await waitFor('the redelivered job to end', () =>
      readResponse(store, job.id, HOST).then((r) => r ?? undefined),
    );
    expect(response).toMatchObject({
      job_id: job.id,
      hostname: HOST,
      status: 'failed',
      data: null,
      error: AGENT_STOPPED_MIDRUN,
    });
    expect(existsSync(file)).toBe(false);

    await drained(consumerName(base(), { host: HOST }));
    const events = await readStatusEvents(store, job.id);
    const failed = events.filter((e) => e.event === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ hostname: HOST, error: AGENT_STOPPED_MIDRUN });
    // Only the dead agent ever started it.
    expect(events.filter((e) => e.event === 'started')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'completed')).toHaveLength(0);
    expect(existsSync(file)).toBe(false);
  });

  it('a claim for this host without a result, notified while the agent runs: same end', async () => {
    const file = join(dir.path, 'claimed');
    const id = crypto.randomUUID();
    expect(await claimJob(store, id, { hostname: HOST }, HOST)).toBe(true);
    await publishJob(store, { ...shellJob(file, { kind: 'host', hostname: HOST }), id });
    const response = await waitFor('the job to end', () =>
      readResponse(store, id, HOST).then((r) => r ?? undefined),
    );
    expect(response).toMatchObject({ status: 'failed', data: null, error: AGENT_STOPPED_MIDRUN });
    await drained(consumerName(base(), { host: HOST }));
    const events = await readStatusEvents(store, id);
    expect(events.map((e) => e.event)).toContain('failed');
    expect(events.filter((e) => e.event === 'started')).toHaveLength(0);
    expect(existsSync(file)).toBe(false);
  });
});

describe('a notification for a job that already ended or went elsewhere', () => {
  it('a job this host already finished is acked and its result left as it was', async () => {
    const file = join(dir.path, 'finished');
    const id = crypto.randomUUID();
    const now = systemClock.now().toISOString();
    expect(await claimJob(store, id, { hostname: HOST }, HOST)).toBe(true);
    const first = {
      job_id: id,
      hostname: HOST,
      status: 'completed' as const,
      data: {
        stdout: 'first run\n',
        stderr: '',
        exit_code: 0,
        duration_ms: 3,
        changed: true,
        stdout_truncated: false,
        stderr_truncated: false,
        stdout_bytes: 10,
        stderr_bytes: 0,
        end: 'exited',
      },
      started_at: now,
      finished_at: now,
    };
    await storeResponse(store, first);
    await publishJob(store, { ...shellJob(file, { kind: 'host', hostname: HOST }), id });

    await drained(consumerName(base(), { host: HOST }));
    expect(await readResponse(store, id, HOST)).toEqual(first);
    expect(existsSync(file)).toBe(false);
    const events = (await readStatusEvents(store, id)).map((e) => e.event);
    expect(events).toEqual(['submitted']);
  });

  it('an _any job another agent claimed is acked here and not run', async () => {
    const file = join(dir.path, 'elsewhere');
    const id = crypto.randomUUID();
    expect(await claimJob(store, id, { any: true }, 'someone-else')).toBe(true);
    await publishJob(store, { ...shellJob(file, { kind: 'any' }), id });

    await drained(consumerName(base(), { any: true }));
    expect(await readResponse(store, id, HOST)).toBeNull();
    expect(existsSync(file)).toBe(false);
  });

  it('control: an unclaimed job is run once (the checks above can fail)', async () => {
    const file = join(dir.path, 'control');
    const job = await publishJob(store, shellJob(file, { kind: 'host', hostname: HOST }));
    const response = await waitFor('the job to end', () =>
      readResponse(store, job.id, HOST).then((r) => r ?? undefined),
    );
    expect(response.status).toBe('completed');
    await drained(consumerName(base(), { host: HOST }));
    expect(existsSync(file)).toBe(true);
  });
});
