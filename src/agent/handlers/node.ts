// The node information operations: what the registry heartbeat already reads
// (system-info.ts) answered on demand, plus the host's disks and names.
import { hostname as osHostname } from 'node:os';
import { readSystemInfo } from '../system-info.js';
import { nodeHandler } from './checked.js';
import { readDisks } from './disk.js';

export const statusHandler = nodeHandler('node.status.get', async () => {
  const info = readSystemInfo();
  // Disks may be unreadable (no /proc): the rest of the status still answers.
  const disks = await readDisks().catch(() => []);
  return {
    ok: true,
    result: {
      uptime: info.uptime,
      load_average: info.load_average,
      memory: info.memory,
      disks,
      os_info: info.os_info,
    },
  };
});

export const hostnameHandler = nodeHandler('node.hostname.get', async (_data, ctx) => ({
  ok: true,
  result: { labels: ctx.labels, os_hostname: osHostname() },
}));

export const memoryHandler = nodeHandler('node.memory.get', async () => ({
  ok: true,
  result: { memory: readSystemInfo().memory },
}));

export const loadHandler = nodeHandler('node.load.get', async () => ({
  ok: true,
  result: { load_average: readSystemInfo().load_average },
}));

export const osHandler = nodeHandler('node.os.get', async () => ({
  ok: true,
  result: { os_info: readSystemInfo().os_info },
}));

export const uptimeHandler = nodeHandler('node.uptime.get', async () => ({
  ok: true,
  result: { uptime: readSystemInfo().uptime },
}));
