// A notification heard again never runs a command a second time: the claim
// an agent writes before it starts a job survives the agent, and a
// notification that finds it (redelivered by the shared `_any` consumer, or
// read back from the stream by an agent that returns) ends the job in a
// documented state instead of running it again.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_STOPPED_MIDRUN } from '../../src/agent/agent.js';
import { systemClock } from '../../src/job/clock.js';
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
import { consumerName } from '../../src/names/names.js';
import { connectNats } from '../../src/nats/connection.js';
import { storeFor, type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

const HOST = 'r-01';

let sys: TestSystem;
let store: JobStore;
let dir: TempDir;

beforeAll(async () => {
  // A short ack wait and no back-off on the shared consumer, so a redelivery
  // comes within a second.
  sys = await startTestSystem({
    overrides: {
      'agent.consumer.ack_wait': '1s',
      'agent.consumer.back_off': [],
      'agent.listen.jitter': '50ms',
    },
  });
  await sys.startAgent(HOST);
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

/** The agent's count of notifications handled to their end. */
const settled = () => sys.agents.get(HOST)?.agent.settled ?? 0;

/** Resolves once the agent has handled `n` more notifications than `before`. */
async function handled(before: number, n = 1) {
  await waitFor(`the agent to handle ${n} notification(s)`, () => settled() >= before + n);
}

describe('an agent that died between starting a job and acking it', () => {
  it('after redelivery the command is not run again and the job ends failed', async () => {
    const file = join(dir.path, 'midrun');
    await sys.stopAgent(HOST);

    // The agent that dies: it hears of the job, claims it, records that it
    // started, and is gone before it runs the command or stores a result.
    const nc = await connectNats({ settings: testClient(sys.nats.url), logger: silentLogger });
    const dying = await storeFor(sys, nc);
    const job = await publishJob(dying, shellJob(file, { kind: 'host', hostname: HOST }));
    expect(await claimJob(dying, job.id, { hostname: HOST }, HOST)).toBe(true);
    await appendStatus(dying, job.id, 'acknowledged', HOST, { message: 'received' });
    await appendStatus(dying, job.id, 'started', HOST);
    await nc.close();

    // The same agent comes back and reads the job back from the stream. It
    // says so itself, unless the API's lost-run sweep saw the new process's
    // start time first; either way the run ends failed, once.
    await sys.startAgent(HOST);
    const response = await waitFor('the redelivered job to end', () =>
      readResponse(store, job.id, HOST).then((r) => r ?? undefined),
    );
    const endedBy = /^the agent (stopped while this command|restarted \(at) .*not run again/;
    expect(response).toMatchObject({
      job_id: job.id,
      hostname: HOST,
      status: 'failed',
      data: null,
      error: expect.stringMatching(endedBy),
    });
    expect(existsSync(file)).toBe(false);

    const events = await waitFor('the failed event', async () => {
      const ev = await readStatusEvents(store, job.id);
      return ev.some((e) => e.event === 'failed') && ev;
    });
    const failed = events.filter((e) => e.event === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ hostname: HOST, error: response.error });
    // Only the dead agent ever started it.
    expect(events.filter((e) => e.event === 'started')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'completed')).toHaveLength(0);
    expect(existsSync(file)).toBe(false);
  });

  it('a claim for this host without a result, notified while the agent runs: same end', async () => {
    const file = join(dir.path, 'claimed');
    const id = crypto.randomUUID();
    expect(await claimJob(store, id, { hostname: HOST }, HOST)).toBe(true);
    const before = settled();
    await publishJob(store, { ...shellJob(file, { kind: 'host', hostname: HOST }), id });
    const response = await waitFor('the job to end', () =>
      readResponse(store, id, HOST).then((r) => r ?? undefined),
    );
    expect(response).toMatchObject({ status: 'failed', data: null, error: AGENT_STOPPED_MIDRUN });
    await handled(before);
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
    const before = settled();
    await publishJob(store, { ...shellJob(file, { kind: 'host', hostname: HOST }), id });

    await handled(before);
    expect(await readResponse(store, id, HOST)).toEqual(first);
    expect(existsSync(file)).toBe(false);
    const events = (await readStatusEvents(store, id)).map((e) => e.event);
    expect(events).toEqual([]);
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
    const before = settled();
    const job = await publishJob(store, shellJob(file, { kind: 'host', hostname: HOST }));
    const response = await waitFor('the job to end', () =>
      readResponse(store, job.id, HOST).then((r) => r ?? undefined),
    );
    expect(response.status).toBe('completed');
    await handled(before);
    expect(existsSync(file)).toBe(true);
  });
});
