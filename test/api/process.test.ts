// The process routes (process:read, process:execute) against a real
// nats-server and three agents in this process, all on this machine, so they
// read the same /proc: a child `sleep` started by the test is listed by a
// broadcast, got, and ended by a signal sent through the API.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['pr-01', 'pr-02', 'pr-03'];

let sys: TestSystem;
let admin: string;
let writer: string;
let reader: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'proc' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token(['admin']);
  writer = await sys.token(['write']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
});

const children: ChildProcess[] = [];
function startSleep(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(child);
  if (child.pid === undefined) throw new Error('sleep did not start');
  return child as ChildProcess & { pid: number };
}
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill();
});

describe('reading processes', () => {
  it('a broadcast lists the child on each of three agents; a read token may', async () => {
    const child = startSleep();
    const r = await request(sys, 'GET', '/node/_all/process', undefined, reader);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    const items = byHost(r.body.results);
    expect(items.map((i: AnyJson) => [i.hostname, i.status])).toEqual(HOSTS.map((h) => [h, 'ok']));
    for (const item of items) {
      const mine = item.processes.find((p: AnyJson) => p.pid === child.pid);
      expect(mine).toMatchObject({ name: 'sleep', user: 'root', command: 'sleep 300' });
      expect(typeof mine.start_time).toBe('string');
      expect(typeof mine.cpu_percent).toBe('number');
    }
  });

  it('gets one process by pid through the SDK', async () => {
    const child = startSleep();
    const client = new OsapiClient({ url: sys.url, token: reader });
    const r = await client.processGet('pr-01', { pid: child.pid });
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      expect.objectContaining({
        hostname: 'pr-01',
        status: 'ok',
        process: expect.objectContaining({ pid: child.pid, command: 'sleep 300' }),
      }),
    ]);
  });

  it('a pid that does not exist: that host failed, naming it', async () => {
    const r = await request(sys, 'GET', '/node/pr-01/process/4194304', undefined, reader);
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      expect.objectContaining({
        hostname: 'pr-01',
        status: 'failed',
        error: 'no process 4194304 on this host',
      }),
    ]);
  });
});

describe('signalling', () => {
  it('TERM through the route ends the child', async () => {
    const child = startSleep();
    const exited = once(child, 'exit');
    const r = await request(
      sys,
      'POST',
      `/node/pr-02/process/${child.pid}/signal`,
      { signal: 'TERM' },
      admin,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results).toEqual([
      expect.objectContaining({
        hostname: 'pr-02',
        status: 'ok',
        changed: true,
        pid: child.pid,
        signal: 'TERM',
      }),
    ]);
    expect(await exited).toEqual([null, 'SIGTERM']);
    const after = await request(sys, 'GET', `/node/pr-02/process/${child.pid}`, undefined, reader);
    expect(after.body.results[0]).toMatchObject({ status: 'failed' });
  });

  it('refuses PID 1 and the agent itself unless force says so', async () => {
    for (const pid of [1, process.pid]) {
      const r = await request(
        sys,
        'POST',
        `/node/pr-01/process/${pid}/signal`,
        { signal: 'TERM' },
        admin,
      );
      expect(r.status).toBe(200);
      expect(r.body.results[0]).toMatchObject({ status: 'failed', changed: false });
      expect(r.body.results[0].error).toMatch(/^refused: /);
    }
    // CONT to a running process changes nothing, so force is safe to show here.
    const forced = await request(
      sys,
      'POST',
      `/node/pr-01/process/${process.pid}/signal`,
      { signal: 'CONT', force: true },
      admin,
    );
    expect(forced.body.results[0]).toMatchObject({ status: 'ok', changed: true, signal: 'CONT' });
  });

  it('needs process:execute: the write role and a read token are refused', async () => {
    const child = startSleep();
    for (const token of [writer, reader]) {
      const r = await request(
        sys,
        'POST',
        `/node/pr-01/process/${child.pid}/signal`,
        { signal: 'KILL' },
        token,
      );
      expect(r.status).toBe(403);
    }
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
  });
});

describe('hostile input: 400 naming the field', () => {
  it.each([
    ['GET', '/node/pr-01/process/0', undefined, 'pid'],
    ['GET', '/node/pr-01/process/abc', undefined, 'pid'],
    ['GET', '/node/pr-01/process/-1', undefined, 'pid'],
    ['GET', '/node/pr-01/process/99999999999', undefined, 'pid'],
    ['POST', '/node/pr-01/process/1.5/signal', { signal: 'TERM' }, 'pid'],
    ['POST', '/node/pr-01/process/100/signal', { signal: 'NOPE' }, 'signal'],
    ['POST', '/node/pr-01/process/100/signal', { signal: '65' }, 'signal'],
    ['POST', '/node/pr-01/process/100/signal', { signal: '0' }, 'signal'],
    ['POST', '/node/pr-01/process/100/signal', { signal: '-9' }, 'signal'],
    ['POST', '/node/pr-01/process/100/signal', {}, 'signal'],
    ['POST', '/node/pr-01/process/100/signal', { signal: 'TERM', force: 'yes' }, 'force'],
  ] as const)('%s %s %j: 400 naming %s', async (method, path, body, field) => {
    const r = await request(sys, method, path, body, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(JSON.stringify(r.body)).toContain(field);
  });
});
