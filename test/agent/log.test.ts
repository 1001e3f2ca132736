// The log handlers: `journalctl -o json` lines parsed, the filters turned
// into journalctl's arguments (checked on a stand-in that records them, as
// this machine runs no journald), and `skipped` where no journal is kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { parseJournalLine, sinceArg } from '../../src/agent/handlers/log.js';
import { JOURNAL_FIXTURE, makeFakeJournalctl } from '../support/fake-journalctl.js';

const fake = makeFakeJournalctl();
afterAll(() => fake.remove());

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
    expect(sinceArg('2h', now)).toBe(`--since=@${now / 1000 - 7200}`);
    expect(sinceArg('7d', now)).toBe(`--since=@${now / 1000 - 7 * 86400}`);
    expect(sinceArg('2026-01-31T08:00:00Z')).toBe('--since=@1769846400');
    expect(sinceArg('2026-01-31 08:00:00')).toBe('--since=@1769846400');
    expect(sinceArg('2026-01-31T10:00:00+02:00')).toBe('--since=@1769846400');
    expect(sinceArg('2026-01-31')).toBe('--since=@1769817600');
  });
});

describe('handlers on a stand-in journalctl', () => {
  it('lists entries with the filters as journalctl options', async () => {
    const out = await runJob('log.list', { lines: 3, since: '1h', priority: 'warning' }, ctx());
    expect(out.status).toBe('completed');
    expect((out.data as { entries: unknown[] }).entries).toHaveLength(3);
    const args = fake.lastArgs();
    expect(args.slice(0, 5)).toEqual(['-o', 'json', '--no-pager', '-n', '3']);
    expect(args).toContain('--priority=4');
    expect(args.some((a) => /^--since=@[0-9]+$/.test(a))).toBe(true);
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
