// `_any` runs each command on exactly one agent, however many agents consume
// and however many requests arrive at once: count the side effects.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerName } from '../../src/names/names.js';
import { bucketsOf } from '../support/buckets.js';
import { post, startTestSystem, type TestSystem } from '../support/system.js';
import { kvKeys, storeFor, type TempDir, tempDir, waitFor } from './helpers.js';

let sys: TestSystem;
let dir: TempDir;
const HOSTS = ['any-01', 'any-02', 'any-03'];

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  dir = tempDir('any-once');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

describe('_any: exactly once', () => {
  it('30 concurrent requests, 3 agents: each command ran once, each answered once', async () => {
    const token = await sys.token();
    const file = join(dir.path, 'lines');
    const N = 30;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        post(sys, '/node/_any/command/shell', { command: `echo ${i} >> ${file}` }, token),
      ),
    );
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(a.body.results).toHaveLength(1);
      expect(a.body.results[0]).toMatchObject({ exit_code: 0, status: 'completed' });
      expect(HOSTS).toContain(a.body.results[0].hostname);
    }
    expect(new Set(answers.map((a) => a.body.job_id)).size).toBe(N);
    const byHost = new Map<string, number>();
    for (const a of answers) {
      const h = a.body.results[0].hostname;
      byHost.set(h, (byHost.get(h) ?? 0) + 1);
    }
    // Several agents competed for the jobs, so exactly-once was really at stake.
    expect(byHost.size).toBeGreaterThanOrEqual(2);

    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(N);
    expect(lines.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));

    // One claim per job, and one stored response per job.
    const store = await storeFor(sys);
    const claims = await kvKeys((await bucketsOf(store)).jobs, 'claims.>');
    expect(claims).toHaveLength(N);
    for (const a of answers) expect(claims).toContain(`claims.${a.body.job_id}._any`);
    expect(await kvKeys((await bucketsOf(store)).responses, '>')).toHaveLength(N);

    // Nothing is left to deliver again on the shared consumer, so no late
    // second run can follow: the file stays as it is.
    const jsm = await jetstreamManager(sys.api.nc);
    const consumer = consumerName(sys.config.agent.consumer.name, { any: true });
    await waitFor('the _any consumer to be drained', async () => {
      const info = await jsm.consumers.info(store.names.stream, consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0;
    });
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(N);
  });
});
