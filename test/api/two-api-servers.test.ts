// Two API servers on one NATS, as a fleet behind one address runs them: a job
// made through one is read, listed and cancelled through the other; the same
// request with one Idempotency-Key sent to both at once makes one job, and
// its command runs once; a broadcast through either answers for every agent;
// a console login code made by one signs in on the other, once; a job's live
// output followed on one is resumed by Last-Event-ID on another when the
// first goes away.
// A rollout whose API server dies (or stops cleanly) is carried on by the
// other, each host started once and none skipped.
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApiServer } from '../../src/api/start.js';
import type { Config } from '../../src/config/index.js';
import { systemClock } from '../../src/job/clock.js';
import { type JobStreamEvent, OsapiClient } from '../../src/sdk/client.js';
import { silentLogger } from '../support/nats.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

let sys: TestSystem;
let second: ApiProcess;
let token: string;
const HOSTS = ['two-01', 'two-02'];
const file = join(tmpdir(), `osapi-two-apis-${process.pid}-${Date.now()}`);

beforeAll(async () => {
  sys = await startTestSystem();
  second = await startApiServer({
    config: sys.config,
    signingKey: sys.signingKey,
    logger: silentLogger,
    clock: systemClock,
    natsServers: [sys.nats.url],
    resultMarginMs: 3000,
  });
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  const ok = await second.registry.waitFor(
    (v) => v.agents().filter((a) => a.ready).length === 2,
    10_000,
  );
  if (!ok) throw new Error('the second API server never saw both agents');
  token = await sys.token(['admin']);
});

afterAll(async () => {
  await second?.stop();
  await sys?.stop();
  rmSync(file, { force: true });
});

const on = (api: { url: string }, method: string, path: string, body?: unknown, headers = {}) =>
  request({ url: api.url } as TestSystem, method, path, body, token, headers);

describe('two API servers on one NATS', () => {
  it('a broadcast through either answers for every agent, and each reads the jobs of the other', async () => {
    for (const api of [sys, second]) {
      const r = await on(api, 'GET', '/node/_all/hostname');
      expect(r.status).toBe(200);
      expect(r.body.results.map((x: AnyJson) => x.hostname).sort()).toEqual(HOSTS);
    }
    const made = await on(sys, 'POST', '/node/two-01/command/exec', { command: 'true' });
    expect(made.status).toBe(202);
    const seen = await on(second, 'GET', `/job/${made.body.job_id}`);
    expect(seen.status).toBe(200);
    expect(Object.keys(seen.body.responses)).toEqual(['two-01']);
  });

  it('one Idempotency-Key sent to both at once makes one job, run once', async () => {
    appendFileSync(file, '');
    const body = { command: `echo once >> '${file}'` };
    const key = { 'idempotency-key': `two-apis-${Date.now()}` };
    const [a, b] = await Promise.all([
      on(sys, 'POST', '/node/two-02/command/shell', body, key),
      on(second, 'POST', '/node/two-02/command/shell', body, key),
    ]);
    // One makes the job; the other replays it, or (sent while the first had
    // not stored its job yet) is told to try again: never a second job.
    const answers = [a, b].filter((r) => r.status === 202);
    expect(answers.length).toBeGreaterThanOrEqual(1);
    for (const r of [a, b]) expect([202, 409]).toContain(r.status);
    expect(new Set(answers.map((r) => r.body.job_id)).size).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('once\n');
  });

  it('a console login code made by one signs in on the other, once', async () => {
    const made = await on(sys, 'POST', '/auth/login-code');
    expect(made.status).toBe(201);
    const traded = await on(second, 'POST', '/auth/session', { code: made.body.code });
    expect(traded.status).toBe(200);
    expect(traded.body.subject).toBe('tester@example.com');
    const me = await request(
      { url: sys.url } as TestSystem,
      'GET',
      '/auth/me',
      undefined,
      traded.body.token,
    );
    expect(me.status).toBe(200);
    for (const api of [sys, second]) {
      const again = await on(api, 'POST', '/auth/session', { code: made.body.code });
      expect(again.status).toBe(401);
    }
  });

  it('a job made through one is cancelled through the other', async () => {
    const made = await on(sys, 'POST', '/node/two-01/command/exec?async=true', {
      command: 'sleep',
      args: ['30'],
    });
    expect(made.status).toBe(202);
    const cancelled = await on(second, 'POST', `/job/${made.body.job_id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).not.toBe('completed');
  });
});

/** One more API server on the same NATS, as another process would be. */
function anotherApiServer(rolloutLeaseMs: number): Promise<ApiProcess> {
  const config: Config = {
    ...sys.config,
    api: { ...sys.config.api, server: { ...sys.config.api.server, port: 0 } },
  };
  return startApiServer({
    config,
    signingKey: sys.signingKey,
    logger: silentLogger,
    clock: systemClock,
    natsServers: [sys.nats.url],
    resultMarginMs: 3000,
    rolloutLeaseMs,
  });
}

describe('a rollout whose API server goes away', () => {
  // One host at a time, each run a line in the file and a second long: the
  // driver goes away while the first host runs, before the second is told.
  const rollout = async (driver: ApiProcess, runs: string) => {
    appendFileSync(runs, '');
    const made = await on(driver, 'POST', '/node/_all/command/shell?async=true', {
      command: `echo ran >> '${runs}'; sleep 1`,
      max_concurrency: 1,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(202);
    await waitFor('the first host to start', () => readFileSync(runs, 'utf8') !== '');
    return made.body.job_id as string;
  };
  const finalOn = (api: { url: string }, id: string) =>
    waitFor(
      'the job to end',
      async () => {
        const r = await on(api, 'GET', `/job/${id}`);
        return ['completed', 'failed', 'partial_failure'].includes(r.body.status) && r.body;
      },
      20_000,
      100,
    );

  it('is carried on by the other once its driver stops writing: every host once, none skipped', async () => {
    const runs = `${file}-crash`;
    const driver = await anotherApiServer(500);
    try {
      await driver.registry.waitFor((v) => v.agents().filter((a) => a.ready).length === 2, 10_000);
      const id = await rollout(driver, runs);
      // As a crash looks from NATS: the connection gone, nothing let go.
      await driver.nc.close();
      const job = await finalOn(second, id);
      expect(job.status).toBe('completed');
      expect(Object.keys(job.agent_states).sort()).toEqual(HOSTS);
      expect(readFileSync(runs, 'utf8')).toBe('ran\nran\n');
    } finally {
      await driver.stop().catch(() => {});
      rmSync(runs, { force: true });
    }
  });

  it('is let go by a clean stop and carried on at once, though its lease is long', async () => {
    const runs = `${file}-stop`;
    // A minute's lease: only the release lets another take over within the test.
    const driver = await anotherApiServer(60_000);
    try {
      await driver.registry.waitFor((v) => v.agents().filter((a) => a.ready).length === 2, 10_000);
      const id = await rollout(driver, runs);
      await driver.stop();
      const job = await finalOn(sys, id);
      expect(job.status).toBe('completed');
      expect(readFileSync(runs, 'utf8')).toBe('ran\nran\n');
    } finally {
      rmSync(runs, { force: true });
    }
  });
});

describe('a job stream whose API server goes away', () => {
  it('is resumed on another by Last-Event-ID: the same ids, nothing twice, nothing missed', async () => {
    const go = `${file}-go`;
    const follower = await anotherApiServer(5_000);
    try {
      const made = await on(sys, 'POST', '/node/two-01/command/shell?async=true', {
        command: `echo line-1; while [ ! -e '${go}' ]; do sleep 0.05; done; echo line-2`,
      });
      expect(made.status).toBe(202);
      const id = made.body.job_id as string;
      // Followed on one server until the first line, which it then stops serving.
      let first: JobStreamEvent | undefined;
      for await (const e of new OsapiClient({ url: follower.url, token }).streamJob(id)) {
        if (e.event === 'output') {
          first = e;
          break;
        }
      }
      expect(first?.data).toMatchObject({ data: 'line-1\n' });
      await follower.stop();
      writeFileSync(go, '');
      const rest: JobStreamEvent[] = [];
      const other = new OsapiClient({ url: second.url, token });
      for await (const e of other.streamJob(id, { lastEventId: first?.id })) rest.push(e);
      expect(rest.filter((e) => e.event === 'output').map((e) => e.data)).toEqual([
        expect.objectContaining({ data: 'line-2\n' }),
      ]);
      expect(rest.map((e) => e.event).slice(-2)).toEqual(['result', 'end']);
      // From the start, the other server names the first line as the first did.
      const all: JobStreamEvent[] = [];
      for await (const e of other.streamJob(id)) all.push(e);
      expect(all.find((e) => e.event === 'output')?.id).toBe(first?.id);
    } finally {
      await follower.stop().catch(() => {});
      rmSync(go, { force: true });
    }
  });
});
