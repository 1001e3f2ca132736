// A signed job runs only where it was addressed. Each attack copies a real
// notification the API sent (its body and its headers, the signed job
// included) onto another subject, as anyone who can publish on NATS could,
// or has the server deliver it there through a pull whose reply subject is
// another host's, with nothing but an agent's credentials. Nothing runs, and
// each host that received a copy records a refusal. NATS auth is on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type Msg, type MsgHdrs, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTimeOrderedId } from '../../src/job/ids.js';
import type { StatusEventRecord } from '../../src/job/records.js';
import { readStatusEvents } from '../../src/job/store.js';
import {
  infraNames,
  JOB_HEADER,
  jobKey,
  kvSubject,
  notifySubject,
  type RouteTarget,
  responseKey,
} from '../../src/names/names.js';
import { sharedConsumerName } from '../../src/nats/any-consumer.js';
import { closeNats, connectNats, type NatsConnection } from '../../src/nats/connection.js';
import { storeFor, type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { bucketsOf } from '../support/buckets.js';
import { silentLogger } from '../support/nats.js';
import { type NatsUser, natsUsers, userClient } from '../support/nats-users.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';

const users = natsUsers();
const A = 'redir-a';
const B = 'redir-b';
const C = 'redir-c';
const D = 'redir-d';

let sys: TestSystem;
let token: string;
let dir: TempDir;
let apiNc: NatsConnection;
const opened: NatsConnection[] = [];

async function connectAs(user: NatsUser): Promise<NatsConnection> {
  const settings = userClient(sys.nats.url, user, `redirect-test-${user.username}`);
  const nc = await connectNats({ settings, logger: silentLogger });
  opened.push(nc);
  return nc;
}

beforeAll(async () => {
  sys = await startTestSystem({
    natsAuth: true,
    overrides: {
      ...users.overrides,
      // A pull taken away by the attack below is offered again this soon.
      'agent.consumer.ack_wait': '2s',
      'agent.consumer.back_off': ['1s'],
    },
  });
  await sys.startAgent(A, { group: 'web' });
  await sys.startAgent(B, { group: 'web.dev' });
  await sys.startAgent(C, { group: 'db' }, { max_jobs: 1 });
  await sys.waitForAgents([A, B, C]);
  token = await sys.token();
  dir = tempDir('redirect');
  apiNc = await connectAs(users.api);
});
afterAll(async () => {
  for (const nc of opened) await closeNats(nc, 500);
  await sys?.stop();
  dir?.remove();
});

function names() {
  return infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
}

/** A command that adds one line to `file` each time it runs, wherever it runs. */
function countingCommand(file: string) {
  return { command: 'sh', args: ['-c', `echo run >> ${file}`] };
}

function runs(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Every notification the API sends from now on (a subscription on the jobs stream's subjects). */
async function listenToNotifications(): Promise<{ seen: Msg[]; sub: Subscription }> {
  const seen: Msg[] = [];
  const sub = apiNc.subscribe(names().streamSubjects, {
    callback: (_e, m) => {
      seen.push(m);
    },
  });
  await apiNc.flush();
  return { seen, sub };
}

/** Sends a job through the API while listening on every notification subject; returns what was sent. */
async function sendAndCapture(
  target: string,
  file: string,
): Promise<{ jobId: string; body: string; headers: MsgHdrs | undefined }> {
  const { seen, sub } = await listenToNotifications();
  try {
    const r = await post(
      sys,
      `/node/${encodeURIComponent(target)}/command/exec`,
      countingCommand(file),
      token,
    );
    expect(r.status).toBe(202);
    const jobId = r.body.job_id as string;
    const m = await waitFor('the notification', () => seen.find((x) => x.string() === jobId));
    return { jobId, body: m.string(), headers: m.headers };
  } finally {
    sub.unsubscribe();
  }
}

/** The refusals a host recorded for a job. */
async function refusals(jobId: string, host: string): Promise<StatusEventRecord[]> {
  const store = await storeFor(sys);
  return (await readStatusEvents(store, jobId)).filter(
    (e) => e.hostname === host && e.state === 'refused',
  );
}

async function refusedBy(jobId: string, host: string): Promise<string> {
  const found = await waitFor(`${host} to refuse job ${jobId}`, async () => {
    const r = await refusals(jobId, host);
    return r.length > 0 ? r : undefined;
  });
  expect(found[0]?.event).toBe('refused');
  return found[0]?.error ?? '';
}

function subjectFor(t: RouteTarget): string {
  return notifySubject(names(), 'modify', t);
}

describe('a copied notification runs only where the API addressed it', () => {
  it("a host's job copied onto another host's subject is refused there", async () => {
    const file = join(dir.path, 'host-to-host');
    const sent = await sendAndCapture(A, file);
    expect(runs(file)).toBe(1);
    apiNc.publish(subjectFor({ kind: 'host', hostname: B }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    expect(await refusedBy(sent.jobId, B)).toMatch(
      new RegExp(`refused, not run: the job was signed for host ${A}, not this one`),
    );
    expect(runs(file)).toBe(1);
  });

  it("a host's job copied onto _all is refused by every agent, its own host too", async () => {
    const file = join(dir.path, 'host-to-all');
    const sent = await sendAndCapture(A, file);
    apiNc.publish(subjectFor({ kind: 'all' }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    expect(await refusedBy(sent.jobId, A)).toMatch(/signed for this host, and came on .*\._all/);
    for (const h of [B, C]) {
      expect(await refusedBy(sent.jobId, h)).toMatch(
        new RegExp(`the job was signed for host ${A}, not this one`),
      );
    }
    expect(runs(file)).toBe(1);
    // The job itself is as it was: done on A; the refusals are shown, not counted.
    const job = await request(sys, 'GET', `/job/${sent.jobId}`, undefined, token);
    expect(job.body.status).toBe('completed');
    expect(job.body.agent_states[A].status).toBe('succeeded');
    for (const h of [B, C]) expect(job.body.agent_states[h].status).toBe('refused');
    expect(job.body.timeline.filter((e: { event: string }) => e.event === 'refused')).toHaveLength(
      3,
    );
  });

  it('a copy sent ahead of the real notification does not stop it', async () => {
    // As someone watching job definitions could: the copy goes out on _all
    // before the API's own notification on A's subject. A refuses the copy,
    // then runs the job as sent, once.
    const file = join(dir.path, 'copy-first');
    const store = await storeFor(sys);
    const now = Date.now();
    const record = sys.api.signer.sign({
      id: newTimeOrderedId(now),
      operation: { type: 'command.exec.execute', data: { ...countingCommand(file), timeout: 10 } },
      category: 'modify',
      target_hostname: A,
      created: new Date(now).toISOString(),
      created_by: 'tester@example.com',
      deadline: new Date(now + 60_000).toISOString(),
    });
    await (await bucketsOf(store)).jobs.create(jobKey(record.id), JSON.stringify(record));
    const h = headers();
    h.set(JOB_HEADER, JSON.stringify(record));
    apiNc.publish(subjectFor({ kind: 'all' }), record.id, { headers: h });
    expect(await refusedBy(record.id, A)).toMatch(/came on .*\._all/);
    apiNc.publish(subjectFor({ kind: 'host', hostname: A }), record.id, { headers: h });
    await waitFor('the job to run on A', () => runs(file) === 1);
    const done = await waitFor('the job to be final', async () => {
      const r = await request(sys, 'GET', `/job/${record.id}`, undefined, token);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    expect(done.agent_states[A].status).toBe('succeeded');
    expect(runs(file)).toBe(1);
  });

  it("a label's job copied onto another label is refused by that label's hosts", async () => {
    const file = join(dir.path, 'label-to-label');
    const sent = await sendAndCapture('group:web', file);
    expect(runs(file)).toBe(2);
    apiNc.publish(subjectFor({ kind: 'label', key: 'group', value: 'db' }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    expect(await refusedBy(sent.jobId, C)).toMatch(
      /the job was signed for group:web, and came on .*label\.group\.db/,
    );
    expect(runs(file)).toBe(2);
  });

  it('a broadcast copied to a host outside its target is refused there', async () => {
    const file = join(dir.path, 'label-to-host');
    // group:web reached A and B; C holds no such label.
    const sent = await sendAndCapture('group:web', file);
    apiNc.publish(subjectFor({ kind: 'host', hostname: C }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    expect(await refusedBy(sent.jobId, C)).toMatch(/signed for group:web, and came on/);
    expect(runs(file)).toBe(2);
  });

  it('a broadcast replayed after a matching agent joined does not run on it', async () => {
    const file = join(dir.path, 'late-joiner');
    const first = await sendAndCapture('group:web.dev', file);
    const second = await sendAndCapture('group:web.dev', file);
    expect(runs(file)).toBe(2);
    await sys.startAgent(D, { group: 'web.dev' });
    await sys.waitForAgents([A, B, C, D]);
    try {
      const subject = subjectFor({ kind: 'label', key: 'group', value: 'web.dev' });
      apiNc.publish(subject, first.body, { ...(first.headers ? { headers: first.headers } : {}) });
      expect(await refusedBy(first.jobId, D)).toMatch(
        /this host was not one the broadcast was sent to/,
      );
      // The same with the list of hosts it carries changed to name D.
      const h = second.headers;
      expect(h?.get('Osapi-Expected')).toBe(JSON.stringify([B]));
      h?.set('Osapi-Expected', JSON.stringify([B, D]));
      apiNc.publish(subject, second.body, { ...(h ? { headers: h } : {}) });
      expect(await refusedBy(second.jobId, D)).toMatch(/not the signed one/);
      expect(runs(file)).toBe(2);
    } finally {
      await sys.stopAgent(D);
    }
  });

  it("a rate-controlled broadcast's turn cannot be copied to other hosts", async () => {
    // One host at a time: the first host's notification, with the API's word
    // for that host, copied onto _all and onto another host's subject.
    const file = join(dir.path, 'rollout');
    const { seen, sub } = await listenToNotifications();
    try {
      const r = await post(
        sys,
        '/node/_all/command/shell?async=true',
        { command: `echo run >> ${file}; sleep 1`, max_concurrency: 1 },
        token,
      );
      expect(r.status).toBe(202);
      const jobId = r.body.job_id as string;
      const first = await waitFor('the first turn', () => seen.find((m) => m.string() === jobId));
      const told = first.subject.split('.').at(-1) as string;
      const others = [A, B, C].filter((h) => h !== told);
      apiNc.publish(subjectFor({ kind: 'all' }), jobId, {
        ...(first.headers ? { headers: first.headers } : {}),
      });
      apiNc.publish(subjectFor({ kind: 'host', hostname: others[0] as string }), jobId, {
        ...(first.headers ? { headers: first.headers } : {}),
      });
      for (const h of others) expect(await refusedBy(jobId, h)).toMatch(/turn has come/);
      // Each host still runs it once, in turn.
      await waitFor('the rollout to end', () => runs(file) === 3, 20_000);
    } finally {
      sub.unsubscribe();
    }
  });

  it('an _any job copied onto a host subject is refused there, and runs once', async () => {
    const file = join(dir.path, 'any-to-host');
    const sent = await sendAndCapture('_any', file);
    expect(runs(file)).toBe(1);
    apiNc.publish(subjectFor({ kind: 'host', hostname: B }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    expect(await refusedBy(sent.jobId, B)).toMatch(
      /an _any job runs only through the shared _any consumer/,
    );
    // Replayed on `_any` itself (without the id the stream would drop as a
    // duplicate): the shared claim is taken, so it does not run again.
    const store = await storeFor(sys);
    const ack = await store.js.publish(subjectFor({ kind: 'any' }), sent.body, {
      ...(sent.headers ? { headers: sent.headers } : {}),
    });
    await waitFor('the replay to be taken', async () => {
      const jsm = await jetstreamManager(apiNc);
      const ci = await jsm.consumers.info(
        names().stream,
        sharedConsumerName(sys.config.agent.consumer),
      );
      return ci.ack_floor.stream_seq >= ack.seq;
    });
    expect(runs(file)).toBe(1);
  });
});

describe('a result in the name of a host the job was not sent to', () => {
  it('is not part of the job, for an agent user shared by the fleet', async () => {
    const file = join(dir.path, 'forged-result');
    const sent = await sendAndCapture(A, file);
    const agentNc = await connectAs(users.agent);
    const js = jetstream(agentNc, { timeout: 2000 });
    const now = new Date().toISOString();
    const forged = (hostname: string) =>
      JSON.stringify({
        job_id: sent.jobId,
        hostname,
        status: 'completed',
        data: null,
        state: 'succeeded',
        started_at: now,
        finished_at: now,
      });
    // Under another host's key with the body naming the job's host, and in
    // the name of a host the job never addressed: the shared user may write both.
    await js.publish(
      kvSubject(names().responsesBucket, responseKey(sent.jobId, 'intruder-2')),
      JSON.stringify({ ...JSON.parse(forged(A)), data: { stdout: 'forged' } }),
    );
    await js.publish(
      kvSubject(names().responsesBucket, responseKey(sent.jobId, 'intruder')),
      forged('intruder'),
    );
    // An event in the name of a host the job was not sent to.
    await js.publish(
      kvSubject(names().jobsBucket, `status.${sent.jobId}.failed.intruder.1`),
      JSON.stringify({ timestamp: now, event: 'failed', hostname: 'intruder', state: 'failed' }),
    );
    // Once the API's view holds the forged event (the timeline shows every event).
    const job = await waitFor('the forged event in the timeline', async () => {
      const r = await request(sys, 'GET', `/job/${sent.jobId}`, undefined, token);
      const heard = (r.body.timeline as Array<{ hostname: string }>).some(
        (e) => e.hostname === 'intruder',
      );
      return heard ? r : undefined;
    });
    expect(job.status).toBe(200);
    expect(job.body.status).toBe('completed');
    expect(Object.keys(job.body.responses)).toEqual([A]);
    expect(JSON.stringify(job.body.responses[A])).not.toContain('forged');
    expect(Object.keys(job.body.agent_states)).toEqual([A]);
  });
});

describe("an agent's credentials cannot have the server redeliver notifications elsewhere", () => {
  it('may make no consumer of its own on the jobs stream', async () => {
    const agentNc = await connectAs(users.agent);
    const jsm = await jetstreamManager(agentNc, { checkAPI: false, timeout: 2000 });
    for (const config of [
      { name: `evil-${crypto.randomUUID().slice(0, 8)}` },
      { durable_name: `evil-${crypto.randomUUID().slice(0, 8)}` },
      { name: 'evil-filtered', filter_subject: names().streamSubjects },
    ]) {
      const err = await jsm.consumers
        .add(names().stream, { ack_policy: 'none', ...config } as never)
        .catch((e: unknown) => e);
      expect(String(err)).toMatch(/permissions violation/i);
    }
  });

  it("a pull on the shared consumer answered onto a host's subject runs nothing there", async () => {
    // C takes one job at a time: busy with a long one, it leaves `_any`
    // notifications waiting in the shared consumer, and with A and B stopped
    // nobody else pulls them.
    await sys.stopAgent(A);
    await sys.stopAgent(B);
    const busy = await post(
      sys,
      '/node/_any/command/exec?async=true',
      { command: 'sleep', args: ['30'] },
      token,
    );
    expect(busy.status).toBe(202);
    const busyId = busy.body.job_id as string;
    const jsm = await jetstreamManager(apiNc);
    const shared = sharedConsumerName(sys.config.agent.consumer);
    try {
      // Two jobs: C may still have had a pull out for one of them.
      const jobs: Array<{ id: string; file: string }> = [];
      for (const name of ['stolen-1', 'stolen-2']) {
        const file = join(dir.path, name);
        const r = await post(
          sys,
          '/node/_any/command/exec?async=true',
          countingCommand(file),
          token,
        );
        expect(r.status).toBe(202);
        jobs.push({ id: r.body.job_id as string, file });
      }
      await waitFor('a notification waiting with no pull for it', async () => {
        const ci = await jsm.consumers.info(names().stream, shared);
        return ci.num_pending >= 1 && ci.num_waiting === 0;
      });
      // The agent user pulls it with C's notification subject as the reply
      // subject: the server delivers it there.
      const agentNc = await connectAs(users.agent);
      agentNc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${names().stream}.${shared}`,
        JSON.stringify({ batch: 1 }),
        { reply: subjectFor({ kind: 'host', hostname: C }) },
      );
      await agentNc.flush();
      const refused = await waitFor('C to refuse the stolen notification', async () => {
        for (const j of jobs) if ((await refusals(j.id, C)).length > 0) return j;
        return undefined;
      });
      const events = await refusals(refused.id, C);
      expect(events[0]?.error).toMatch(/an _any job runs only through the shared _any consumer/);
      expect(runs(refused.file)).toBe(0);
      // Once C is free, the shared consumer offers the job again and it runs, once.
      const cancel = await request(sys, 'POST', `/job/${busyId}/cancel`, undefined, token);
      expect(cancel.status).toBeLessThan(300);
      await waitFor('both jobs to run', () => jobs.every((j) => runs(j.file) === 1), 20_000);
      const job = await waitFor('the stolen job to be final', async () => {
        const r = await request(sys, 'GET', `/job/${refused.id}`, undefined, token);
        return r.body.status === 'completed' ? r.body : undefined;
      });
      // C refused the copy and then ran the job itself: it shows as having run it.
      expect(Object.keys(job.agent_states)).toEqual([C]);
      expect(job.agent_states[C].status).toBe('succeeded');
      for (const j of jobs) expect(runs(j.file)).toBe(1);
    } finally {
      await request(sys, 'POST', `/job/${busyId}/cancel`, undefined, token);
    }
  });
});
