// A three-node NATS cluster (three supervised nats-server processes, the jobs
// stream and every bucket with three replicas): one node killed with SIGKILL
// under load. Service goes on through the other two, every accepted job
// reaches a final state, and nothing runs twice. Long: a cluster's failover
// takes seconds to a minute on a busy machine, so it runs with
// `npm run test:faults` (OSAPI_FAULTS_LONG=1), not in every test run.
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeNats, connectNats } from '../../src/nats/connection.js';
import { waitFor } from '../api/helpers.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { silentLogger } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { type AnyJson, assertNothingLost, Fleet, killLeftovers, LONG } from './fleet.js';
import { type LoadRun, startLoad } from './load.js';

let cluster: TestCluster;
let fleet: Fleet;

const R3 = Object.fromEntries(
  ['stream', 'kv', 'audit', 'registry', 'dlq'].map((k) => [`nats.${k}.replicas`, 3]),
);

const started = Date.now();
/** What happened when, for a failure message: a failover's length varies with the machine. */
const progress: string[] = [];
const note = (what: string) =>
  progress.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);

/** Waits until the accepted count has grown by `n`: the service goes on. */
async function acceptsMore(load: LoadRun, n: number, what: string) {
  const from = load.accepted.length;
  await waitFor(what, () => load.accepted.length >= from + n, 90_000, 100).catch((err) => {
    throw new Error(
      `${String(err)}\n${progress.join('\n')}\nlast refusals:\n${load.lastRefusals.join('\n')}\n${fleet.logs()}`,
    );
  });
  note(what);
}

describe.runIf(LONG)('a node of a three-node cluster killed under load', () => {
  beforeAll(async () => {
    cluster = await startTestCluster(3);
    fleet = new Fleet({ natsUrls: () => cluster.urls, config: R3 });
    await fleet.startApi();
    await fleet.startAgents(['c1', 'c2', 'c3']);
  }, 90_000);
  afterAll(async () => {
    await killLeftovers();
    await fleet?.stop();
    await cluster?.stop();
  });

  it('loses nothing, and the service goes on through the other two', async () => {
    const nc = await connectNats({
      settings: { ...testClient(cluster.urls[0] ?? ''), servers: cluster.urls },
      logger: silentLogger,
    });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = `${fleet.namespace}-JOBS`;
      const info = await jsm.streams.info(stream);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas).toHaveLength(2);

      const load = startLoad(fleet, {
        prefix: 'c',
        workers: LONG ? 8 : 4,
        targets: ['_any', 'c1', '_all', 'c2', 'c3', '_any'],
      });
      await acceptsMore(load, 10, 'work accepted before the kill');
      // The jobs stream's leader: the node whose loss costs the most.
      const leader = (await jsm.streams.info(stream)).cluster?.leader;
      const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0];
      await victim?.kill();
      note(`killed ${victim?.name}, the jobs stream's leader`);
      await acceptsMore(load, 10, 'work accepted after the kill');
      if (victim) {
        // Back: it catches up, and the service goes on meanwhile.
        await victim.restart();
        note(`restarted ${victim.name}`);
        await acceptsMore(load, 10, 'work accepted after the restart');
      }
      await load.stop();

      const all = await fleet.request('POST', '/node/_all/command/shell', {
        command: fleet.countedCommand('after'),
        timeout: 10,
      });
      expect(all.status, JSON.stringify(all.body)).toBe(202);
      expect((all.body.results as AnyJson[]).map((r) => `${r.hostname}:${r.status}`)).toEqual([
        'c1:completed',
        'c2:completed',
        'c3:completed',
      ]);
      note('load stopped; a broadcast answered');
      const jobs = await assertNothingLost(
        fleet,
        [...load.accepted, { tag: 'after', jobId: all.body.job_id }],
        60_000,
      );
      expect(jobs.length).toBeGreaterThan(20);
      expect(jobs.filter((j) => j.status !== 'completed').map((j) => j.error)).toEqual([]);
    } finally {
      await closeNats(nc);
    }
  }, 420_000);
});
