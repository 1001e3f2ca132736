// The listener's units without NATS: which notifications read back from the
// stream are addressed to this agent, and its timers, which never fire after
// a stop and never keep the process alive.

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { addressedTo, ListenerTimers, RetriesOnRecovery } from '../../src/agent/listener.js';
import { OutageLog } from '../../src/log/outage-log.js';
import { infraNames, notifySubject, type RouteTarget } from '../../src/names/names.js';
import { testLayout } from '../support/settings.js';

const names = infraNames(testLayout('lu'));
const labels = { group: 'web.dev.eu', tier: 'front' };
const on = (t: RouteTarget, category: 'query' | 'modify' = 'modify') =>
  addressedTo(names, 'web-01', labels, notifySubject(names, category, t));

describe('addressedTo', () => {
  it('takes _all, its own host and every prefix of its label values, in both categories', () => {
    expect(on({ kind: 'all' })).toEqual({ kind: 'all' });
    expect(on({ kind: 'host', hostname: 'web-01' }, 'query')).toEqual({
      kind: 'host',
      hostname: 'web-01',
    });
    for (const value of ['web', 'web.dev', 'web.dev.eu']) {
      expect(on({ kind: 'label', key: 'group', value })).toEqual({
        kind: 'label',
        key: 'group',
        value,
      });
    }
  });

  it("refuses another host, another label value, a label it lacks, _any, and what is not a job's subject", () => {
    expect(on({ kind: 'host', hostname: 'web-02' })).toBeNull();
    expect(on({ kind: 'label', key: 'group', value: 'web.prod' })).toBeNull();
    expect(on({ kind: 'label', key: 'group', value: 'web.dev.eu.x' })).toBeNull();
    expect(on({ kind: 'label', key: 'zone', value: 'a' })).toBeNull();
    expect(on({ kind: 'any' })).toBeNull();
    expect(addressedTo(names, 'web-01', labels, 'elsewhere.jobs.modify._all')).toBeNull();
  });
});

describe('ListenerTimers', () => {
  it('runs what is due, and after stop() runs nothing and holds nothing', async () => {
    const timers = new ListenerTimers();
    const ran: string[] = [];
    await new Promise<void>((resolve) => {
      timers.later(1, () => {
        ran.push('first');
        resolve();
      });
    });
    timers.later(60_000, () => ran.push('late'));
    expect(timers.pending).toBe(1);
    timers.stop();
    expect(timers.pending).toBe(0);
    timers.later(0, () => ran.push('after stop'));
    expect(timers.pending).toBe(0);
    expect(ran).toEqual(['first']);
  });
});

describe('RetriesOnRecovery', () => {
  it('runs a waiting retry at its time, or at once when NATS works after failing; once either way', () => {
    const scheduled: Array<() => void> = [];
    const outage = new OutageLog(pino({ level: 'silent' }));
    const retries = new RetriesOnRecovery((_ms, fn) => scheduled.push(fn), outage);
    const ran: string[] = [];
    retries.later(30_000, () => ran.push('a'));
    retries.later(30_000, () => ran.push('b'));
    outage.worked(); // nothing had failed: nothing moves
    expect(ran).toEqual([]);
    outage.failed('job handling failed', new Error('timeout'));
    outage.worked(); // the outage is over for retries: both go now
    expect(ran).toEqual(['a', 'b']);
    for (const fire of scheduled) fire(); // their timers later find nothing to do
    expect(ran).toEqual(['a', 'b']);
    expect(retries.pending).toBe(0);

    retries.later(30_000, () => ran.push('c'));
    scheduled.at(-1)?.();
    expect(ran).toEqual(['a', 'b', 'c']);
    retries.stop();
    retries.later(30_000, () => ran.push('d'));
    outage.failed('x', new Error('timeout'));
    outage.worked(); // stopped: no longer told
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});
