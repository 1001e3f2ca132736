import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeartbeat } from '../../src/agent/registry.js';
import { systemClock } from '../../src/job/clock.js';
import { registryKey } from '../../src/job/names.js';
import { parseAgentInfo } from '../../src/job/records.js';
import { storeFor, waitFor } from '../api/helpers.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;

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

  it('a heartbeat that cannot be sent is logged, and the next one is tried', async () => {
    const store = await storeFor(sys);
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line).msg) },
    );
    let quietTries = 0;
    const heartbeat = await startHeartbeat({
      registry: store.registry,
      // What a plain publish does on a closed connection: throw at once.
      publishQuietly: () => {
        quietTries++;
        throw new Error('connection closed');
      },
      hostname: 'hb-03',
      labels: {},
      maxJobs: 1,
      intervalMs: 20,
      clock: systemClock,
      logger,
    });
    try {
      // Beats alternate quiet and acknowledged: a second quiet one means the timer lived on.
      await waitFor('two quiet heartbeats', () => quietTries >= 2);
      expect(warnings).toContain('heartbeat failed; will retry at the next interval');
    } finally {
      await heartbeat.stop();
    }
  });
});
