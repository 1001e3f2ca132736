// Two API servers behind one address (a round-robin proxy, as a load
// balancer would be), under load: any request goes to either; one killed
// with SIGKILL and started again, then the other (and, in the long run, each
// again): every job accepted through the proxy ends, nothing runs twice, and
// a rollout under way when its server died is carried on by the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../api/helpers.js';
import { type HttpProxy, startHttpProxy } from '../support/http-proxy.js';
import { startTestNats, type TestNats } from '../support/nats.js';
import { assertNothingLost, Fleet, killLeftovers, LONG, type OsapiProcess } from './fleet.js';
import { startLoad } from './load.js';

const HOSTS = ['c1', 'c2', 'c3'];
let nats: TestNats;
let fleet: Fleet;
let proxy: HttpProxy;
/** The two API servers behind the proxy. */
let apis: [OsapiProcess, OsapiProcess];

// Starting the API servers and agents as processes takes long on a busy machine.
beforeAll(async () => {
  nats = await startTestNats();
  fleet = new Fleet({ natsUrls: () => [nats.url] });
  apis = [await fleet.startApi(), await fleet.startSpareApi()];
  proxy = await startHttpProxy(apis.map((a) => a.ready.api_url));
  fleet.front = proxy.url;
  await fleet.startAgents(HOSTS);
}, 90_000);
afterAll(async () => {
  await killLeftovers();
  await proxy?.close();
  await fleet?.stop();
  await nats?.stop();
});

describe('two API servers behind one address, each killed in turn under load', () => {
  it(
    'every job accepted through the proxy ends, nothing runs twice, a rollout goes on',
    async () => {
      const load = startLoad(fleet, {
        prefix: 'p',
        workers: LONG ? 8 : 4,
        targets: ['_any', 'c1', '_all', 'c2', 'c3'],
      });
      const accepted = () => load.accepted.length;
      const rollout = await fleet.request('POST', '/node/_all/command/shell?async=true', {
        command: fleet.countedCommand('roll', 'sleep 2'),
        timeout: 30,
        max_concurrency: 1,
      });
      expect(rollout.status, JSON.stringify(rollout.body)).toBe(202);
      const kills = LONG ? 4 : 2;
      for (let k = 0; k < kills; k++) {
        const before = accepted();
        await waitFor('work accepted before the kill', () => accepted() >= before + 10, 30_000);
        // Killed, and left in the proxy's list as a balancer would until its check.
        const victim = k % 2 === 0 ? 0 : 1;
        await apis[victim].kill();
        await waitFor(
          'work accepted with one server gone',
          () => accepted() >= before + 20,
          30_000,
        );
        const back = await fleet.startSpareApi();
        apis[victim] = back;
        proxy.setBackends(apis.map((a) => a.ready.api_url));
      }
      await load.stop();
      // Both servers took requests.
      expect([...proxy.counts().values()].filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      // A request cut by a kill has no answer (0) or the proxy's 502; none is a server fault.
      expect(
        [...load.refusedByStatus.keys()].filter((s) => ![0, 502, 503].includes(s)),
        load.lastRefusals.join('\n'),
      ).toEqual([]);
      const jobs = await assertNothingLost(
        fleet,
        [...load.accepted, { tag: 'roll', jobId: rollout.body.job_id }],
        60_000,
      );
      const roll = jobs.at(-1);
      expect(roll.status).toBe('completed');
      for (const h of HOSTS) expect(fleet.runs().get(`roll ${h}`)).toBe(1);
    },
    LONG ? 240_000 : 120_000,
  );
});
