// The process operations on the agent: list and get read /proc directly (no
// ps, whose columns differ between its versions), signal sends one with
// kill(2). PID 1, the agent itself and its parent are refused unless the job
// says `force`: signalling them stops the host or the agent that answers.

import { readdir, readFile } from 'node:fs/promises';
import { type ProcessInfo, signalName, signalNumber } from '../../contract/process.js';
import { readUsers } from './accounts.js';
import { nodeHandler } from './checked.js';
import type { JobHandler } from './types.js';

/**
 * The clock ticks /proc counts time in. Linux exposes USER_HZ = 100 to user
 * space on every architecture it runs this agent on, whatever the kernel's HZ.
 */
const TICKS_PER_SECOND = 100;
/** A command line longer than this is cut: an answer lists every process of the host. */
export const COMMAND_MAX_CHARS = 4096;

/** What every process's figures are relative to, read once per answer. */
interface HostClock {
  bootTimeS: number;
  uptimeS: number;
  memTotalBytes: number;
  userNames: ReadonlyMap<number, string>;
}

async function readHostClock(procDir: string, passwdPath: string): Promise<HostClock> {
  const [stat, uptime, meminfo, users] = await Promise.all([
    readFile(`${procDir}/stat`, 'utf8'),
    readFile(`${procDir}/uptime`, 'utf8'),
    readFile(`${procDir}/meminfo`, 'utf8'),
    readUsers(passwdPath),
  ]);
  // The first entry of a uid names it, as getpwuid does.
  const userNames = new Map<number, string>();
  for (const u of users) if (!userNames.has(u.uid)) userNames.set(u.uid, u.name);
  return {
    bootTimeS: Number(/^btime\s+([0-9]+)/m.exec(stat)?.[1] ?? 0),
    uptimeS: Number.parseFloat(uptime.split(/\s+/)[0] ?? '0'),
    memTotalBytes: Number(/^MemTotal:\s+([0-9]+)\s*kB/m.exec(meminfo)?.[1] ?? 0) * 1024,
    userNames,
  };
}

/** The fields of /proc/<pid>/stat after the command's name, which may hold spaces and ')'. */
function statFields(stat: string): { comm: string; rest: string[] } | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  return {
    comm: stat.slice(open + 1, close),
    rest: stat
      .slice(close + 2)
      .trim()
      .split(' '),
  };
}

/** Field `n` of /proc/<pid>/stat as proc(5) numbers them (1 = pid, 2 = comm, 3 = state, ...). */
function field(rest: string[], n: number): number {
  return Number(rest[n - 3] ?? 0);
}

function round(n: number, places: number): number {
  const f = 10 ** places;
  return Math.round(n * f) / f;
}

function commandOf(cmdline: string, comm: string): string {
  const args = cmdline.replace(/\0+$/, '').split('\0').join(' ');
  if (args === '') return `[${comm}]`;
  return args.length > COMMAND_MAX_CHARS ? args.slice(0, COMMAND_MAX_CHARS) : args;
}

/** One process, or null when it ended while being read. */
async function readProcess(procDir: string, pid: number, clock: HostClock) {
  const dir = `${procDir}/${pid}`;
  let stat: string;
  let status: string;
  let cmdline: string;
  try {
    [stat, status, cmdline] = await Promise.all([
      readFile(`${dir}/stat`, 'utf8'),
      readFile(`${dir}/status`, 'utf8'),
      readFile(`${dir}/cmdline`, 'utf8'),
    ]);
  } catch {
    return null;
  }
  const parsed = statFields(stat);
  if (!parsed) return null;
  const { comm, rest } = parsed;
  const uid = Number(/^Uid:\s+([0-9]+)/m.exec(status)?.[1] ?? -1);
  const rssBytes = Number(/^VmRSS:\s+([0-9]+)\s*kB/m.exec(status)?.[1] ?? 0) * 1024;
  const cpuSeconds = (field(rest, 14) + field(rest, 15)) / TICKS_PER_SECOND;
  const startedS = field(rest, 22) / TICKS_PER_SECOND;
  const aliveS = clock.uptimeS - startedS;
  const info: ProcessInfo = {
    pid,
    ppid: field(rest, 4),
    name: comm,
    user: clock.userNames.get(uid) ?? String(uid),
    state: rest[0] ?? '',
    cpu_percent: aliveS > 0 ? round((cpuSeconds / aliveS) * 100, 1) : 0,
    cpu_seconds: round(cpuSeconds, 2),
    mem_percent: clock.memTotalBytes > 0 ? round((rssBytes / clock.memTotalBytes) * 100, 2) : 0,
    mem_rss: rssBytes,
    threads: field(rest, 20),
    command: commandOf(cmdline, comm),
    start_time: new Date((clock.bootTimeS + startedS) * 1000).toISOString(),
  };
  return info;
}

export interface ProcessPaths {
  procDir: string;
  passwd: string;
}

const HOST_PATHS: ProcessPaths = { procDir: '/proc', passwd: '/etc/passwd' };

async function procMissing(procDir: string): Promise<string | null> {
  try {
    await readFile(`${procDir}/self/stat`, 'utf8');
    return null;
  } catch {
    return `${procDir} is not mounted on this host: processes cannot be read`;
  }
}

export async function listProcesses(paths: ProcessPaths = HOST_PATHS): Promise<ProcessInfo[]> {
  const clock = await readHostClock(paths.procDir, paths.passwd);
  const pids = (await readdir(paths.procDir))
    .filter((e) => /^[0-9]+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b);
  const all = await Promise.all(pids.map((pid) => readProcess(paths.procDir, pid, clock)));
  return all.filter((p): p is ProcessInfo => p !== null);
}

export async function getProcess(
  pid: number,
  paths: ProcessPaths = HOST_PATHS,
): Promise<ProcessInfo | null> {
  return readProcess(paths.procDir, pid, await readHostClock(paths.procDir, paths.passwd));
}

const noProcess = (pid: number) => ({
  ok: false as const,
  error: `no process ${pid} on this host`,
});

export const processListHandler: JobHandler = nodeHandler('process.list', async () => {
  const missing = await procMissing(HOST_PATHS.procDir);
  if (missing) return { unsupported: missing };
  return { ok: true, result: { processes: await listProcesses() } };
});

export const processGetHandler: JobHandler = nodeHandler('process.get', async (data) => {
  const missing = await procMissing(HOST_PATHS.procDir);
  if (missing) return { unsupported: missing };
  const info = await getProcess(data.pid);
  if (!info) return noProcess(data.pid);
  return { ok: true, result: { process: info } };
});

/** Why this pid is not signalled without `force`, or null. */
function protectedProcess(pid: number): string | null {
  if (pid === 1) return 'PID 1 is the init process: signalling it may stop the host';
  if (pid === process.pid)
    return `${pid} is this agent: signalling it stops the agent that answers`;
  if (pid === process.ppid) {
    return `${pid} is this agent's parent (its supervisor): signalling it may stop the agent`;
  }
  return null;
}

export const processSignalHandler: JobHandler = nodeHandler('process.signal', async (data) => {
  const number = signalNumber(data.signal);
  if (number === null) return { ok: false, error: `signal "${data.signal}" is not a signal` };
  const guarded = protectedProcess(data.pid);
  if (guarded && data.force !== true) {
    return { ok: false, error: `refused: ${guarded}; send it with force: true if you mean it` };
  }
  try {
    process.kill(data.pid, number);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return noProcess(data.pid);
    if (code === 'EPERM') {
      return {
        ok: false,
        error: `the agent may not signal process ${data.pid}: it runs as another user and the agent is not root`,
      };
    }
    throw err;
  }
  return { ok: true, result: { pid: data.pid, signal: signalName(number), changed: true } };
});
