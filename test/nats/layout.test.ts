import { DiscardPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { ensureLayout } from '../../src/nats/layout.js';
import { useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();

describe('ensureLayout', () => {
  it('creates the namespaced stream, DLQ, output stream, ten buckets and the file store, then changes nothing on a second run', async () => {
    const first = await ensureLayout(t.nc, testLayout('osapi'));
    expect(first.items.map((i) => [i.stream, i.action])).toEqual([
      ['osapi-JOBS', 'created'],
      ['osapi-JOBS-DLQ', 'created'],
      ['osapi-JOBS-OUTPUT', 'created'],
      ['KV_osapi-job-queue', 'created'],
      ['KV_osapi-job-responses', 'created'],
      ['KV_osapi-audit-log', 'created'],
      ['KV_osapi-audit-log-unauthenticated', 'created'],
      ['KV_osapi-agent-registry', 'created'],
      ['KV_osapi-agent-facts', 'created'],
      ['KV_osapi-agent-state', 'created'],
      ['KV_osapi-agent-enrollment', 'created'],
      ['KV_osapi-login-codes', 'created'],
      ['KV_osapi-file-deployments', 'created'],
      ['OBJ_osapi-files', 'created'],
    ]);
    const jsm = await jetstreamManager(t.nc);
    const jobs = await jsm.streams.info('osapi-JOBS');
    expect(jobs.config.subjects).toEqual(['osapi.jobs.>']);
    expect(jobs.config.max_age).toBe(24 * 3600 * 1e9);
    expect(jobs.config.max_msgs).toBe(10000);
    const registry = await jsm.streams.info('KV_osapi-agent-registry');
    expect(registry.config.max_age).toBe(30 * 1e9);
    // Authenticated entries keep their room and what they hold; entries
    // without a valid token live apart, smaller, and push out their own oldest.
    const audit = await jsm.streams.info('KV_osapi-audit-log');
    expect(audit.config).toMatchObject({ max_bytes: 52428800, discard: DiscardPolicy.New });
    const unauthenticated = await jsm.streams.info('KV_osapi-audit-log-unauthenticated');
    expect(unauthenticated.config).toMatchObject({
      max_bytes: 10485760,
      discard: DiscardPolicy.Old,
      max_age: audit.config.max_age,
    });

    // Live output: in memory, briefly, the oldest dropped first.
    const output = await jsm.streams.info('osapi-JOBS-OUTPUT');
    expect(output.config).toMatchObject({
      subjects: ['osapi.output.>'],
      storage: StorageType.Memory,
      discard: DiscardPolicy.Old,
      max_age: 600 * 1e9,
    });

    const before = await jsm.streams.info('osapi-JOBS');
    const second = await ensureLayout(t.nc, testLayout('osapi'));
    expect(second.items.every((i) => i.action === 'unchanged' && i.conflicts.length === 0)).toBe(
      true,
    );
    const after = await jsm.streams.info('osapi-JOBS');
    expect(after.config).toEqual(before.config);
  });

  it('uses bare names when the namespace is empty', async () => {
    const r = await ensureLayout(t.nc, testLayout(''));
    expect(r.items.map((i) => i.stream)).toContain('JOBS');
    expect(r.items.map((i) => i.stream)).toContain('KV_job-queue');
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info('JOBS')).config.subjects).toEqual(['jobs.>']);
  });

  it('updates what NATS can change and reports what it cannot', async () => {
    await ensureLayout(t.nc, testLayout('upd'));
    const base = testLayout('upd');
    const r = await ensureLayout(
      t.nc,
      testLayout('upd', {
        stream: { ...base.stream, max_age: 3600_000 },
        kv: { ...base.kv, storage: 'memory' },
      }),
    );
    const jobs = r.items.find((i) => i.stream === 'upd-JOBS');
    expect(jobs?.action).toBe('updated');
    expect(jobs?.changes.join()).toMatch(/max_age/);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info('upd-JOBS')).config.max_age).toBe(3600 * 1e9);
    const queue = r.items.find((i) => i.stream === 'KV_upd-job-queue');
    expect(queue?.conflicts.join()).toMatch(/storage is file but config asks memory/);
    expect((await jsm.streams.info('KV_upd-job-queue')).config.storage).toBe('file');
  });
});
