// Agents hear broadcasts on plain subscriptions, which keep nothing for an
// agent that is not connected. The promise kept instead: an agent that was
// away when a broadcast went out runs it when it returns, once, if the job's
// start deadline has not passed; otherwise the job shows it as not responding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../../src/agent/start.js';
import { systemClock } from '../../src/job/clock.js';
import { type JobStore, publishJob, readResponse, readStatusEvents } from '../../src/job/store.js';
import { claimKey } from '../../src/names/names.js';
import { storeFor, type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { bucketsOf } from '../support/buckets.js';
import { silentLogger } from '../support/nats.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const A = 'cu-a';
const B = 'cu-b';

let sys: TestSystem;
let store: JobStore;
let dir: TempDir;
let proxy: TcpProxy;
let b: AgentProcess | undefined;

/** Agent B, connected through the proxy so that the test can cut it off. */
async function startB(hostname = B): Promise<AgentProcess> {
  return startAgentProcess({
    config: { ...sys.config, agent: { ...sys.config.agent, hostname, labels: {} } },
    logger: silentLogger,
    clock: systemClock,
    natsServers: [proxy.url],
  });
}

beforeAll(async () => {
  // Missed jobs are read back at once, not after the fleet-sized jitter.
  sys = await startTestSystem({ overrides: { 'agent.listen.jitter': '50ms' } });
  proxy = await startTcpProxy(sys.nats.port);
  await sys.startAgent(A);
  b = await startB();
  await sys.waitForAgents([A, B]);
  store = await storeFor(sys);
  dir = tempDir('catch-up');
});
afterAll(async () => {
  await b?.stop();
  await sys?.stop();
  await proxy?.close();
  dir?.remove();
});

/** A broadcast as the API makes it when both agents were Ready. */
function broadcast(file: string, startWithinMs: number) {
  return publishJob(store, {
    type: 'command.shell.execute',
    data: { command: `echo ran >> ${file}`, args: [], timeout: 5 },
    target: { kind: 'all' },
    createdBy: 'catch-up-test',
    startWithinMs,
    expectedHosts: [A, B],
  });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const startedOn = async (id: string, host: string) =>
  (await readStatusEvents(store, id)).filter((e) => e.event === 'started' && e.hostname === host)
    .length;
const responseOf = (id: string, host: string) =>
  waitFor(`${host}'s result`, () => readResponse(store, id, host).then((r) => r ?? undefined));

describe('an agent away during a broadcast', () => {
  it('cut off from NATS, it runs the job once after it reconnects', async () => {
    const file = join(dir.path, 'reconnect');
    proxy.cut();
    // Still Ready in the registry (its entry outlives a short cut), so the
    // API sends the broadcast to it as well.
    const token = await sys.token();
    const r = await request(
      sys,
      'POST',
      '/node/_all/command/shell?async=true',
      { command: `echo ran >> ${file}` },
      token,
    );
    expect(r.status).toBe(202);
    expect(r.body.expected_hosts).toEqual([A, B]);
    const id: string = r.body.job_id;
    await responseOf(id, A);
    expect(await readResponse(store, id, B)).toBeNull();

    proxy.restore();
    expect(await responseOf(id, B)).toMatchObject({ status: 'completed' });
    expect(lines(file)).toEqual(['ran', 'ran']);
    expect(await startedOn(id, B)).toBe(1);
  });

  it('cut off while its job runs, it hears the cancel sent meanwhile once it reconnects', async () => {
    const token = await sys.token();
    const r = await request(
      sys,
      'POST',
      `/node/${B}/command/shell?async=true`,
      { command: 'sleep 60', timeout: 120 },
      token,
    );
    expect(r.status).toBe(202);
    const id: string = r.body.job_id;
    await waitFor('the run to start on B', async () => (await startedOn(id, B)) === 1 || undefined);

    proxy.cut();
    const cancel = await request(sys, 'POST', `/job/${id}/cancel`, undefined, token).finally(() =>
      proxy.restore(),
    );
    expect(cancel.status).toBe(200);

    // Without reading the stored marker after the reconnect, the run would go on for a minute.
    const result = await waitFor(`${B}'s result`, () =>
      readResponse(store, id, B).then((x) => x ?? undefined),
    );
    expect(result).toMatchObject({ status: 'failed', state: 'cancelled' });
    expect(result.data).toMatchObject({ end: 'cancelled' });
  });

  it('stopped, it runs the job once when it starts again before the deadline', async () => {
    const file = join(dir.path, 'restart');
    await b?.stop();
    b = undefined;
    const job = await broadcast(file, 60_000);
    await responseOf(job.id, A);

    b = await startB();
    // An agent that joined after the broadcast was not sent it, and does not run it.
    const newcomer = await startB('cu-new');
    await newcomer.agent.caughtUp;
    expect(await responseOf(job.id, B)).toMatchObject({ status: 'completed' });
    await b.agent.caughtUp;
    expect(lines(file)).toEqual(['ran', 'ran']);
    expect(await startedOn(job.id, B)).toBe(1);
    expect(await readResponse(store, job.id, 'cu-new')).toBeNull();
    expect(
      await (await bucketsOf(store)).jobs.get(claimKey(job.id, { hostname: 'cu-new' })),
    ).toBeNull();
    await newcomer.stop();
  });

  it('back after the deadline, it does not run the job, which shows it as not responding', async () => {
    const file = join(dir.path, 'late');
    await b?.stop();
    b = undefined;
    // A start deadline A meets even on a loaded machine, and B, stopped, misses.
    const job = await broadcast(file, 3_000);
    await responseOf(job.id, A);
    await waitFor('the start deadline to pass', () => Date.now() > Date.parse(job.deadline));

    b = await startB();
    await b.agent.caughtUp;
    expect(await readResponse(store, job.id, B)).toBeNull();
    expect(await (await bucketsOf(store)).jobs.get(claimKey(job.id, { hostname: B }))).toBeNull();

    const token = await sys.token();
    const detail = await waitFor(
      'the job to show who did not respond',
      async () => {
        const r = await request(sys, 'GET', `/job/${job.id}`, undefined, token);
        return r.body.agent_states?.[B]?.status === 'no_response' && r.body;
      },
      15_000,
      200,
    );
    expect(detail.agent_states[A].status).toBe('succeeded');
    expect(detail.status).toBe('partial_failure');
    expect(detail.agent_states[B].error).toMatch(/deadline/);
    expect(lines(file)).toEqual(['ran']);
  });
});
