// What the agent reports about its host in the registry: OS, load, memory,
// uptime. Read from the OS on each heartbeat; nothing is cached.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { formatDuration } from '../config/duration.js';
import { osRelease } from './facts.js';

export interface SystemInfo {
  os_info: { distribution: string; version: string };
  uptime: string;
  load_average: { '1min': number; '5min': number; '15min': number };
  memory: { total: number; free: number; used: number };
}

let release: { distribution: string; version: string } | undefined;

/** The distribution and its version, read once (facts.ts osRelease). */
function readOsRelease(): { distribution: string; version: string } {
  if (!release) {
    const { distribution, version } = osRelease();
    release = { distribution, version };
  }
  return release;
}

function availableMemory(): number {
  // MemAvailable is what a new process can use; os.freemem() counts page cache as used.
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m?.[1]) return Number(m[1]) * 1024;
  } catch {
    // fall back below
  }
  return os.freemem();
}

export function readSystemInfo(): SystemInfo {
  const [l1 = 0, l5 = 0, l15 = 0] = os.loadavg();
  const total = os.totalmem();
  const free = availableMemory();
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    os_info: readOsRelease(),
    uptime: formatDuration(Math.floor(os.uptime()) * 1000),
    load_average: { '1min': round(l1), '5min': round(l5), '15min': round(l15) },
    memory: { total, free, used: total - free },
  };
}
