// Conditions: each against its threshold, the time its status last changed
// kept, shown in GET /agent and the agent's metrics; flipped by thresholds
// set low in an agent's config.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConditionTracker, evaluateConditions } from '../../src/agent/conditions.js';
import { createAgentMetrics } from '../../src/agent/metrics.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

const thresholds = { memoryPercent: 90, diskPercent: 80, loadPerCpu: 2 };
const sample = {
  memory: { total: 1000, used: 500 },
  disks: [
    { name: '/', total: 100, used: 50 },
    { name: '/var', total: 100, used: 85 },
  ],
  load1: 3,
  cpus: 2,
};

describe('evaluateConditions', () => {
  it('holds each condition at or past its threshold, saying what was measured', () => {
    expect(evaluateConditions(sample, thresholds)).toEqual([
      { type: 'MemoryPressure', status: false, reason: 'memory 50% in use (threshold 90%)' },
      { type: 'DiskPressure', status: true, reason: '/var 85% in use (threshold 80%)' },
      { type: 'HighLoad', status: false, reason: 'load 3 on 2 CPUs, 1.5 per CPU (threshold 2)' },
    ]);
  });

  it('keeps the time each status last changed, and tells each change', () => {
    const tracker = new ConditionTracker(thresholds);
    const changes: string[] = [];
    const t0 = new Date('2026-12-06T10:00:00Z');
    const first = tracker.update(sample, t0, (c) => changes.push(`${c.type}=${c.status}`));
    expect(first.every((c) => c.last_transition_time === t0.toISOString())).toBe(true);
    // A condition that holds at start is a change; one that does not is not.
    expect(changes).toEqual(['DiskPressure=true']);
    const t1 = new Date('2026-12-06T10:01:00Z');
    const later = tracker.update({ ...sample, load1: 5 }, t1, (c) =>
      changes.push(`${c.type}=${c.status}`),
    );
    expect(changes).toEqual(['DiskPressure=true', 'HighLoad=true']);
    expect(later.find((c) => c.type === 'HighLoad')?.last_transition_time).toBe(t1.toISOString());
    expect(later.find((c) => c.type === 'DiskPressure')?.last_transition_time).toBe(
      t0.toISOString(),
    );
  });

  it('sets the agent’s condition gauges', async () => {
    const m = createAgentMetrics('h1');
    m.observeConditions([
      { type: 'MemoryPressure', status: true, last_transition_time: new Date().toISOString() },
      { type: 'HighLoad', status: false, last_transition_time: new Date().toISOString() },
    ]);
    const text = await m.registry.metrics();
    expect(text).toMatch(/osapi_agent_condition\{type="MemoryPressure",hostname="h1"\} 1/);
    expect(text).toMatch(/osapi_agent_condition\{type="HighLoad",hostname="h1"\} 0/);
  });
});

describe('conditions in GET /agent', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
    const low = { memory_pressure: 1, disk_pressure: 1, high_load: 1000 };
    const high = { memory_pressure: 100, disk_pressure: 100, high_load: 1000 };
    await sys.startAgent('cond-low', {}, { conditions: low });
    await sys.startAgent('cond-high', {}, { conditions: high });
    await sys.waitForAgents(['cond-high', 'cond-low']);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('flip with the thresholds in each agent’s config', async () => {
    const token = await sys.token();
    const r = await request(sys, 'GET', '/agent', undefined, token);
    const by = Object.fromEntries(
      (r.body.agents as AnyJson[]).map((a) => [
        a.hostname,
        Object.fromEntries((a.conditions as AnyJson[]).map((c) => [c.type, c.status])),
      ]),
    );
    expect(by['cond-low']).toEqual({ MemoryPressure: true, DiskPressure: true, HighLoad: false });
    expect(by['cond-high']).toEqual({
      MemoryPressure: false,
      DiskPressure: false,
      HighLoad: false,
    });
    const one = await request(sys, 'GET', '/agent/cond-low', undefined, token);
    expect(one.body.conditions[0]).toMatchObject({
      type: 'MemoryPressure',
      status: true,
      reason: expect.stringMatching(/threshold 1%/),
      last_transition_time: expect.any(String),
    });
  });
});
