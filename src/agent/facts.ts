// The facts an agent collects about its host (src/contract/facts.ts): read
// from the kernel and the OS's own files, never from request data, at start
// and on an interval. Custom facts come from the config and from a directory
// of sources: `*.json` files, and executables whose standard output is a JSON
// object. A source that fails, is too slow or too large is skipped with a
// warning (once until it changes) and never holds up the rest.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { HostFacts, NetworkInterface, Route } from '../contract/facts.js';
import { runCommand } from '../exec/index.js';
import { factValues } from '../job/fact-refs.js';
import { type JobStore, putFacts } from '../job/store.js';
import type { Logger } from '../log/logger.js';
import type { OutageLog } from '../log/outage-log.js';
import { SYSTEMD_RUN_DIR } from './handlers/host-tools.js';
import { readMachineId } from './identity.js';
import { inNameOrder } from './name-order.js';

export interface FactSources {
  hostname: string;
  /** agent.facts.custom: merged under `custom.` last, so the config wins. */
  custom: Record<string, unknown>;
  /** agent.facts.dir: the directory of custom sources; empty for none. */
  dir: string;
  /** Most time one executable source may take. */
  timeoutMs: number;
  logger: Logger;
}

/** Most bytes a custom source may give (a file's size, an executable's output). */
export const CUSTOM_SOURCE_MAX_BYTES = 64 * 1024;
/** A custom fact's name: what a key segment may hold. */
const CUSTOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** ID, VERSION_ID and the family (first of ID_LIKE, else ID) from /etc/os-release. */
export function osRelease(text = readText('/etc/os-release')): HostFacts['os'] {
  const field = (k: string) =>
    text ? new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1]?.trim() : undefined;
  const distribution = field('ID') || os.type().toLowerCase();
  return {
    distribution,
    version: field('VERSION_ID') ?? os.release(),
    family: field('ID_LIKE')?.split(/\s+/)[0] || distribution,
  };
}

/** Hex of a little-endian IPv4 address, as /proc/net/route writes it. */
function ipv4OfHex(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

/** The IPv4 routing table from /proc/net/route (empty where it cannot be read). */
export function parseRoutes(text: string | null): Route[] {
  if (!text) return [];
  const routes: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flagsHex, , , metric, mask] = f as string[];
    if (!iface || !dest || !gw || !flagsHex || !mask) continue;
    const flags = Number.parseInt(flagsHex, 16);
    routes.push({
      destination: ipv4OfHex(dest),
      gateway: ipv4OfHex(gw),
      interface: iface,
      mask: ipv4OfHex(mask),
      metric: Number(metric) || 0,
      flags: `${flags & 1 ? 'U' : ''}${flags & 2 ? 'G' : ''}${flags & 4 ? 'H' : ''}`,
    });
  }
  return routes;
}

/** The interface of the default route with the lowest metric; empty when there is none. */
export function primaryInterface(routes: Route[]): string {
  const defaults = routes
    .filter((r) => r.destination === '0.0.0.0' && r.mask === '0.0.0.0')
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
  return defaults[0]?.interface ?? '';
}

/** Interfaces other than loopback, with their first addresses. */
export function interfacesOf(
  found: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): NetworkInterface[] {
  const out: NetworkInterface[] = [];
  for (const [name, addrs] of Object.entries(found)) {
    if (!addrs || addrs.every((a) => a.internal)) continue;
    const v4 = addrs.find((a) => a.family === 'IPv4');
    // A global address before a link-local one.
    const v6 =
      addrs.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80')) ??
      addrs.find((a) => a.family === 'IPv6');
    const mac = addrs.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac;
    out.push({
      name,
      ...(v4 ? { ipv4: v4.address } : {}),
      ...(v6 ? { ipv6: v6.address } : {}),
      ...(mac ? { mac } : {}),
      family: v4 && v6 ? 'dual' : v6 ? 'inet6' : 'inet',
    });
  }
  return out.sort((a, b) => inNameOrder(a.name, b.name));
}

function serviceManager(): string {
  if (existsSync(SYSTEMD_RUN_DIR)) return 'systemd';
  if (existsSync('/run/openrc') || existsSync('/sbin/openrc-run')) return 'openrc';
  if (existsSync('/etc/init.d')) return 'sysvinit';
  return 'none';
}

const PACKAGE_MANAGERS: ReadonlyArray<readonly [tool: string, name: string]> = [
  ['apt-get', 'apt'],
  ['dnf', 'dnf'],
  ['yum', 'yum'],
  ['zypper', 'zypper'],
  ['apk', 'apk'],
  ['pacman', 'pacman'],
];

function packageManager(): string {
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];
  for (const [tool, name] of PACKAGE_MANAGERS) {
    if (dirs.some((d) => existsSync(join(d, tool)))) return name;
  }
  return 'none';
}

function inContainer(): boolean {
  if (existsSync('/.dockerenv') || existsSync('/run/.containerenv')) return true;
  const cgroup = readText('/proc/1/cgroup') ?? '';
  return /docker|kubepods|containerd|lxc|libpod/.test(cgroup);
}

/**
 * `hostname -f`, bounded; the short name when it fails. Started as commands
 * are (src/exec: posix_spawn where built), as the executable sources are, not
 * with a fork of the agent: a process hosting many agents (the scale
 * benchmark's) forked itself, a gigabyte, once per agent at start.
 */
async function fullyQualifiedName(timeoutMs: number): Promise<string> {
  const run = await runCommand({
    mode: 'exec',
    command: 'hostname',
    args: ['-f'],
    timeoutMs,
    maxOutputBytes: 4096,
  });
  const name = run.stdout.trim();
  return run.exitCode === 0 && name ? name : os.hostname();
}

/** What one source said, or why it was skipped. */
type SourceOutcome = { ok: true; facts: Record<string, unknown> } | { ok: false; error: string };

function asFactObject(text: string, what: string): SourceOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `${what} is not JSON` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: `${what} is not a JSON object` };
  }
  return { ok: true, facts: value as Record<string, unknown> };
}

/** An executable source, run as commands are (src/exec), bounded in time and output. */
async function runSource(path: string, timeoutMs: number): Promise<SourceOutcome> {
  const run = await runCommand({
    mode: 'exec',
    command: path,
    timeoutMs,
    maxOutputBytes: CUSTOM_SOURCE_MAX_BYTES,
    killGraceMs: 0,
  });
  if (run.end.kind === 'timedOut') {
    return { ok: false, error: `took longer than ${timeoutMs} ms (agent.facts.timeout)` };
  }
  if (run.stdoutTruncated) {
    return { ok: false, error: `printed more than ${CUSTOM_SOURCE_MAX_BYTES} bytes` };
  }
  if (run.exitCode !== 0) {
    return { ok: false, error: `failed: ${run.error ?? `exit code ${run.exitCode}`}` };
  }
  return asFactObject(run.stdout, 'its output');
}

/** Every source in the directory, by name: files first read, executables run, all at once. */
async function readSourceDir(dir: string, timeoutMs: number): Promise<Map<string, SourceOutcome>> {
  const out = new Map<string, SourceOutcome>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    out.set(dir, { ok: false, error: `cannot be read: ${(err as Error).message}` });
    return out;
  }
  await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(path);
      } catch {
        return;
      }
      if (!st.isFile()) return;
      let executable = false;
      try {
        accessSync(path, constants.X_OK);
        executable = true;
      } catch {
        // read as a JSON file below
      }
      if (executable) out.set(path, await runSource(path, timeoutMs));
      else if (name.endsWith('.json')) {
        out.set(
          path,
          st.size > CUSTOM_SOURCE_MAX_BYTES
            ? { ok: false, error: `is larger than ${CUSTOM_SOURCE_MAX_BYTES} bytes` }
            : asFactObject(readText(path) ?? '', 'its content'),
        );
      }
    }),
  );
  return out;
}

/**
 * Collects the host's facts; warns (through `warn`) of each custom source
 * skipped. Never throws: what cannot be read is left empty.
 */
export async function collectFacts(
  src: FactSources,
  warn: (source: string, error: string) => void = (source, error) =>
    src.logger.warn({ source, err: error }, 'a custom fact source was skipped'),
): Promise<HostFacts> {
  const routes = parseRoutes(readText('/proc/net/route'));
  const custom: Record<string, unknown> = {};
  const merge = (facts: Record<string, unknown>, source: string) => {
    for (const [k, v] of Object.entries(facts)) {
      if (!CUSTOM_NAME.test(k)) {
        warn(source, `skipped the fact "${k.slice(0, 64)}": a name is letters, digits, _ and -`);
        continue;
      }
      custom[k] = v;
    }
  };
  const [fqdn, sources] = await Promise.all([
    fullyQualifiedName(src.timeoutMs),
    src.dir ? readSourceDir(src.dir, src.timeoutMs) : Promise.resolve(new Map()),
  ]);
  for (const [source, outcome] of [...sources].sort(([a], [b]) => inNameOrder(a, b))) {
    if (outcome.ok) merge(outcome.facts, source);
    else warn(source, outcome.error);
  }
  merge(src.custom, 'agent.facts.custom');

  return {
    hostname: src.hostname,
    collected_at: new Date().toISOString(),
    machine_id: readMachineId(),
    architecture: os.machine(),
    kernel_version: os.release(),
    fqdn,
    cpu_count: os.availableParallelism(),
    memory_total: os.totalmem(),
    os: osRelease(),
    interfaces: interfacesOf(),
    primary_interface: primaryInterface(routes),
    routes,
    service_mgr: serviceManager(),
    package_mgr: packageManager(),
    container: inContainer(),
    custom,
  };
}

export interface FactsLoopOptions {
  store: JobStore;
  sources: FactSources;
  intervalMs: number;
  /** Where a failed write is told, once per NATS outage. */
  outage?: OutageLog;
}

export interface FactsLoop {
  /** This host's facts by `@fact.` key (fact-refs.ts factValues), as last collected. */
  values(): ReadonlyMap<string, string>;
  stop(): void;
}

/** Facts unchanged are written again after this long, well inside the bucket's TTL. */
const REWRITE_AFTER_MS = 3 * 60_000;

/**
 * Collects the facts now (the agent takes jobs only with them in hand, so a
 * `@fact.` reference never meets an empty set), stores them, and again every
 * `intervalMs`: written when they changed, or when the last write is
 * REWRITE_AFTER_MS old.
 */
export async function startFacts(opts: FactsLoopOptions): Promise<FactsLoop> {
  const log = opts.sources.logger;
  // One warning per source until what it says changes.
  const told = new Map<string, string>();
  const warn = (source: string, error: string) => {
    if (told.get(source) === error) return;
    told.set(source, error);
    log.warn({ source, err: error }, 'a custom fact source was skipped');
  };
  let facts = await collectFacts(opts.sources, warn);
  let values = factValues(facts);
  let written = '';
  let writtenAt = 0;
  const same = (f: HostFacts) => JSON.stringify({ ...f, collected_at: '' });
  const write = async () => {
    const now = Date.now();
    if (same(facts) === written && now - writtenAt < REWRITE_AFTER_MS) return;
    try {
      await putFacts(opts.store, facts);
      written = same(facts);
      writtenAt = now;
      opts.outage?.worked();
    } catch (err) {
      if (opts.outage) opts.outage.failed('could not store the facts', err);
      else log.warn({ err: String(err) }, 'could not store the facts; trying at the next interval');
    }
  };
  await write();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void collectFacts(opts.sources, warn)
      .then(async (next) => {
        facts = next;
        values = factValues(next);
        await write();
      })
      .finally(() => {
        running = false;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    values: () => values,
    stop: () => clearInterval(timer),
  };
}
