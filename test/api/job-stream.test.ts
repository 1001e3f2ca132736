// GET /job/{id}/stream against a real nats-server with several agents: output
// arrives while the command still runs, each host's result and the end
// follow, a job already final is told at once, Last-Event-ID resumes after an
// event, and a client that stops reading slows nothing and gets a notice of
// what it missed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobStreamEvent, OsapiApiError, OsapiClient } from '../../src/sdk/client.js';
import { readSse } from '../../src/sdk/sse.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { type TempDir, tempDir, waitFor } from './helpers.js';

const HOSTS = ['st-01', 'st-02', 'st-03', 'st-04', 'st-05', 'st-06'];
// Small, so that a client that does not read falls out of what is held.
const HUB = { jobBytes: 128 * 1024, totalBytes: 1024 * 1024 };

let sys: TestSystem;
let client: OsapiClient;
let token: string;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem({
    liveOutput: { limits: HUB, stream: { slowReaderBytes: 64 * 1024 } },
  });
  for (const h of HOSTS) {
    await sys.startAgent(h, { group: h === 'st-01' || h === 'st-02' ? 'web' : 'db' });
  }
  await sys.waitForAgents(HOSTS);
  token = await sys.token();
  client = new OsapiClient({ url: sys.url, token });
  dir = tempDir('stream');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

async function collect(
  jobId: string,
  opts: { lastEventId?: string } = {},
  onEvent: (e: JobStreamEvent, all: JobStreamEvent[]) => void = () => {},
): Promise<JobStreamEvent[]> {
  const events: JobStreamEvent[] = [];
  for await (const e of client.streamJob(jobId, opts)) {
    events.push(e);
    onEvent(e, events);
  }
  return events;
}

const outputOf = (events: JobStreamEvent[], host: string, stream = 'stdout') =>
  events
    .flatMap((e) =>
      e.event === 'output' && e.data.hostname === host && e.data.stream === stream
        ? [e.data.data]
        : [],
    )
    .join('');

/** Sends a GET and reads nothing of its answer until readHttpResponse. */
function unreadSocket(path: string): Socket {
  const { hostname, port } = new URL(sys.url);
  const socket = connect({ host: hostname, port: Number(port) });
  // Paused before it connects: not even the answer's head is read.
  socket.pause();
  socket.write(
    `GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${token}\r\n` +
      'accept: text/event-stream\r\nconnection: close\r\n\r\n',
  );
  return socket;
}

/** Reads a socket's HTTP/1.1 answer to its end, its chunked body joined. */
async function readHttpResponse(
  socket: Socket,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('error', reject);
  });
  socket.resume();
  await ended;
  const all = Buffer.concat(parts);
  const headEnd = all.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = all.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = all.subarray(headEnd + 4);
  if (headers['transfer-encoding'] !== 'chunked') {
    return { status: Number(statusLine.split(' ')[1]), headers, body: rest };
  }
  const chunks: Buffer[] = [];
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: Buffer.concat(chunks) };
}

describe('GET /job/{id}/stream', () => {
  it('sends output while the command runs, then each result, then the end', async () => {
    const go = join(dir.path, 'go');
    // Prints, waits (for the test to say so), prints again.
    const { body } = await client.commandShell(
      'group:web',
      {
        command: `echo first; echo warm >&2; while [ ! -e '${go}' ]; do sleep 0.05; done; echo second`,
        timeout: 30,
      },
      { async: true },
    );
    const web = ['st-01', 'st-02'];
    let statusWhileWaiting: string | undefined;
    let resultsBeforeGo = -1;
    const events = await collect(body.job_id, {}, (e, all) => {
      if (existsSync(go)) return;
      const heard = web.every((h) => outputOf(all, h).includes('first\n'));
      if (e.event === 'output' && heard) {
        resultsBeforeGo = all.filter((x) => x.event === 'result').length;
        // Recorded before the file exists: the commands are still waiting for it.
        void request(sys, 'GET', `/job/${body.job_id}`, undefined, token).then((r) => {
          statusWhileWaiting = r.body.status;
          writeFileSync(go, '');
        });
      }
    });
    expect(resultsBeforeGo).toBe(0);
    expect(statusWhileWaiting).toBe('processing');
    for (const h of web) {
      expect(outputOf(events, h)).toBe('first\nsecond\n');
      expect(outputOf(events, h, 'stderr')).toBe('warm\n');
      const own = events.filter(
        (e) => (e.event === 'output' || e.event === 'result') && e.data.hostname === h,
      );
      // The result comes after all of that host's output.
      expect(own.at(-1)).toMatchObject({
        event: 'result',
        data: { hostname: h, status: 'completed', exit_code: 0, state: 'succeeded' },
      });
    }
    for (const h of HOSTS.filter((x) => !web.includes(x))) expect(outputOf(events, h)).toBe('');
    const results = events.filter((e) => e.event === 'result');
    expect(results).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed' } });
    // Every event carries an id to resume from.
    expect(events.every((e) => e.id !== '')).toBe(true);
  });

  it('gives a job that is already final its output, results and end at once', async () => {
    const { body } = await client.commandExec('_all', {
      command: 'sh',
      args: ['-c', 'echo out-$0; exit 3', 'x'],
    });
    expect(body.results).toHaveLength(HOSTS.length);
    const events = await collect(body.job_id);
    // Every host ran it to its end (status completed) and exited 3 (state failed).
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'failed' } });
    const results = events.filter((e) => e.event === 'result');
    expect(results.map((e) => e.data.hostname).sort()).toEqual([...HOSTS].sort());
    for (const r of results) {
      expect(r.data).toMatchObject({ status: 'completed', exit_code: 3, state: 'failed' });
    }
    // The output was still held, and comes before the results.
    for (const h of HOSTS) expect(outputOf(events, h)).toBe('out-x\n');
    const firstResult = events.findIndex((e) => e.event === 'result');
    expect(events.slice(firstResult).some((e) => e.event === 'output')).toBe(false);
  });

  it("says each host's final state: cancelled mid-run with its output so far, or never started", async () => {
    // One host at a time, and no failure allowed: the first one cancelled, the rest never start.
    const { body } = await client.commandShell(
      'group:web',
      { command: 'echo started; sleep 30', timeout: 60, max_concurrency: 1, max_errors: 0 },
      { async: true },
    );
    let cancelled = false;
    const events = await collect(body.job_id, {}, (e) => {
      if (!cancelled && e.event === 'output' && e.data.data.includes('started')) {
        cancelled = true;
        void client.jobCancel(body.job_id);
      }
    });
    const results = events.filter((e) => e.event === 'result').map((e) => e.data);
    expect(results).toHaveLength(2);
    // The host that ran is the one with output.
    const ran = results.find((r) => outputOf(events, r.hostname) !== '');
    expect(ran).toMatchObject({ status: 'failed', state: 'cancelled' });
    expect(outputOf(events, ran?.hostname ?? '')).toBe('started\n');
    // The other host never started: no exit code, its state says why (its
    // result, when the rollout has recorded it yet, says it was not run).
    const other = results.find((r) => r !== ran);
    expect(other).toMatchObject({ exit_code: null });
    expect([null, 'failed']).toContain(other?.status);
    expect(['cancelled', 'skipped']).toContain(other?.state);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'failed' } });
  });

  it('resumes after Last-Event-ID: the output after it, then every result again', async () => {
    const { body } = await client.commandShell('st-01', {
      // Apart enough that a loaded machine still flushes them as separate outputs.
      command: 'for i in 1 2 3; do echo line-$i; sleep 0.5; done',
    });
    expect(body.results[0]?.stdout).toBe('line-1\nline-2\nline-3\n');
    const all = await collect(body.job_id);
    const outputs = all.filter((e) => e.event === 'output');
    expect(outputs.length).toBeGreaterThanOrEqual(2);
    const first = outputs[0] as JobStreamEvent;
    const rest = await collect(body.job_id, { lastEventId: first.id });
    expect(rest.filter((e) => e.event === 'output').map((e) => e.id)).toEqual(
      outputs.slice(1).map((e) => e.id),
    );
    expect(rest.filter((e) => e.event === 'result')).toHaveLength(1);
    expect(rest.at(-1)?.event).toBe('end');
    // After the last output, only the state is sent again.
    const last = outputs.at(-1) as JobStreamEvent;
    const none = await collect(body.job_id, { lastEventId: last.id });
    expect(none.map((e) => e.event)).toEqual(['result', 'end']);
  });

  it('answers 404 for an unknown job, 400 for a bad id or Last-Event-ID, 401 without a token', async () => {
    const unknown = crypto.randomUUID();
    const notFound = await collect(unknown).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OsapiApiError);
    expect((notFound as OsapiApiError).status).toBe(404);
    expect((notFound as OsapiApiError).body).toMatchObject({ code: 404, reason: 'not_found' });

    const badId = await request(sys, 'GET', '/job/not-a-uuid/stream', undefined, token);
    expect(badId.status).toBe(400);
    expect(badId.body.error).toMatch(/id/);

    const { body } = await client.commandExec('st-02', { command: 'true' });
    const badResume = await request(sys, 'GET', `/job/${body.job_id}/stream`, undefined, token, {
      'last-event-id': 'yesterday',
    });
    expect(badResume.status).toBe(400);
    expect(badResume.body.error).toMatch(/Last-Event-ID/);

    const noToken = await request(sys, 'GET', `/job/${body.job_id}/stream`);
    expect(noToken.status).toBe(401);
  });

  it('a client that stops reading slows no agent, and is told what it missed', async () => {
    // About 1 MB from each host: together far beyond what the socket and the
    // API hold for one job, while each stored result stays within a NATS message.
    const { body } = await client.commandShell(
      '_all',
      {
        command: "head -c 600000 /dev/zero | tr '\\0' a; head -c 400000 /dev/zero | tr '\\0' b >&2",
      },
      { async: true },
    );
    // A socket that reads nothing until the job is over: what it was sent
    // waits in the kernel's buffers, which stay at their first size while
    // nothing is read (a reader that read a little first can let them grow
    // to megabytes, enough for the whole job).
    // The most the kernel holds for a socket that is not read: the sender's
    // buffer at its largest and the receiver's at its first size. The job's
    // output must be well beyond it, or nothing need be skipped.
    const [, rmemFirst] = readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8')
      .split(/\s+/)
      .map(Number);
    const [, , wmemMost] = readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8')
      .split(/\s+/)
      .map(Number);
    expect(HOSTS.length * 1_000_000).toBeGreaterThan(
      Number(wmemMost) + Number(rmemFirst) + 1_000_000,
    );
    const socket = unreadSocket(`/job/${body.job_id}/stream`);
    const detail = await waitFor(
      'the job to be completed while its stream is not read',
      async () => {
        const r = await request(sys, 'GET', `/job/${body.job_id}`, undefined, token);
        return r.body.status === 'completed' ? r.body : false;
      },
      30_000,
      100,
    );
    for (const h of HOSTS) expect(detail.responses[h].data.stdout_bytes).toBe(600_000);

    const { status, headers, body: sse } = await readHttpResponse(socket);
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    const events: Array<{ event: string; data: string }> = [];
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(sse));
        controller.close();
      },
    });
    for await (const m of readSse(web)) events.push(m);
    const skipped = events.filter((e) => e.event === 'skipped');
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(skipped[0]?.data ?? '{}')).toMatchObject({
      events: expect.any(Number),
      message: expect.stringMatching(/stored result/),
    });
    const received = events
      .filter((e) => e.event === 'output')
      .reduce((n, e) => n + (JSON.parse(e.data) as { data: string }).data.length, 0);
    expect(received).toBeLessThan(HOSTS.length * 1_000_000);
    expect(events.filter((e) => e.event === 'result')).toHaveLength(HOSTS.length);
    expect(events.at(-1)?.event).toBe('end');
  });
});
