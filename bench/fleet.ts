// What the benchmarks share: agents started as their own processes against a
// test system (one per simulated host, as on a real fleet) and the small
// statistics every result table uses.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestSystem } from '../test/support/system.js';

export const ROOT = join(import.meta.dirname, '..');

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export function stats(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95) };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? (s[m] ?? Number.NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** The environment without the caller's own OSAPI_* settings, so a child sees only what we give it. */
export function envWithoutOsapi(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OSAPI_')) env[k] = v;
  return env;
}

/**
 * An agent in its own process, as on a real host, so its memory and CPU are
 * its own. Through bin/osapi-agent's shebang, as an installed agent runs (needs dist/).
 */
export async function startAgentChild(
  sys: TestSystem,
  hostname: string,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  const ns = sys.config.agent.nats.namespace;
  const child = spawn(join(ROOT, 'bin/osapi-agent'), ['-j'], {
    env: {
      ...envWithoutOsapi(),
      OSAPI_AGENT_NATS_SERVERS: sys.nats.url,
      OSAPI_AGENT_NATS_NAMESPACE: ns,
      OSAPI_NATS_SERVER_NAMESPACE: ns,
      OSAPI_AGENT_HOSTNAME: hostname,
      OSAPI_AGENT_MAX_JOBS: '10',
      OSAPI_STATE_DIR: sys.config.state_dir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`agent ${hostname} exited ${code}`)));
  });
  // Keep reading, so that nothing it prints later can fill the pipe and stall it.
  child.stdout?.resume();
  return child;
}

/**
 * Starts agents for `hostnames`, `parallel` at a time (start-up is CPU-bound),
 * adding each to `into` as soon as it runs, so that the caller can stop every
 * one it started even when another failed.
 */
export async function startAgentChildren(
  sys: TestSystem,
  hostnames: string[],
  into: ChildProcess[],
  parallel = 4,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < hostnames.length) {
        const name = hostnames[next++] as string;
        into.push(await startAgentChild(sys, name));
      }
    }),
  );
}

/** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
