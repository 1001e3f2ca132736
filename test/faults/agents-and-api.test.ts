// Crashes and restarts of the processes around NATS, on one fleet of real
// processes: an agent killed with SIGKILL while its job runs (the job ends
// `failed` for that host with a timeline saying why; the waiting broadcast
// answers for the others), an agent restarted (it registers once and takes new
// work), and the API server restarted while jobs run (they complete and are
// read afterwards), and the API server driving a rollout killed beside another
// (the other carries it on; in the long run the first comes back and carries
// it on in turn when the second is killed). Nothing accepted is lost, nothing
// runs twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../api/helpers.js';
import { startTestNats, type TestNats } from '../support/nats.js';
import {
  type Accepted,
  type AnyJson,
  assertNothingLost,
  Fleet,
  killLeftovers,
  LONG,
} from './fleet.js';

let nats: TestNats;
let fleet: Fleet;

// Starting the API and agents as processes takes long on a busy machine.
beforeAll(async () => {
  nats = await startTestNats();
  fleet = new Fleet({ natsUrls: () => [nats.url] });
  await fleet.startApi();
  await fleet.startAgents(['a1', 'a2', 'a3']);
}, 90_000);
afterAll(async () => {
  await killLeftovers();
  await fleet?.stop();
  await nats?.stop();
});

describe('kill -9 of an agent while its job runs', () => {
  it('ends the job failed for that host, saying why; the broadcast answers for the others', async () => {
    const accepted: Accepted[] = [];
    // a2 takes long enough to be killed in the middle; the others finish at once.
    const command = fleet.countedCommand('crash', 'if [ "$FAULT_HOST" = a2 ]; then sleep 20; fi');
    const started = Date.now();
    const answer = fleet.request('POST', '/node/_all/command/shell', { command, timeout: 60 });
    await waitFor('a2 to start the command', () => fleet.runs().has('crash a2'), 15_000);
    await fleet.agents.get('a2')?.kill();

    const res = await answer;
    const waited = Date.now() - started;
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    // Heartbeat TTL (6 s) plus a sweep, not the command's 60 s timeout.
    expect(waited).toBeLessThan(20_000);
    accepted.push({ tag: 'crash', jobId: res.body.job_id });
    const byHost = Object.fromEntries((res.body.results as AnyJson[]).map((r) => [r.hostname, r]));
    expect(byHost.a1).toMatchObject({ status: 'completed', exit_code: 0 });
    expect(byHost.a3).toMatchObject({ status: 'completed', exit_code: 0 });
    expect(byHost.a2).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^the agent stopped sending heartbeats .*not run again/),
    });

    const [job] = await assertNothingLost(fleet, accepted);
    expect(job.status).toBe('partial_failure');
    expect(job.agent_states.a2).toMatchObject({ status: 'failed' });
    expect(job.agent_states.a1.status).toBe('succeeded');
    const a2Events = (job.timeline as AnyJson[])
      .filter((e) => e.hostname === 'a2')
      .map((e) => e.event);
    // `started` is written alongside the run, so a kill can beat it to NATS.
    expect(a2Events[0]).toBe('acknowledged');
    expect(a2Events.at(-1)).toBe('failed');
    expect(a2Events.filter((e: string) => e === 'failed')).toHaveLength(1);
    const failed = (job.timeline as AnyJson[]).find(
      (e) => e.hostname === 'a2' && e.event === 'failed',
    );
    expect(failed.error).toMatch(/heartbeats/);

    // Once the registry lets a2 go, a broadcast goes to the two left and answers at once.
    await fleet.waitForAgents(['a1', 'a3']);
    const next = await fleet.request('POST', '/node/_all/command/shell', {
      command: fleet.countedCommand('after'),
      timeout: 10,
    });
    expect(next.status).toBe(202);
    expect((next.body.results as AnyJson[]).map((r) => [r.hostname, r.status])).toEqual([
      ['a1', 'completed'],
      ['a3', 'completed'],
    ]);
    accepted.push({ tag: 'after', jobId: next.body.job_id });
    await assertNothingLost(fleet, accepted);
  }, 60_000);
});

/** Polls GET /agent until `done` resolves; every answer must list each hostname once. */
function watchRegistryForDuplicates(done: Promise<unknown>): Promise<number> {
  return (async () => {
    let polls = 0;
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      const r = await fleet.request('GET', '/agent');
      if (r.status === 200) {
        polls++;
        const names = (r.body.agents as AnyJson[]).map((a) => a.hostname as string);
        expect(new Set(names).size, `GET /agent listed ${names.join(',')}`).toBe(names.length);
        expect(r.body.total).toBe(names.length);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    return polls;
  })();
}

describe('an agent restarted', () => {
  it('registers once, ends the run it had as failed, and takes new work', async () => {
    const accepted: Accepted[] = [];
    // Back after the crash above, long after its registry entry lapsed.
    await fleet.startAgent('a2');
    await fleet.waitForAgents(['a1', 'a2', 'a3']);
    const command = fleet.countedCommand('restart', 'if [ "$FAULT_HOST" = a2 ]; then sleep 20; fi');
    const answer = fleet.request('POST', '/node/a2/command/shell', { command, timeout: 60 });
    await waitFor('a2 to start the command', () => fleet.runs().has('restart a2'), 15_000);

    // Killed and started again at once. Whichever is noticed first, the
    // silence or the new process's start time (by the API), or the job's
    // redelivery to the new process (by the agent), the run ends failed.
    const back = (async () => {
      await fleet.agents.get('a2')?.kill();
      await fleet.startAgent('a2');
      await fleet.waitForAgents(['a1', 'a2', 'a3']);
    })();
    const polls = await watchRegistryForDuplicates(back);
    await back;
    expect(polls).toBeGreaterThan(0);

    const res = await answer;
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.results).toEqual([
      expect.objectContaining({
        hostname: 'a2',
        status: 'failed',
        error: expect.stringMatching(
          /^the agent (restarted \(at|stopped sending heartbeats|stopped while this command) .*not run again/,
        ),
      }),
    ]);
    accepted.push({ tag: 'restart', jobId: res.body.job_id });

    // New work reaches the restarted agent, by name and by broadcast.
    const direct = await fleet.request('POST', '/node/a2/command/shell', {
      command: fleet.countedCommand('new-direct'),
      timeout: 10,
    });
    expect(direct.status).toBe(202);
    expect(direct.body.results).toEqual([
      expect.objectContaining({ hostname: 'a2', status: 'completed', exit_code: 0 }),
    ]);
    accepted.push({ tag: 'new-direct', jobId: direct.body.job_id });
    const all = await fleet.request('POST', '/node/_all/command/shell', {
      command: fleet.countedCommand('new-all'),
      timeout: 10,
    });
    expect((all.body.results as AnyJson[]).map((r) => `${r.hostname}:${r.status}`)).toEqual([
      'a1:completed',
      'a2:completed',
      'a3:completed',
    ]);
    accepted.push({ tag: 'new-all', jobId: all.body.job_id });
    await assertNothingLost(fleet, accepted);
  }, 60_000);
});

describe('the API server restarted while jobs run', () => {
  it('the jobs complete and are read afterwards through the new API server', async () => {
    const accepted: Accepted[] = [];
    const targets = ['_any', '_any', 'a1', 'a2', 'a3', '_all'];
    for (const [i, target] of targets.entries()) {
      const tag = `api-${i}`;
      const r = await fleet.request('POST', `/node/${target}/command/shell?async=true`, {
        command: fleet.countedCommand(tag, 'sleep 2'),
        timeout: 30,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      accepted.push({ tag, jobId: r.body.job_id });
    }
    // A request waiting for its answer when the API dies gets no 2xx: it
    // counts for nothing, but must not make anything run twice either.
    const cutOff = fleet.request('POST', '/node/_any/command/shell', {
      command: fleet.countedCommand('cut-off', 'sleep 1'),
      timeout: 30,
    });
    await waitFor('the first runs to start', () => fleet.runs().size > 0, 15_000);
    await fleet.api?.kill();
    expect((await cutOff).status).toBe(0);
    await fleet.startApi();

    const jobs = await assertNothingLost(fleet, accepted);
    expect(jobs.map((j) => j.status)).toEqual(targets.map(() => 'completed'));
    expect(jobs.at(-1).agent_states).toEqual({
      a1: expect.objectContaining({ status: 'succeeded' }),
      a2: expect.objectContaining({ status: 'succeeded' }),
      a3: expect.objectContaining({ status: 'succeeded' }),
    });
    expect(jobs.at(-1).responses.a3.data.exit_code).toBe(0);
  }, 60_000);
});

describe('the API server driving a rollout killed, beside another', () => {
  it('the other carries the rollout on: each host runs once, none is skipped', async () => {
    const hosts = ['a1', 'a2', 'a3'];
    const ranOn = () => hosts.filter((h) => fleet.runs().has(`roll ${h}`)).length;
    const spare = await fleet.startSpareApi();
    const r = await fleet.request('POST', '/node/_all/command/shell?async=true', {
      command: fleet.countedCommand('roll', 'sleep 1'),
      timeout: 30,
      max_concurrency: 1,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await waitFor('the first host to start', () => ranOn() === 1, 15_000);
    await fleet.api?.kill();
    fleet.useApi(spare);
    if (LONG) {
      // The killed one comes back, and is the one left when the spare dies in turn.
      const back = await fleet.startSpareApi();
      await waitFor('a second host to start', () => ranOn() === 2, 30_000, 100);
      await fleet.api?.kill();
      fleet.useApi(back);
    }
    const [job] = await assertNothingLost(fleet, [{ tag: 'roll', jobId: r.body.job_id }]);
    expect(job.status).toBe('completed');
    expect(Object.keys(job.agent_states).sort()).toEqual(hosts);
    for (const h of hosts) expect(fleet.runs().get(`roll ${h}`)).toBe(1);
  }, 90_000);
});
