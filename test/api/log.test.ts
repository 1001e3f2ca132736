// The log routes (log:read) against a real nats-server and agents in this
// process. This machine runs no journald: lg-01..03 run a stand-in
// journalctl (test/support/fake-journalctl.ts) each, which applies the
// filters to a fixture of real `-o json` lines as journalctl would, lg-04
// this machine's own journalctl, which finds no journal, so it answers
// skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type FakeJournalctl, makeFakeJournalctl } from '../support/fake-journalctl.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const FAKED = ['lg-01', 'lg-02', 'lg-03'];
const fakes = new Map<string, FakeJournalctl>();
const fake = (h: string) => fakes.get(h) as FakeJournalctl;

let sys: TestSystem;
let reader: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of FAKED) {
    const f = makeFakeJournalctl();
    fakes.set(h, f);
    await sys.startAgent(
      h,
      { group: 'log' },
      {},
      { journalctl: f.tool, journalDirs: [f.journalDir] },
    );
  }
  await sys.startAgent('lg-04', { group: 'real' });
  await sys.waitForAgents([...FAKED, 'lg-04']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  for (const f of fakes.values()) f.remove();
});

describe('reading the journal', () => {
  it('a broadcast to three agents reads their entries with the query filters; a read token may', async () => {
    const r = await request(
      sys,
      'GET',
      '/node/group:log/log?lines=2&priority=warning&since=2025-12-06',
      undefined,
      reader,
    );
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    const items = byHost(r.body.results);
    expect(items.map((i: AnyJson) => [i.hostname, i.status])).toEqual(FAKED.map((h) => [h, 'ok']));
    for (const item of items) {
      expect(item.entries.map((e: AnyJson) => e.priority)).toEqual(['err', 'warning']);
      expect(item.entries[0]).toMatchObject({ unit: 'osapi-agent.service', pid: 2048 });
    }
    for (const h of FAKED) {
      const args = fake(h).lastArgs();
      expect(args).toContain('2');
      expect(args).toContain('--priority=4');
      expect(args).toContain('--since=@1764979200');
    }
  });

  it('until and grep reach journalctl from the query string, on both routes', async () => {
    const r = await request(
      sys,
      'GET',
      `/node/lg-01/log?until=${encodeURIComponent('2025-12-06T05:21:30Z')}&grep=${encodeURIComponent('publickey|NATS')}`,
      undefined,
      reader,
    );
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    // Case-sensitive (the pattern has capitals): "publickey" is in the first entry as written.
    expect(r.body.results[0].entries.map((e: AnyJson) => e.unit)).toEqual([
      'ssh.service',
      'osapi-agent.service',
    ]);
    expect(fake('lg-01').lastArgs().slice(5)).toEqual([
      '--until=@1764998490',
      '--grep=publickey|NATS',
    ]);
    const unit = await request(
      sys,
      'GET',
      '/node/lg-02/log/unit/ssh.service?grep=ACCEPTED&since=2025-12-01&until=2025-12-07',
      undefined,
      reader,
    );
    expect(unit.status).toBe(200);
    expect(unit.body.results[0]).toMatchObject({ status: 'ok', entries: [] });
    expect(fake('lg-02').lastArgs().slice(5)).toEqual([
      '--since=@1764547200',
      '--until=@1765065600',
      '--grep=ACCEPTED',
      '--unit=ssh.service',
    ]);
    const client = new OsapiClient({ url: sys.url, token: reader });
    const sdk = await client.logUnitList('lg-03', { name: 'ssh.service', grep: 'accepted' });
    expect(sdk.body.results[0]).toMatchObject({ status: 'ok', entries: [{ unit: 'ssh.service' }] });
  });

  it('one unit, and the sources, through the SDK with its query fields', async () => {
    const client = new OsapiClient({ url: sys.url, token: reader });
    const unit = await client.logUnitList('lg-02', { name: 'ssh.service', lines: 5 });
    expect(unit.status).toBe(200);
    expect(unit.body.results[0]).toMatchObject({ status: 'ok' });
    expect(fake('lg-02').lastArgs()).toEqual([
      '-o',
      'json',
      '--no-pager',
      '-n',
      '5',
      '--unit=ssh.service',
    ]);
    const sources = await client.logSourceList('lg-03');
    expect(sources.body.results[0]).toMatchObject({
      status: 'ok',
      sources: ['kernel', 'osapi', 'sshd'],
    });
  });

  it('a host without journald answers skipped, saying why', async () => {
    const r = await request(sys, 'GET', '/node/lg-04/log', undefined, reader);
    expect(r.body.results[0]).toMatchObject({
      status: 'skipped',
      error: expect.stringMatching(/journal/),
    });
  });

  it('needs log:read', async () => {
    const narrow = await sys.token(['read'], ['node:read']);
    const r = await request(sys, 'GET', '/node/lg-01/log', undefined, narrow);
    expect(r.status).toBe(403);
  });
});

describe('hostile input: 400 naming the field', () => {
  it.each([
    ['/node/lg-01/log?lines=0', 'lines'],
    ['/node/lg-01/log?lines=5000', 'lines'],
    ['/node/lg-01/log?lines=abc', 'lines'],
    ['/node/lg-01/log?since=yesterday', 'since'],
    ['/node/lg-01/log?since=--all', 'since'],
    ['/node/lg-01/log?priority=loud', 'priority'],
    ['/node/lg-01/log?grep=', 'grep'],
    [`/node/lg-01/log?grep=${'x'.repeat(257)}`, 'grep'],
    ['/node/lg-01/log?grep=a%0Ab', 'grep'],
    ['/node/lg-01/log?until=yesterday', 'until'],
    ['/node/lg-01/log?since=1h&until=2h', 'until'],
    ['/node/lg-01/log/unit/ssh.service?since=2026-01-31&until=2026-01-30', 'until'],
    ['/node/lg-01/log?nope=x', 'nope'],
    ['/node/lg-01/log/unit/-x', 'name'],
    ['/node/lg-01/log/unit/a%2Fb', 'name'],
    ['/node/lg-01/log/unit/ssh.service?priority=9', 'priority'],
  ])('GET %s: 400 naming %s', async (path, field) => {
    const r = await request(sys, 'GET', path, undefined, reader);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(JSON.stringify(r.body)).toContain(field);
  });
});
