// nats-server (file storage) killed with SIGKILL under load and started again
// on the same port and store: the API server and the agents reconnect by
// themselves (the same processes), every job accepted before, during or after
// the crash reaches a final state, and nothing runs twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import { waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { sample } from '../support/prometheus.js';
import { type AnyJson, assertNothingLost, Fleet, killLeftovers, LONG } from './fleet.js';
import { startLoad } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'osapi-faults-nats-'));
let nats: NatsServerHandle;
let fleet: Fleet;

const startNats = (port: number) =>
  startNatsServer({
    host: '127.0.0.1',
    port,
    storeDir: join(dir, 'jetstream'),
    logger: silentLogger,
  });

// Starting the API and agents as processes takes long on a busy machine.
beforeAll(async () => {
  nats = await startNats(0);
  fleet = new Fleet({ natsUrls: () => [nats.url] });
  await fleet.startApi();
  await fleet.startAgents(['b1', 'b2']);
}, 90_000);
afterAll(async () => {
  await killLeftovers();
  await fleet?.stop();
  await nats?.stop(2000);
  rmSync(dir, { recursive: true, force: true });
});

const until = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 of nats-server under load, then a restart', () => {
  it(
    'the API and agents reconnect by themselves and every accepted job ends',
    async () => {
      const pids = [fleet.api?.pid, ...[...fleet.agents.values()].map((a) => a.pid)];
      const crashes = LONG ? 3 : 1;
      const load = startLoad(fleet, {
        prefix: 'n',
        workers: LONG ? 8 : 4,
        targets: ['_any', 'b1', '_all', 'b2', '_any'],
      });
      for (let c = 0; c < crashes; c++) {
        // Some work accepted before the crash, some still running at it.
        await waitFor('work accepted before the crash', () => load.accepted.length >= 10 * (c + 1));
        const port = nats.port;
        process.kill(nats.pid, 'SIGKILL');
        await nats.exited;
        await until(1500);
        nats = await startNats(port);
        await waitFor(
          'work accepted after the restart',
          async () => {
            const before = load.accepted.length;
            await until(300);
            return load.accepted.length > before;
          },
          30_000,
        );
      }
      await until(1000);
      await load.stop();
      // The API noticed each crash: it reconnected once per crash. (Whether a
      // request was refused meanwhile depends on timing: one sent while NATS
      // was away may simply wait for the reconnect and succeed.)
      const metrics = await fleet.request('GET', '/metrics');
      expect(
        sample(String(metrics.body), 'osapi_nats_reconnects_total'),
        'the crash went unnoticed',
      ).toBeGreaterThanOrEqual(crashes);
      // Any refusal was as unavailable (try again) or as no agent Ready, never a fault of the server.
      expect(
        [...load.refusedByStatus.keys()].filter((s) => s !== 503 && s !== 404),
        load.lastRefusals.join('\n'),
      ).toEqual([]);

      // The same processes, connected again.
      const now = [fleet.api?.pid, ...[...fleet.agents.values()].map((a) => a.pid)];
      expect(now).toEqual(pids);
      for (const p of [fleet.api, ...fleet.agents.values()]) {
        expect(p?.child.exitCode).toBeNull();
      }
      const all = await fleet.request('POST', '/node/_all/command/shell', {
        command: fleet.countedCommand('after'),
        timeout: 10,
      });
      expect(all.status, JSON.stringify(all.body)).toBe(202);
      expect((all.body.results as AnyJson[]).map((r) => `${r.hostname}:${r.status}`)).toEqual([
        'b1:completed',
        'b2:completed',
      ]);

      const jobs = await assertNothingLost(
        fleet,
        [...load.accepted, { tag: 'after', jobId: all.body.job_id }],
        60_000,
      );
      // The agents never stopped: no run may end as lost.
      expect(jobs.filter((j) => j.status !== 'completed').map((j) => j.error)).toEqual([]);
    },
    LONG ? 240_000 : 90_000,
  );
});
