import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeartbeatOptions, startHeartbeat } from '../../src/agent/registry.js';
import { systemClock } from '../../src/job/clock.js';
import { parseAgentInfo } from '../../src/job/records.js';
import type { OutageLog } from '../../src/log/outage-log.js';
import { registryKey } from '../../src/names/names.js';
import { connectNats } from '../../src/nats/connection.js';
import { storeFor, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;

/** A heartbeat of its own for `hostname`, beating every 20 ms unless `over` says otherwise. */
function beat(
  store: HeartbeatOptions['store'],
  hostname: string,
  over: Partial<HeartbeatOptions> = {},
): ReturnType<typeof startHeartbeat> {
  return startHeartbeat({
    store,
    hostname,
    labels: {},
    maxJobs: 1,
    intervalMs: 20,
    clock: systemClock,
    logger: silentLogger,
    ...over,
  });
}

beforeAll(async () => {
  sys = await startTestSystem();
});
afterAll(async () => {
  await sys?.stop();
});

describe('agent registry entry', () => {
  it('holds who the agent is and its host vitals, and is removed on a clean stop', async () => {
    await sys.startAgent('hb-01.example.com', { group: 'web.dev', env: 'test' });
    await sys.waitForAgents(['hb-01.example.com']);
    const [view] = sys.api.registry.agents();
    expect(view?.ready).toBe(true);
    const info = view?.info;
    expect(info).toMatchObject({
      hostname: 'hb-01.example.com',
      labels: { group: 'web.dev', env: 'test' },
      max_jobs: 10,
    });
    expect(Date.parse(info?.started_at ?? '')).not.toBeNaN();
    expect(info?.memory.total).toBeGreaterThan(0);
    expect(info?.memory.used).toBe((info?.memory.total ?? 0) - (info?.memory.free ?? 0));
    expect(info?.uptime).toMatch(/^(\d+(d|h|m|s|ms))+$/);
    expect(info?.os_info.distribution).not.toBe('');

    // The entry under the key names.ts builds, readable by anyone with the bucket.
    const kv = await import('@nats-io/kv');
    const bucket = await new kv.Kvm(sys.api.nc).open(
      `${sys.config.agent.nats.namespace}-agent-registry`,
    );
    const entry = await bucket.get(registryKey('hb-01.example.com'));
    expect(entry?.key).toBe('agents.hb-01=example=com');
    expect(parseAgentInfo(entry?.value ?? new Uint8Array()).hostname).toBe('hb-01.example.com');

    await sys.stopAgent('hb-01.example.com');
    await sys.waitForAgents([]);
    const after = await bucket.get(registryKey('hb-01.example.com'));
    expect(after?.operation).not.toBe('PUT');
  });

  it('an agent restarted under the same name appears once', async () => {
    await sys.startAgent('hb-02');
    await sys.stopAgent('hb-02');
    await sys.startAgent('hb-02');
    await sys.waitForAgents(['hb-02']);
    expect(sys.api.registry.agents().map((a) => a.info.hostname)).toEqual(['hb-02']);
    await sys.stopAgent('hb-02');
  });

  it('beats on time while the disks take long to read, with one read at a time', async () => {
    const store = await storeFor(sys);
    const kv = await new Kvm(store.js).open(`${sys.config.agent.nats.namespace}-agent-registry`);
    let reads = 0;
    const heartbeat = await beat(store, 'hb-05', {
      conditions: { thresholds: { memoryPercent: 99, diskPercent: 99, loadPerCpu: 100 } },
      // The first read answers; every later one hangs, as on a dead mount.
      readDisks: () => {
        reads++;
        return reads === 1 ? Promise.resolve([]) : new Promise(() => {});
      },
    });
    try {
      const key = registryKey('hb-05');
      const seen = new Set<number>();
      // Beats every 20 ms go on: a hung read held each beat 2 s before.
      await waitFor('ten beats stored', async () => {
        const e = await kv.get(key);
        if (e) seen.add(e.revision);
        return seen.size >= 10;
      });
      expect(reads).toBe(2);
    } finally {
      await heartbeat.stop();
    }
  });

  it('heartbeats that cannot be sent (a closed connection) are logged, and the next is tried', async () => {
    const nc = await connectNats({ settings: testClient(sys.nats.url), logger: silentLogger });
    const store = await storeFor(sys, nc);
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line).msg) },
    );
    const heartbeat = await beat(store, 'hb-03', { logger });
    await nc.close();
    try {
      // Beats alternate unacknowledged and acknowledged: three failed ones
      // mean both kinds failed without ending the process, and the timer lived on.
      await waitFor('three failed heartbeats', () => warnings.length >= 3);
      expect(new Set(warnings)).toEqual(
        new Set(['heartbeat failed; will retry at the next interval']),
      );
    } finally {
      await heartbeat.stop();
    }
  });

  it('an out-of-turn beat the registry could not store is tried again until it is', async () => {
    const nc = await connectNats({ settings: testClient(sys.nats.url), logger: silentLogger });
    const store = await storeFor(sys, nc);
    const jsm = await jetstreamManager(nc);
    const stream = `KV_${sys.config.agent.nats.namespace}-agent-registry`;
    let failures = 0;
    const heartbeat = await beat(store, 'hb-04', {
      // No regular beat during the test: only the out-of-turn one and its retries.
      intervalMs: 60_000,
      outage: { failed: () => failures++, worked: () => {} } as unknown as OutageLog,
    });
    const kv = await new Kvm(nc).open(`${sys.config.agent.nats.namespace}-agent-registry`);
    const before = (await kv.get(registryKey('hb-04')))?.revision ?? 0;
    // The bucket's stream takes nothing for a while, as during an election.
    const info = await jsm.streams.info(stream);
    const subjects = info.config.subjects;
    await jsm.streams.update(stream, { ...info.config, subjects: ['osapitest.nowhere'] });
    try {
      heartbeat.beatNow();
      // The first try fails (no stream takes the subject); then the stream is put back.
      await waitFor('the first try failed', () => failures >= 1, 10_000);
      await jsm.streams.update(stream, { ...info.config, subjects });
      await waitFor(
        'the beat stored by a later try',
        async () => ((await kv.get(registryKey('hb-04')))?.revision ?? 0) > before,
        10_000,
      );
    } finally {
      await jsm.streams.update(stream, { ...info.config, subjects }).catch(() => undefined);
      await heartbeat.stop();
      await nc.close();
    }
  });
});
