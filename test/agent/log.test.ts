// The log handlers: `journalctl -o json` lines parsed, the filters turned
// into journalctl's arguments (checked on a stand-in that records them and
// applies them as journalctl does, as this machine runs no journald), and
// `skipped` where no journal is kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { parseJournalLine, timeArg } from '../../src/agent/handlers/log.js';
import { JOURNAL_FIXTURE, makeFakeJournalctl } from '../support/fake-journalctl.js';

const fake = makeFakeJournalctl();
afterAll(() => fake.remove());

const messages = (out: { data?: unknown }) =>
  (out.data as { entries: Array<{ message: string }> }).entries.map((e) => e.message);

const ctx = (over: Partial<NonNullable<HandlerContext['host']>> = {}): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024 * 1024,
  signal: new AbortController().signal,
  host: { unitDir: '/nonexistent', journalctl: fake.tool, journalDirs: [fake.journalDir], ...over },
});

describe('journal lines', () => {
  it('reads each field as journalctl writes it', () => {
    const [ssh, agent, kernel] = readFileSync(JOURNAL_FIXTURE, 'utf8')
      .trim()
      .split('\n')
      .map(parseJournalLine);
    expect(ssh).toEqual({
      timestamp: '2025-12-06T05:20:00.123Z',
      unit: 'ssh.service',
      priority: 'info',
      message: 'Accepted publickey for alice from 192.0.2.10 port 50522 ssh2: ED25519 SHA256:abc',
      pid: 1234,
      hostname: 'web-01',
    });
    expect(agent).toMatchObject({ unit: 'osapi-agent.service', priority: 'err', pid: 2048 });
    // No unit: the syslog identifier; a message of bytes that are not UTF-8 is still read.
    expect(kernel).toMatchObject({ unit: 'kernel', priority: 'warning' });
    expect(kernel?.message.startsWith('eth0: link up ')).toBe(true);
    expect(kernel).not.toHaveProperty('pid');
  });

  it('skips what is not an entry', () => {
    for (const line of ['', 'not json', '[]', 'null', '{"MESSAGE":"no time"}']) {
      expect(parseJournalLine(line), line).toBeNull();
    }
  });

  it('turns since into epoch seconds, UTC without an offset', () => {
    const now = Date.parse('2026-01-31T12:00:00Z');
    expect(timeArg('since', '2h', now)).toBe(`--since=@${now / 1000 - 7200}`);
    expect(timeArg('since', '7d', now)).toBe(`--since=@${now / 1000 - 7 * 86400}`);
    expect(timeArg('since', '2026-01-31T08:00:00Z')).toBe('--since=@1769846400');
    expect(timeArg('since', '2026-01-31 08:00:00')).toBe('--since=@1769846400');
    expect(timeArg('since', '2026-01-31T10:00:00+02:00')).toBe('--since=@1769846400');
    expect(timeArg('since', '2026-01-31')).toBe('--since=@1769817600');
  });
});

describe('handlers on a stand-in journalctl', () => {
  it('lists entries with the filters as journalctl options', async () => {
    const out = await runJob(
      'log.list',
      { lines: 3, since: '2025-12-06', priority: 'warning' },
      ctx(),
    );
    expect(out.status).toBe('completed');
    // The fixture's three entries are info, err and warning: the info one is left out.
    expect(messages(out)).toEqual([
      'agent: lost the NATS connection, reconnecting',
      expect.stringMatching(/^eth0: link up/),
    ]);
    const args = fake.lastArgs();
    expect(args.slice(0, 5)).toEqual(['-o', 'json', '--no-pager', '-n', '3']);
    expect(args).toContain('--priority=4');
    expect(args).toContain('--since=@1764979200');
  });

  it('until ends the range, both ends included; an age counts back from now', async () => {
    const out = await runJob(
      'log.list',
      { since: '2025-12-06T05:20:00Z', until: '2025-12-06T05:21:00Z' },
      ctx(),
    );
    expect(fake.lastArgs()).toEqual([
      '-o',
      'json',
      '--no-pager',
      '-n',
      '100',
      '--since=@1764998400',
      '--until=@1764998460',
    ]);
    // The second entry is logged a microsecond after 05:21:00.
    expect(messages(out)).toEqual([expect.stringMatching(/^Accepted publickey/)]);
    const old = await runJob('log.unit.list', { name: 'ssh.service', until: '1d' }, ctx());
    expect(messages(old)).toHaveLength(1);
    const until = fake.lastArgs().find((a) => a.startsWith('--until=@')) as string;
    expect(Number(until.slice('--until=@'.length))).toBeCloseTo(Date.now() / 1000 - 86_400, -1);
    const none = await runJob('log.list', { since: '1h' }, ctx());
    expect(messages(none)).toEqual([]);
  });

  it('grep is one argument, matched on the message, case-insensitive unless it has a capital', async () => {
    const lower = await runJob('log.list', { grep: 'nats|publickey' }, ctx());
    expect(fake.lastArgs().at(-1)).toBe('--grep=nats|publickey');
    expect(messages(lower)).toHaveLength(2);
    expect(messages(await runJob('log.list', { grep: 'Nats' }, ctx()))).toEqual([]);
    const unit = await runJob(
      'log.unit.list',
      { name: 'osapi-agent.service', grep: '--all; rm -rf / $(id)' },
      ctx(),
    );
    expect(unit.status).toBe('completed');
    expect(fake.lastArgs().slice(-2)).toEqual([
      '--grep=--all; rm -rf / $(id)',
      '--unit=osapi-agent.service',
    ]);
    expect(messages(unit)).toEqual([]);
  });

  it('a pattern journalctl cannot compile, or a journalctl without PCRE2, fails saying so', async () => {
    const bad = await runJob('log.list', { grep: '(' }, ctx());
    expect(bad).toMatchObject({ status: 'failed', error: expect.stringMatching(/Bad pattern/) });
    const plain = makeFakeJournalctl({ patterns: false });
    try {
      const out = await runJob('log.list', { grep: 'x' }, ctx({ journalctl: plain.tool }));
      expect(out).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/without pattern matching \(PCRE2\).*without grep/),
      });
      // Without grep that journalctl serves as well as any.
      expect((await runJob('log.list', {}, ctx({ journalctl: plain.tool }))).status).toBe(
        'completed',
      );
    } finally {
      plain.remove();
    }
  });

  it('defaults to the newest 100, and reads one unit', async () => {
    await runJob('log.list', {}, ctx());
    expect(fake.lastArgs()).toEqual(['-o', 'json', '--no-pager', '-n', '100']);
    const out = await runJob('log.unit.list', { name: 'ssh.service', priority: '3' }, ctx());
    expect(out.status).toBe('completed');
    expect(fake.lastArgs()).toEqual([
      '-o',
      'json',
      '--no-pager',
      '-n',
      '100',
      '--priority=3',
      '--unit=ssh.service',
    ]);
  });

  it('lists the sources once each, sorted', async () => {
    const out = await runJob('log.source.list', {}, ctx());
    expect(out.data).toEqual({ sources: ['kernel', 'osapi', 'sshd'] });
  });

  it('refuses filters that are not what they say', async () => {
    for (const data of [
      { lines: 0 },
      { lines: 1001 },
      { since: 'yesterday' },
      { since: '--all' },
      { priority: 'loud' },
      { priority: '8' },
      { until: 'tomorrow' },
      { since: '1h', until: '2h' },
      { since: '2026-01-31', until: '2026-01-30T23:59:59Z' },
      { grep: '' },
      { grep: 'a\nb' },
      { grep: 'x'.repeat(257) },
    ]) {
      const out = await runJob('log.list', data, ctx());
      expect(out.error, JSON.stringify(data)).toMatch(/^invalid job data/);
    }
    const out = await runJob('log.unit.list', { name: '-x' }, ctx());
    expect(out.error).toMatch(/^invalid job data/);
  });

  it('a host without a journal, or without journalctl, answers skipped', async () => {
    const none = await runJob(
      'log.list',
      {},
      ctx({ journalDirs: [join(fake.journalDir, 'none')] }),
    );
    expect(none).toMatchObject({ state: 'skipped', error: expect.stringMatching(/no journal/) });
    const noTool = await runJob(
      'log.source.list',
      {},
      ctx({ journalctl: join(fake.journalDir, 'nope') }),
    );
    expect(noTool).toMatchObject({
      state: 'skipped',
      error: expect.stringMatching(/not installed/),
    });
  });
});
