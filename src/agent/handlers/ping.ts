// network.ping.do: runs the system `ping` (iputils) through the process
// runner, no shell, with a fixed count and deadline, and reads its summary.
import { isIP } from 'node:net';
import type { OperationResult } from '../../contract/operations.js';
import { runCommand } from '../../exec/index.js';
import { nodeHandler } from './checked.js';

/** Echo requests sent; with PING_INTERVAL_S between them. */
export const PING_COUNT = 3;
const PING_INTERVAL_S = '0.2';
/** Seconds `ping -w` runs at most, whatever answers: an unreachable address ends here. */
export const PING_DEADLINE_S = 5;
/** The runner's own limit, in case ping ignores its deadline. */
const RUNNER_TIMEOUT_MS = (PING_DEADLINE_S + 3) * 1000;

export const PING_MISSING =
  'ping is not installed on this host: install the package iputils-ping (apt-get install iputils-ping)';

export function pingArgs(address: string): string[] {
  return [
    '-n',
    isIP(address) === 6 ? '-6' : '-4',
    '-c',
    String(PING_COUNT),
    '-i',
    PING_INTERVAL_S,
    '-W',
    '1',
    '-w',
    String(PING_DEADLINE_S),
    address,
  ];
}

/**
 * Go-style duration text for a round trip given in milliseconds, keeping the
 * microseconds ping reports: 0.058 → "58µs", 1.234 → "1.234ms", 1500 → "1.5s".
 */
export function formatRtt(ms: number): string {
  const us = Math.round(ms * 1000);
  if (us === 0) return '0s';
  const trim = (n: number) => String(Number(n.toFixed(3)));
  if (us < 1000) return `${us}µs`;
  if (us < 1_000_000) return `${trim(us / 1000)}ms`;
  return `${trim(us / 1_000_000)}s`;
}

/**
 * Reads ping's summary lines (iputils, and busybox's "round-trip" variant):
 * `3 packets transmitted, 3 received, 0% packet loss, time 402ms` and
 * `rtt min/avg/max/mdev = 0.058/0.177/0.296/0.119 ms`. Null without a summary.
 */
export function parsePingOutput(text: string): OperationResult<'network.ping.do'> | null {
  const counts =
    /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+\d+ \w+)*, ([\d.]+)% packet loss/.exec(
      text,
    );
  if (!counts) return null;
  const rtt = /min\/avg\/max(?:\/mdev)? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(text);
  const ms = (s: string | undefined) => formatRtt(s === undefined ? 0 : Number(s));
  return {
    packets_sent: Number(counts[1]),
    packets_received: Number(counts[2]),
    packet_loss: Number(counts[3]),
    min_rtt: ms(rtt?.[1]),
    avg_rtt: ms(rtt?.[2]),
    max_rtt: ms(rtt?.[3]),
  };
}

/** The process environment with the C locale, so numbers print with a decimal point. */
function cLocaleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, LC_ALL: 'C', LANG: 'C' };
}

export const pingHandler = nodeHandler('network.ping.do', async (data, ctx) => {
  const run = await runCommand({
    mode: 'exec',
    command: 'ping',
    args: pingArgs(data.address),
    timeoutMs: RUNNER_TIMEOUT_MS,
    maxOutputBytes: 64 * 1024,
    signal: ctx.signal,
    env: cLocaleEnv(),
  });
  if (run.end.kind === 'notFound') return { ok: false, error: PING_MISSING };
  const result = parsePingOutput(run.stdout);
  // Exit 1 is "no reply": still a measurement (100% loss). Anything else
  // without a summary (bad address family, no route, no permission) is not.
  if (result && run.end.kind === 'exited') return { ok: true, result };
  const why = run.error ?? (run.stderr.trim() || run.stdout.trim() || `exit code ${run.exitCode}`);
  return { ok: false, error: `ping ${data.address} failed: ${why}` };
});
