// The process handlers on this machine's own /proc: a child started here is
// listed, read and signalled; the guarded pids are refused without force.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { signalName, signalNumber } from '../../src/contract/process.js';

const ctx: HandlerContext = {
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024 * 1024,
  signal: new AbortController().signal,
};

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

describe('signal names', () => {
  it('reads names with or without SIG, any case, and numbers 1 to 64', () => {
    expect(signalNumber('TERM')).toBe(15);
    expect(signalNumber('sigkill')).toBe(9);
    expect(signalNumber('USR1')).toBe(10);
    expect(signalNumber('40')).toBe(40);
    expect(signalNumber('64')).toBe(64);
    for (const bad of ['0', '65', 'TERMS', 'SIG', '__proto__', 'constructor', '-9', '015x']) {
      expect(signalNumber(bad), bad).toBeNull();
    }
    expect(signalName(6)).toBe('ABRT');
    expect(signalName(40)).toBe('40');
  });
});

describe('reading processes', () => {
  it('lists a child started here, with its user, command, state, memory and start time', async () => {
    const child = startSleep();
    const before = Date.now();
    const out = await runJob('process.list', {}, ctx);
    expect(out.status).toBe('completed');
    const processes = (out.data as { processes: Record<string, unknown>[] }).processes;
    const mine = processes.find((p) => p.pid === child.pid);
    expect(mine).toMatchObject({
      pid: child.pid,
      ppid: process.pid,
      name: 'sleep',
      user: 'root',
      command: 'sleep 300',
      threads: 1,
    });
    expect(['R', 'S']).toContain(mine?.state);
    expect(mine?.mem_rss).toBeGreaterThan(0);
    // Whole seconds since boot plus ticks: within a few seconds of now.
    expect(Math.abs(Date.parse(String(mine?.start_time)) - before)).toBeLessThan(5000);
    const init = processes.find((p) => p.pid === 1);
    expect(init).toBeDefined();
  });

  it('gets one process, and says a missing one is missing', async () => {
    const child = startSleep();
    const out = await runJob('process.get', { pid: child.pid }, ctx);
    expect(out.status).toBe('completed');
    expect(out.data).toMatchObject({ process: { pid: child.pid, command: 'sleep 300' } });
    const me = await runJob('process.get', { pid: process.pid }, ctx);
    expect((me.data as { process: { cpu_seconds: number } }).process.cpu_seconds).toBeGreaterThan(
      0,
    );
    const gone = await runJob('process.get', { pid: 4_194_304 }, ctx);
    expect(gone).toMatchObject({ status: 'failed', error: 'no process 4194304 on this host' });
  });

  it('names a kernel thread or a process without a command line in brackets', async () => {
    const out = await runJob('process.list', {}, ctx);
    const processes = (out.data as { processes: { command: string; name: string }[] }).processes;
    for (const p of processes.filter((q) => q.command.startsWith('['))) {
      expect(p.command).toBe(`[${p.name}]`);
    }
  });
});

describe('signalling', () => {
  it('sends TERM by name: the child ends by that signal', async () => {
    const child = startSleep();
    const exited = once(child, 'exit');
    const out = await runJob('process.signal', { pid: child.pid, signal: 'TERM' }, ctx);
    expect(out).toMatchObject({
      status: 'completed',
      data: { pid: child.pid, signal: 'TERM', changed: true },
    });
    expect(await exited).toEqual([null, 'SIGTERM']);
  });

  it('sends a signal by number, and STOP then CONT', async () => {
    const child = startSleep();
    const stopped = await runJob('process.signal', { pid: child.pid, signal: 'SIGSTOP' }, ctx);
    expect(stopped.data).toMatchObject({ signal: 'STOP', changed: true });
    const exited = once(child, 'exit');
    expect((await runJob('process.signal', { pid: child.pid, signal: '18' }, ctx)).data).toEqual({
      pid: child.pid,
      signal: 'CONT',
      changed: true,
    });
    await runJob('process.signal', { pid: child.pid, signal: '9' }, ctx);
    expect(await exited).toEqual([null, 'SIGKILL']);
  });

  it('refuses PID 1, the agent and its parent without force', async () => {
    for (const pid of [1, process.pid, process.ppid]) {
      const out = await runJob('process.signal', { pid, signal: 'TERM' }, ctx);
      expect(out.status, String(pid)).toBe('failed');
      expect(out.error).toMatch(/^refused: .*force: true/);
    }
  });

  it('with force, signals the agent itself (CONT, harmless to a running process)', async () => {
    const out = await runJob(
      'process.signal',
      { pid: process.pid, signal: 'CONT', force: true },
      ctx,
    );
    expect(out).toMatchObject({ status: 'completed', data: { changed: true } });
  });

  it('says a process that does not exist does not', async () => {
    const child = startSleep();
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const out = await runJob('process.signal', { pid: child.pid, signal: 'TERM' }, ctx);
    expect(out).toMatchObject({ status: 'failed', error: `no process ${child.pid} on this host` });
  });

  it('refuses job data that is not a pid or a signal', async () => {
    for (const data of [
      { pid: 0, signal: 'TERM' },
      { pid: -1, signal: 'TERM' },
      { pid: 4_194_305, signal: 'TERM' },
      { pid: 10, signal: 'NOPE' },
      { pid: 10, signal: '0' },
      { pid: 10, signal: 'TERM', extra: 1 },
    ]) {
      const out = await runJob('process.signal', data, ctx);
      expect(out.status, JSON.stringify(data)).toBe('failed');
      expect(out.error).toMatch(/^invalid job data/);
    }
  });
});
