// `_any` jobs come from one durable consumer all agents pull from, and
// nats-server holds at most max_waiting pulls on it: agents past that are
// refused. Jobs must still run, each exactly once, and the API server makes
// the consumer again when the configured limit grows (it cannot change in place).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerName } from '../../src/names/names.js';
import { ensureSharedConsumer } from '../../src/nats/any-consumer.js';
import { kvKeys, storeFor, type TempDir, tempDir } from '../api/helpers.js';
import { bucketsOf } from '../support/buckets.js';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

const HOSTS = ['mw-01', 'mw-02', 'mw-03', 'mw-04', 'mw-05'];
const LIMIT = 2;

let sys: TestSystem;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'agent.consumer.max_waiting': LIMIT } });
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  dir = tempDir('max-waiting');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

const shared = () => consumerName(sys.config.agent.consumer.name, { any: true });

/** Sends `n` `_any` jobs at once; checks each ran once and was answered once. */
async function runOnceEach(tag: string, n: number) {
  const token = await sys.token();
  const file = join(dir.path, tag);
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      post(sys, '/node/_any/command/shell', { command: `echo ${i} >> ${file}` }, token),
    ),
  );
  for (const a of answers) {
    expect(a.status).toBe(202);
    expect(a.body.results).toEqual([expect.objectContaining({ exit_code: 0 })]);
  }
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  expect(lines.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  const store = await storeFor(sys);
  const claims = await kvKeys((await bucketsOf(store)).jobs, 'claims.>');
  for (const a of answers) expect(claims).toContain(`claims.${a.body.job_id}._any`);
}

describe('_any with more agents than the consumer holds pulls', () => {
  it('the consumer holds the configured number of pulls, and each job runs once', async () => {
    const jsm = await jetstreamManager(sys.api.nc);
    const stream = (await storeFor(sys)).names.stream;
    const info = await jsm.consumers.info(stream, shared());
    expect(info.config.max_waiting).toBe(LIMIT);
    // More agents than pulls it holds: some agents were refused.
    expect(info.num_waiting).toBeLessThanOrEqual(LIMIT);
    await runOnceEach('limited', 12);
  });

  it('a larger limit makes the consumer again, and jobs still run once each', async () => {
    const jsm = await jetstreamManager(sys.api.nc);
    const store = await storeFor(sys);
    const stream = store.names.stream;
    const action = await ensureSharedConsumer(jsm, store.names, {
      ...sys.config.agent.consumer,
      max_waiting: 64,
    });
    expect(action).toBe('replaced');
    expect((await jsm.consumers.info(stream, shared())).config.max_waiting).toBe(64);
    await runOnceEach('raised', 8);
  });
});
