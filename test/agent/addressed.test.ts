// Whether a signed job is this agent's, from its signed target and how the
// notification came: every way a copy can reach the wrong agent is refused.
import { describe, expect, it } from 'vitest';
import { type Arrival, addressRefusal, missedBroadcast } from '../../src/agent/addressed.js';
import { expectedDigest } from '../../src/job/signing.js';
import type { RouteTarget } from '../../src/names/names.js';

const web01 = { hostname: 'web-01', labels: { group: 'web.dev' } };
const on = (target: RouteTarget | null, subject = 'osapi.jobs.modify.x'): Arrival => ({
  via: 'subject',
  subject,
  target,
});
const shared: Arrival = { via: 'shared' };
const broadcast = (target: string, hosts: string[], rollout = false) => ({
  target_hostname: target,
  expected_digest: expectedDigest(hosts),
  ...(rollout ? { rollout: { max_concurrency: 1, max_errors: 0 } } : {}),
});

describe('addressRefusal', () => {
  it('runs a job for this host that came on its own subject', () => {
    const job = { target_hostname: 'web-01' };
    expect(addressRefusal(job, on({ kind: 'host', hostname: 'web-01' }), web01, null)).toBeNull();
  });

  it.each<[string, Arrival]>([
    ['another host', on({ kind: 'host', hostname: 'web-01' })],
    ['_all', on({ kind: 'all' })],
    ['a label', on({ kind: 'label', key: 'group', value: 'web' })],
    ['the shared consumer', shared],
  ])("refuses another host's job that came on %s", (_what, arrival) => {
    const job = { target_hostname: 'db-01' };
    expect(addressRefusal(job, arrival, web01, null)).toMatch(/signed for (host )?db-01/);
  });

  it("refuses its own host's job that came on _all, a label or the shared consumer", () => {
    const job = { target_hostname: 'web-01' };
    for (const arrival of [on({ kind: 'all' }), shared]) {
      expect(addressRefusal(job, arrival, web01, null)).toMatch(/signed for (this host|web-01)/);
    }
  });

  it('runs _any only from the shared consumer', () => {
    const job = { target_hostname: '_any' };
    expect(addressRefusal(job, shared, web01, null)).toBeNull();
    expect(addressRefusal(job, on({ kind: 'host', hostname: 'web-01' }), web01, null)).toMatch(
      /only through the shared _any consumer/,
    );
    expect(addressRefusal(job, on({ kind: 'all' }), web01, null)).toMatch(/shared _any consumer/);
  });

  it('runs a broadcast on its own subject when this host is one of its signed hosts', () => {
    const job = broadcast('group:web', ['web-01', 'web-02']);
    const label = on({ kind: 'label', key: 'group', value: 'web' });
    expect(addressRefusal(job, label, web01, ['web-02', 'web-01'])).toBeNull();
    expect(
      addressRefusal(broadcast('_all', ['web-01']), on({ kind: 'all' }), web01, ['web-01']),
    ).toBeNull();
  });

  it('refuses a broadcast this host was not sent, or whose list is not the signed one', () => {
    const job = broadcast('group:web', ['web-02']);
    const label = on({ kind: 'label', key: 'group', value: 'web' });
    expect(addressRefusal(job, label, web01, ['web-02'])).toMatch(
      /not one the broadcast was sent to/,
    );
    expect(addressRefusal(job, label, web01, ['web-02', 'web-01'])).toMatch(/not the signed one/);
    expect(addressRefusal(job, label, web01, null)).toMatch(/missing or not the signed one/);
    const unsigned = { target_hostname: 'group:web' };
    expect(addressRefusal(unsigned, label, web01, ['web-01'])).toMatch(/signed without the hosts/);
  });

  it("refuses a broadcast on another label's subject, or for labels this host does not have", () => {
    const job = broadcast('group:web', ['web-01']);
    expect(
      addressRefusal(job, on({ kind: 'label', key: 'group', value: 'db' }), web01, ['web-01']),
    ).toMatch(/signed for group:web, and came on/);
    const db = broadcast('group:db', ['web-01']);
    expect(
      addressRefusal(db, on({ kind: 'label', key: 'group', value: 'db' }), web01, ['web-01']),
    ).toMatch(/labels do not match/);
  });

  it("runs a rate-controlled broadcast only on this host's subject with the API's word for it", () => {
    const rollout = broadcast('_all', ['web-01'], true);
    const told = { ...on({ kind: 'host', hostname: 'web-01' }), toldByApi: true };
    expect(addressRefusal(rollout, told, web01, ['web-01'])).toBeNull();
    // The same without the word, on its broadcast subject, or on another host's.
    const untold = on({ kind: 'host', hostname: 'web-01' });
    expect(addressRefusal(rollout, untold, web01, ['web-01'])).toMatch(/turn has come/);
    const all = { ...on({ kind: 'all' }), toldByApi: true };
    expect(addressRefusal(rollout, all, web01, ['web-01'])).toMatch(/turn has come/);
    const other = { ...on({ kind: 'host', hostname: 'web-02' }), toldByApi: true };
    expect(addressRefusal(rollout, other, web01, ['web-01'])).toMatch(/turn has come/);
    // A broadcast without rate control never comes on a host's subject.
    expect(addressRefusal(broadcast('_all', ['web-01']), told, web01, ['web-01'])).toMatch(
      /came on/,
    );
  });

  it('refuses a signed target that does not parse, and a subject that names none', () => {
    expect(addressRefusal({ target_hostname: 'bad target!' }, on(null), web01, null)).toMatch(
      /signed target is not valid/,
    );
    expect(addressRefusal({ target_hostname: 'web-01' }, on(null), web01, null)).toMatch(/came on/);
  });
});

describe('missedBroadcast', () => {
  it('tells a broadcast made while this host was not Ready from a forged or misaddressed copy', () => {
    const job = broadcast('group:web', ['web-02']);
    expect(missedBroadcast(job, ['web-02'], web01)).toBe(true);
    // On the list: nothing was missed.
    expect(missedBroadcast(broadcast('group:web', ['web-01']), ['web-01'], web01)).toBe(false);
    // A list that is not the signed one, or none: not this case.
    expect(missedBroadcast(job, ['web-03'], web01)).toBe(false);
    expect(missedBroadcast(job, null, web01)).toBe(false);
    expect(missedBroadcast({}, ['web-02'], web01)).toBe(false);
  });
});
