// An agent reads whether it is accepted and not drained (its standing) when
// the API tells it to on its control subject, and again on a timer in case
// that word was lost: at every heartbeat until it is accepted, then about
// once a minute. Each reading is a KV read of its enrollment entry, seen
// here as the JetStream API requests that name its key.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../../src/agent/start.js';
import { systemClock } from '../../src/job/clock.js';
import { type JobStore, readEnrollment, saveEnrollment } from '../../src/job/store.js';
import { storeFor, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let store: JobStore;
let watcher: NatsConnection;

beforeAll(async () => {
  // Nothing accepted by the API: the test decides, in KV, without telling the agent.
  sys = await startTestSystem({ overrides: { 'agent.enrollment.auto_accept': false } });
  store = await storeFor(sys);
  watcher = await connect({ servers: sys.nats.url });
});
afterAll(async () => {
  await watcher?.close();
  await sys?.stop();
});

const BEAT_MS = 50;

/** An agent beating every BEAT_MS, its key read from the test system's state dir. */
function startAgent(hostname: string): Promise<AgentProcess> {
  return startAgentProcess({
    config: { ...sys.config, agent: { ...sys.config.agent, hostname } },
    logger: silentLogger,
    clock: systemClock,
    natsServers: [sys.nats.url],
    heartbeatMs: BEAT_MS,
  });
}

/** Counts reads of `hostname`'s enrollment entry and its heartbeats, from now on. */
function watch(hostname: string) {
  const counts = { reads: 0, beats: 0 };
  const reads = watcher.subscribe('$JS.API.>', {
    callback: (_err, m) => {
      const about = `${m.subject} ${m.string()}`;
      if (about.includes(store.names.enrollmentBucket) && about.includes(hostname)) counts.reads++;
    },
  });
  const beats = watcher.subscribe(`$KV.${store.names.registryBucket}.>`, {
    callback: (_err, m) => {
      if (m.subject.endsWith(hostname)) counts.beats++;
    },
  });
  return {
    counts,
    ready: watcher.flush(),
    stop: () => {
      reads.unsubscribe();
      beats.unsubscribe();
    },
  };
}

/** What the agent's last heartbeat said (as GET /agent shows it). */
const infoOf = (hostname: string) =>
  sys.api.registry.agents().find((a) => a.info.hostname === hostname)?.info;

/** The agent's own word on its state. */
const stateOf = (hostname: string) => infoOf(hostname)?.state;

/** Accepts the key the agent presents, in KV only: no control message tells it. */
async function acceptInKvOnly(hostname: string): Promise<void> {
  const info = infoOf(hostname);
  await saveEnrollment(
    store,
    {
      hostname,
      status: 'accepted',
      public_key: info?.public_key ?? '',
      fingerprint: info?.fingerprint ?? '',
      machine_id: info?.machine_id ?? '',
      decided_at: new Date().toISOString(),
      decided_by: 'test',
    },
    0,
  );
}

describe("an agent's standing read untold", () => {
  it('is read at every heartbeat until accepted, and taken up without a word from the API', async () => {
    const hostname = 'standing-01';
    const agent = await startAgent(hostname);
    try {
      await waitFor('the agent to beat, Pending', () => stateOf(hostname) === 'Pending');
      const seen = watch(hostname);
      await seen.ready;
      await waitFor('ten heartbeats', () => seen.counts.beats >= 10, 20_000);
      // About one reading a beat (readings asked for while one runs are
      // merged into the next, so fewer on a busy machine), where an accepted
      // agent makes none in as many beats (below).
      expect(seen.counts.reads).toBeGreaterThanOrEqual(3);
      seen.stop();

      expect(await readEnrollment(store, hostname)).toBeNull();
      await acceptInKvOnly(hostname);
      await waitFor('the agent to say Ready', () => stateOf(hostname) === 'Ready', 20_000);
    } finally {
      await agent.stop();
    }
  });

  it('is not read at every heartbeat once accepted', async () => {
    const hostname = 'standing-02';
    const agent = await startAgent(hostname);
    try {
      await waitFor('the agent to beat, Pending', () => stateOf(hostname) === 'Pending');
      await acceptInKvOnly(hostname);
      await waitFor('the agent to say Ready', () => stateOf(hostname) === 'Ready', 20_000);
      const seen = watch(hostname);
      await seen.ready;
      await waitFor('twenty heartbeats', () => seen.counts.beats >= 20, 20_000);
      // At 50 ms a beat, a minute is 1,200 beats: at most the reading in flight.
      expect(seen.counts.reads).toBeLessThanOrEqual(1);
      seen.stop();
    } finally {
      await agent.stop();
    }
  });
});
