// Scale benchmark: N simulated agents, hosted a few hundred to a
// process as bench/scale/fleet.ts, each with its own NATS connection, hostname
// and labels, against the real API server (bin/osapi, its own process) and
// real nats-server processes. One run measures, for each N: the fleet's start
// until every agent is Ready, `GET /node/{target}/hostname` for `_all`, a
// label reaching a tenth of the fleet, `_any` and one host, and the idle
// memory and CPU of the server, the agents and the API, against the same
// processes measured before the fleet started (the run's own baseline).
//
//   npm run bench:scale                          # 100, 1,000 and 3,000 agents, one server
//   npm run bench:scale -- --agents 1000         # one size
//   npm run bench:scale -- --cluster             # 3-node cluster, R3, one node killed mid-run
//   npm run bench:scale -- --cluster --agents 1000
//   options: --workers N (fleet processes, default 4), --no-write (print only);
//   with --cluster: --restart-after S (the killed node starts again), --broadcast-commands,
//   --json FILE (the figures as JSON); --no-build (dist/ is current)
//   env: OSAPI_BENCH_PROFILE=<dir> (CPU profiles of the fleet processes during the `_all`
//   round), OSAPI_BENCH_START_PROFILE=<dir> (the fleet processes' while their agents start),
//   OSAPI_BENCH_API_PROFILE=<dir> (the API server's, its whole run),
//   OSAPI_BENCH_API_LOG / OSAPI_BENCH_FLEET_LOG=<file> (what they logged)
//
// Loopback only; every wait is bounded.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { signToken } from '../../src/auth/index.js';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import { launcher } from '../../test/support/launcher.js';
import { writeSection } from '../results.js';
import { agentName, type FleetReport, type FleetSpec } from './fleet-spec.js';

const ROOT = join(import.meta.dirname, '..', '..');
const quiet = pino({ level: 'silent' });

// ---- options ---------------------------------------------------------------

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const CLUSTER = process.argv.includes('--cluster');
const WRITE = !process.argv.includes('--no-write');
const WORKERS = Number(option('workers') ?? 4);
/** `--set key=value` (repeatable): a config override for the API server and every agent. */
const SETTINGS: Record<string, string> = Object.fromEntries([
  // The simulated agents are trusted as they come, as a fleet set up so would be.
  ['agent.enrollment.auto_accept', 'true'],
  // Each agent runs `hostname -f` for its facts every minute. A simulated
  // fleet process hosting 750 agents would fork itself (about 1 GB) a dozen
  // times a second, a load no real host has (each forks its own small
  // agent), and the run would measure that: facts are collected at start.
  ['agent.facts.interval', '1h'],
  ...process.argv.flatMap((a, i) => {
    if (a !== '--set') return [];
    const kv = process.argv[i + 1] ?? '';
    const eq = kv.indexOf('=');
    return eq > 0 ? [[kv.slice(0, eq), kv.slice(eq + 1)]] : [];
  }),
]);
/** OSAPI_ + the key path upper-cased with `.` as `_` (docs/configuration.md). */
const settingsEnv = Object.fromEntries(
  Object.entries(SETTINGS).map(([k, v]) => [`OSAPI_${k.toUpperCase().replaceAll('.', '_')}`, v]),
);
const SIZES = (option('agents') ?? (CLUSTER ? '1000' : '100,1000,3000'))
  .split(',')
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
if (SIZES.length === 0 || !(WORKERS > 0)) {
  process.stderr.write(
    'usage: npm run bench:scale -- [--agents 100,1000] [--workers 4] [--cluster]\n',
  );
  process.exit(2);
}

// ---- measuring processes ----------------------------------------------------

const TICKS = 100; // USER_HZ on Linux

interface ProcSample {
  at: number;
  ticks: number;
  rssMb: number;
}

function sample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { at: performance.now(), ticks, rssMb: m?.[1] ? Number(m[1]) / 1024 : Number.NaN };
}

/** CPU use over a window, in % of one core; RSS at its end. */
function usage(a: ProcSample[], b: ProcSample[]): { cpu: number; rssMb: number } {
  let ticks = 0;
  let rss = 0;
  let secs = 0;
  a.forEach((x, i) => {
    const y = b[i] as ProcSample;
    ticks += y.ticks - x.ticks;
    rss += y.rssMb;
    secs = (y.at - x.at) / 1000;
  });
  return { cpu: (ticks / TICKS / secs) * 100, rssMb: rss };
}

/** CPU seconds each group of processes used between two samplings. */
function cpuSeconds(a: ProcSample[][], b: ProcSample[][]): number[] {
  return a.map(
    (g, i) => g.reduce((t, x, j) => t + ((b[i]?.[j]?.ticks ?? x.ticks) - x.ticks), 0) / TICKS,
  );
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measureIdle(pids: number[][], ms: number) {
  const before = pids.map((g) => g.map(sample));
  await pause(ms);
  const after = pids.map((g) => g.map(sample));
  return before.map((b, i) => usage(b, after[i] as ProcSample[]));
}

// ---- nats-server --------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  handle: NatsServerHandle;
  monitor: number;
  name: string;
  /** What started it, so a killed node can start again on its own port and store. */
  restart(): Promise<Server>;
}

async function startServer(
  dir: string,
  name: string,
  cluster?: string[],
  ports?: { client: number; monitor: number },
): Promise<Server> {
  const monitor = ports?.monitor ?? (await freePort());
  const extra = ['-m', String(monitor), '--name', name];
  const handle = await startNatsServer({
    host: '127.0.0.1',
    port: ports?.client ?? 0,
    storeDir: join(dir, name),
    logger: quiet,
    extraArgs: [...extra, ...(cluster ?? [])],
  });
  const client = Number(new URL(handle.url).port);
  return {
    handle,
    monitor,
    name,
    restart: () => startServer(dir, name, cluster, { client, monitor }),
  };
}

/** Three nats-servers routed to each other on local ports: one JetStream cluster. */
async function startCluster(dir: string): Promise<Server[]> {
  const routes = await Promise.all([freePort(), freePort(), freePort()]);
  const urls = routes.map((p) => `nats://127.0.0.1:${p}`);
  return Promise.all(
    routes.map((p, i) =>
      startServer(dir, `n${i + 1}`, [
        '--cluster_name',
        'osapi-bench',
        '--cluster',
        `nats://127.0.0.1:${p}`,
        '--routes',
        urls.filter((_, j) => j !== i).join(','),
      ]),
    ),
  );
}

interface Varz {
  connections: number;
  subscriptions: number;
  in_msgs: number;
  out_msgs: number;
  version: string;
}
async function varz(s: Server): Promise<Varz> {
  return (await (await fetch(`http://127.0.0.1:${s.monitor}/varz`)).json()) as Varz;
}
async function jsz(s: Server): Promise<{ consumers: number; api: { total: number } }> {
  const r = await fetch(`http://127.0.0.1:${s.monitor}/jsz`);
  return (await r.json()) as { consumers: number; api: { total: number } };
}
/** Message counts summed over the servers. */
async function messages(servers: Server[]) {
  const v = await Promise.all(servers.map(varz));
  return {
    in: v.reduce((n, x) => n + x.in_msgs, 0),
    out: v.reduce((n, x) => n + x.out_msgs, 0),
  };
}

// ---- the API server --------------------------------------------------------------

const SIGNING_KEY = `bench-${crypto.randomUUID()}`;

interface Api {
  child: ChildProcess;
  url: string;
}

async function startApi(natsUrls: string[], stateDir: string, namespace: string, replicas: number) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OSAPI_')) env[k] = v;
  const r = String(replicas);
  // OSAPI_BENCH_API_PROFILE=<dir>: the API server writes a CPU profile there when it stops.
  const profileDir = process.env.OSAPI_BENCH_API_PROFILE;
  const osapi = launcher('osapi');
  const nodeArgs = [
    ...osapi.nodeOptions,
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, osapi.file, 'api', 'server', 'start', '-j'], {
    env: {
      ...env,
      OSAPI_API_SERVER_HOST: '127.0.0.1',
      OSAPI_API_SERVER_PORT: '0',
      OSAPI_API_SERVER_NATS_SERVERS: natsUrls.join(','),
      OSAPI_API_SERVER_NATS_NAMESPACE: namespace,
      OSAPI_STATE_DIR: stateDir,
      OSAPI_API_SERVER_SECURITY_SIGNING_KEY: SIGNING_KEY,
      OSAPI_NATS_STREAM_REPLICAS: r,
      OSAPI_NATS_KV_REPLICAS: r,
      OSAPI_NATS_REGISTRY_REPLICAS: r,
      OSAPI_NATS_AUDIT_REPLICAS: r,
      OSAPI_NATS_DLQ_REPLICAS: r,
      ...settingsEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b).slice(-4000);
    // OSAPI_BENCH_API_LOG=<file> keeps what the API server logged.
    if (process.env.OSAPI_BENCH_API_LOG) appendFileSync(process.env.OSAPI_BENCH_API_LOG, b);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`the API server did not start: ${err}`)),
      60_000,
    );
    child.stdout?.on('data', (b: Buffer) => {
      out += b;
      const m = /"api_url":\s*"([^"]+)"/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the API server exited ${code}: ${err}`)));
  });
  return { child, url } satisfies Api;
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---- the fleet ---------------------------------------------------------------------

interface Fleet {
  workers: ChildProcess[];
  /** The fleet processes' memory after a full collection in each, summed. */
  memory(): Promise<{ rssMb: number; heapMb: number }>;
  /** With a directory, CPU-profiles every fleet process during `during` (OSAPI_BENCH_PROFILE). */
  profile<T>(dir: string | undefined, during: () => Promise<T>): Promise<T>;
  warnings: () => number;
  sampleWarnings: () => string[];
  /** Counts by message of the lines logged from now on (the last mark's are dropped). */
  markWarnings: () => Map<string, number>;
  start(): Promise<{ ms: number; failed: number; firstError?: string }>;
  stop(): Promise<void>;
}

async function startFleet(
  n: number,
  base: Omit<FleetSpec, 'worker' | 'from' | 'to'>,
): Promise<Fleet> {
  const count = Math.min(WORKERS, n);
  const reports: Array<Array<(r: FleetReport) => void>> = [];
  let warnings = 0;
  const samples: string[] = [];
  let byMessage: Map<string, number> | null = null;
  const workers = Array.from({ length: count }, (_, w) => {
    const spec: FleetSpec = {
      ...base,
      worker: w,
      from: Math.floor((n * w) / count),
      to: Math.floor((n * (w + 1)) / count),
    };
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'fleet.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, OSAPI_BENCH_FLEET: JSON.stringify(spec) },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      },
    );
    reports[w] = [];
    child.on('message', (r: FleetReport) => {
      for (const fn of reports[w]?.splice(0) ?? []) fn(r);
    });
    let partial = '';
    child.stderr?.on('data', (b: Buffer) => {
      const lines = (partial + b).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines.filter(Boolean)) {
        warnings++;
        // OSAPI_BENCH_FLEET_LOG=<file> keeps every line the fleet logged.
        if (process.env.OSAPI_BENCH_FLEET_LOG)
          appendFileSync(process.env.OSAPI_BENCH_FLEET_LOG, `${l}\n`);
        if (samples.length < 5) samples.push(l.slice(0, 300));
        if (byMessage) {
          let msg = l.slice(0, 80);
          try {
            const j = JSON.parse(l) as { msg?: string; component?: string };
            msg = `${j.component ?? '?'}: ${j.msg ?? ''}`.slice(0, 120);
          } catch {}
          byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
        }
      }
    });
    return child;
  });
  const next = (w: number) =>
    new Promise<FleetReport>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fleet process ${w} did not answer`)), 180_000);
      reports[w]?.push((r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  await Promise.all(workers.map((_, w) => next(w)));
  return {
    workers,
    async memory() {
      const done = workers.map((_, w) => next(w));
      for (const c of workers) c.send({ cmd: 'memory' });
      const rs = (await Promise.all(done)) as Array<Extract<FleetReport, { type: 'memory' }>>;
      return {
        rssMb: rs.reduce((t, r) => t + r.rss, 0) / 2 ** 20,
        heapMb: rs.reduce((t, r) => t + r.heapUsed, 0) / 2 ** 20,
      };
    },
    async profile<T>(dir: string | undefined, during: () => Promise<T>): Promise<T> {
      if (!dir) return during();
      for (const c of workers) c.send({ cmd: 'profile-start' });
      const out = await during();
      const done = workers.map((_, w) => next(w));
      for (const c of workers) c.send({ cmd: 'profile-stop', dir });
      await Promise.all(done);
      return out;
    },
    warnings: () => warnings,
    sampleWarnings: () => samples,
    markWarnings: () => {
      byMessage = new Map();
      return byMessage;
    },
    async start() {
      const done = workers.map((_, w) => next(w));
      for (const c of workers) c.send({ cmd: 'start' });
      const rs = (await Promise.all(done)) as Array<Extract<FleetReport, { type: 'started' }>>;
      const firstError = rs.find((r) => r.firstError)?.firstError;
      return {
        ms: Math.max(...rs.map((r) => r.ms)),
        failed: rs.reduce((k, r) => k + r.failed, 0),
        ...(firstError ? { firstError } : {}),
      };
    },
    async stop() {
      const done = workers.map((_, w) => next(w).catch(() => undefined));
      for (const c of workers) if (c.connected) c.send({ cmd: 'stop' });
      await Promise.race([Promise.all(done), pause(60_000)]);
      await Promise.all(workers.map((c) => stopChild(c, 5_000)));
    },
  };
}

// ---- requests ------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: the bench reads whatever JSON a route answers
type Json = any;

async function call(api: Api, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

interface Latency {
  p50: number;
  p95: number;
  /** Answers that did not hold every expected agent, completed. */
  wrong: number;
  samples: number;
  lastJob: { id: string; sent: number; got: number };
}

/**
 * Where the time of one broadcast went, in ms from the request: until the
 * API created the job, until the first, median and last agent had stored
 * its result (its `completed` event), and until the answer arrived.
 */
async function anatomyOf(api: Api, token: string, last: { id: string; sent: number; got: number }) {
  const r = await call(api, token, 'GET', `/job/${last.id}`);
  const done = ((r.body.timeline ?? []) as Json[])
    .filter((e) => e.event === 'completed')
    .map((e) => Date.parse(e.timestamp) - last.sent)
    .sort((a, b) => a - b);
  return {
    created: Date.parse(r.body.created) - last.sent,
    resultStored: [done[0], quantile(done, 0.5), done.at(-1)],
    answered: last.got - last.sent,
  };
}

/** `samples` requests one after another; each must answer `expect` agents, all completed. */
async function timeHostname(
  api: Api,
  token: string,
  target: () => string,
  expect: number,
  samples: number,
): Promise<Latency> {
  const ms: number[] = [];
  let wrong = 0;
  let lastJob = { id: '', sent: 0, got: 0 };
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    const sent = Date.now();
    const r = await call(api, token, 'GET', `/node/${target()}/hostname`);
    ms.push(performance.now() - t);
    if (r.body?.job_id) lastJob = { id: r.body.job_id, sent, got: Date.now() };
    const results: Json[] = r.body?.results ?? [];
    if (
      r.status !== 200 ||
      results.length !== expect ||
      !results.every((x) => x.status === 'completed')
    ) {
      wrong++;
    }
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), wrong, samples, lastJob };
}

async function readyAgents(api: Api, token: string): Promise<number> {
  const r = await call(api, token, 'GET', '/agent');
  // Heard from, and taking jobs: its key accepted (auto_accept), not drained.
  return ((r.body?.agents ?? []) as Json[]).filter(
    (a) => a.status === 'Ready' && a.state === 'Ready',
  ).length;
}

/**
 * Polls GET /agent until `n` agents are Ready or `withinMs` passes; `onPoll`
 * hears each count (the run prints when half and nine tenths were Ready).
 */
async function waitReady(
  api: Api,
  token: string,
  n: number,
  withinMs: number,
  onPoll?: (ready: number) => void,
): Promise<number> {
  const until = performance.now() + withinMs;
  let ready = 0;
  while (performance.now() < until) {
    ready = await readyAgents(api, token);
    onPoll?.(ready);
    if (ready >= n) return ready;
    await pause(500);
  }
  return ready;
}

// ---- one size on one server -----------------------------------------------------------

interface ScaleResult {
  n: number;
  workers: number;
  startMs: number;
  readyMs: number;
  failedStarts: number;
  all: Latency;
  label: Latency;
  any: Latency;
  host: Latency;
  server: { idle: { cpu: number; rssMb: number }; base: { cpu: number; rssMb: number } };
  fleet: {
    idle: { cpu: number; rssMb: number };
    /** After a full collection in each fleet process, with the fleet running and before it started. */
    mem: { rssMb: number; heapMb: number };
    base: { rssMb: number; heapMb: number };
  };
  apiProc: { idle: { cpu: number; rssMb: number }; base: { cpu: number; rssMb: number } };
  connections: number;
  subscriptions: number;
  consumers: number;
  apiCallsPerAgentAtStart: number;
  msgsPerAllJob: { in: number; out: number };
  /** CPU ms per `_all` job spent by nats-server, the fleet processes and the API. */
  cpuPerAllJob: { server: number; fleet: number; api: number };
  msgsPerAnyJob: { in: number; out: number };
  warnings: number;
  warningSamples: string[];
}

const IDLE_MS = 20_000;
/** Past the catch-up consumers' inactivity threshold and one heartbeat interval. */
const SETTLE_MS = 15_000;

function samplesFor(n: number) {
  return n >= 3000 ? 20 : 30;
}

async function runScale(n: number): Promise<ScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-scale-'));
  const namespace = 'bench';
  const server = await startServer(dir, 'n1');
  let api: Api | undefined;
  let fleet: Fleet | undefined;
  try {
    api = await startApi([server.handle.url], join(dir, 'state'), namespace, 1);
    const token = await signToken({ subject: 'bench', roles: ['admin'], signingKey: SIGNING_KEY });
    await pause(3_000);
    const [base, apiBase] = await measureIdle(
      [[server.handle.pid], [api.child.pid as number]],
      10_000,
    );
    fleet = await startFleet(n, {
      natsServers: [server.handle.url],
      namespace,
      stateDir: join(dir, 'state'),
      overrides: SETTINGS,
    });
    const fleetPids = fleet.workers.map((c) => c.pid as number);
    const fleetBase = await fleet.memory();
    const apiBefore = (await jsz(server)).api.total;

    const groups = [[server.handle.pid], fleetPids, [api.child.pid as number]];
    const t0 = performance.now();
    const start0 = groups.map((g) => g.map(sample));
    const f = fleet;
    const started = await fleet.profile(process.env.OSAPI_BENCH_START_PROFILE, () => f.start());
    // When half and nine tenths were Ready, from the word to start. GET
    // /agent is asked only once every fleet process has started its agents,
    // so these tell how far behind their starts the API's view of them came.
    const marks = new Map<string, number>();
    const ready = await waitReady(api, token, n, 180_000, (count) => {
      for (const [name, share] of [
        ['half', 0.5],
        ['nine tenths', 0.9],
      ] as const) {
        if (count >= n * share && !marks.has(name)) marks.set(name, performance.now() - t0);
      }
    });
    const readyMs = performance.now() - t0;
    const start1 = groups.map((g) => g.map(sample));
    if (ready < n) {
      throw new Error(
        `only ${ready} of ${n} agents became Ready (${started.failed} failed to start${started.firstError ? `: ${started.firstError}` : ''}; fleet warnings: ${fleet.sampleWarnings().join(' | ')})`,
      );
    }
    const apiCalls = (await jsz(server)).api.total - apiBefore;
    const startCpu = cpuSeconds(start0, start1);
    process.stderr.write(
      `  ${n}: all Ready after ${(readyMs / 1000).toFixed(1)} s (the fleet's start returned after ${(started.ms / 1000).toFixed(1)} s; ${[...marks].map(([k, v]) => `${k} after ${(v / 1000).toFixed(1)} s`).join(', ')}); CPU s to get there: nats-server ${startCpu[0]?.toFixed(1)}, fleet ${startCpu[1]?.toFixed(1)}, API ${startCpu[2]?.toFixed(1)}\n`,
    );

    await pause(SETTLE_MS);
    const [idle, fleetIdle, apiIdle] = await measureIdle(groups, IDLE_MS);
    const v = await varz(server);
    const j = await jsz(server);
    const fleetMem = await fleet.memory();

    const k = samplesFor(n);
    await timeHostname(api, token, () => '_all', n, 2); // warm-up
    const m0 = await messages([server]);
    const busy0 = groups.map((g) => g.map(sample));
    const all = await fleet.profile(process.env.OSAPI_BENCH_PROFILE, () =>
      timeHostname(api as Api, token, () => '_all', n, k),
    );
    const busy1 = groups.map((g) => g.map(sample));
    const m1 = await messages([server]);
    // CPU each part spent per `_all` job, in ms.
    const cpuPerAll = cpuSeconds(busy0, busy1).map((s) => (s * 1000) / k);
    const anatomy = await anatomyOf(api, token, all.lastJob);
    process.stderr.write(
      `  ${n}: _all p50 ${all.p50.toFixed(0)} ms; ${JSON.stringify(anatomy)}; CPU ms per job: ${cpuPerAll.map((x) => x.toFixed(0)).join(' / ')}\n`,
    );
    const label = await timeHostname(api, token, () => 'group:g3', n / 10, k);
    const m2 = await messages([server]);
    const any = await timeHostname(api, token, () => '_any', 1, 50);
    const m3 = await messages([server]);
    const host = await timeHostname(
      api,
      token,
      () => agentName(Math.floor(Math.random() * n)),
      1,
      50,
    );
    return {
      n,
      workers: fleet.workers.length,
      startMs: started.ms,
      readyMs,
      failedStarts: started.failed,
      all,
      label,
      any,
      host,
      server: {
        idle: idle as { cpu: number; rssMb: number },
        base: base as { cpu: number; rssMb: number },
      },
      fleet: {
        idle: fleetIdle as { cpu: number; rssMb: number },
        mem: fleetMem,
        base: fleetBase,
      },
      apiProc: {
        idle: apiIdle as { cpu: number; rssMb: number },
        base: apiBase as { cpu: number; rssMb: number },
      },
      connections: v.connections,
      subscriptions: v.subscriptions,
      consumers: j.consumers,
      apiCallsPerAgentAtStart: apiCalls / n,
      msgsPerAllJob: { in: (m1.in - m0.in) / k, out: (m1.out - m0.out) / k },
      cpuPerAllJob: {
        server: cpuPerAll[0] as number,
        fleet: cpuPerAll[1] as number,
        api: cpuPerAll[2] as number,
      },
      msgsPerAnyJob: { in: (m3.in - m2.in) / 50, out: (m3.out - m2.out) / 50 },
      warnings: fleet.warnings(),
      warningSamples: fleet.sampleWarnings(),
    };
  } finally {
    const t = performance.now();
    await fleet?.stop();
    if (api) await stopChild(api.child);
    await server.handle.stop(5_000);
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`  ${n}: stopped in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  }
}

// ---- the cluster run ------------------------------------------------------------------

/** One accepted job of the cluster run. */
interface ClusterJob {
  id: string;
  kind: 'query' | 'command';
  /** When it was sent, in ms from the kill (negative before it). */
  sentMs: number;
  /** A command's line in the runs file, written each time a host runs it. */
  tag?: string;
}

/** A group of the run's jobs, by when they were sent. */
interface JobGroup {
  label: string;
  count: number;
  /** Seconds from made to final, by the job's own timestamps. */
  p50: number;
  max: number;
  /** Over their timeout plus 15 s. */
  over: number;
}

export interface ClusterResult {
  n: number;
  readyMs: number;
  /** The settle's GET /job/{id} reads: how many, p50 and slowest (ms). */
  reads: { count: number; p50: number; max: number };
  /** Async requests sent in the 15 s from the kill: how many, their statuses, the slowest answer. */
  duringKill: { count: number; statuses: number[]; slowestMs: number };
  submitted: number;
  refused: number;
  final: Record<string, number>;
  notFinal: number;
  killedAfterMs: number;
  restartedAfterMs: number | null;
  /** From the kill until every stream and bucket had a leader on a live node again. */
  electionMs: number | null;
  settleMs: number;
  syncAnswers: { ok: number; failed: number; afterElection: number; afterElectionOk: number };
  /** Each synchronous `_all`: when it was sent (ms from the kill), what it answered. */
  syncLog: string[];
  groups: JobGroup[];
  /** Commands a host ran more than once (by the runs file). */
  ranTwice: number;
  commands: number;
  warningsBefore: number;
  warningsAfter: number;
  /** The fleet's log lines after the kill, by component and message. */
  afterByMessage: Array<[string, number]>;
  warningSamples: string[];
}

/** Added to each job's own timeout: every job must be final by then. */
const FINAL_GRACE_S = 15;
/** The hostname query's timeout and `command exec`'s default, in seconds. */
const TIMEOUT_S = { query: 10, command: 30 } as const;

const FINAL = new Set(['completed', 'failed', 'partial_failure']);
/** The cluster run's pace: an async job every JOB_EVERY_MS, a synchronous `_all` every SYNC_EVERY_MS. */
const JOB_EVERY_MS = 500;
const SYNC_EVERY_MS = 2_000;
/** `--restart-after S`: the killed node starts again S seconds after the kill. */
const RESTART_AFTER_S =
  option('restart-after') === undefined ? null : Number(option('restart-after'));
/**
 * `--broadcast-commands`: `_all` and the label run `command exec true` as
 * `_any` and one host do. On 2 cores that is more than the machine can run
 * (an `_all` spawns a process on each of 1,000 agents every 2 s), so by
 * default broadcasts are hostname queries, which spawn nothing.
 */
const BROADCAST_COMMANDS = process.argv.includes('--broadcast-commands');

/** When every stream of the surviving node's view has a leader that is not `gone` (ms), or null. */
async function electionOver(alive: Server, gone: string): Promise<boolean> {
  try {
    const r = await fetch(
      `http://127.0.0.1:${alive.monitor}/jsz?accounts=true&streams=true&leader-only=false`,
    );
    const j = (await r.json()) as {
      meta_cluster?: { leader?: string };
      account_details?: Array<{
        stream_detail?: Array<{ cluster?: { leader?: string } }>;
      }>;
    };
    if (!j.meta_cluster?.leader || j.meta_cluster.leader === gone) return false;
    const streams = (j.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    return (
      streams.length > 0 && streams.every((st) => st.cluster?.leader && st.cluster.leader !== gone)
    );
  } catch {
    return false;
  }
}

/**
 * The fleet on a 3-node cluster with every stream and bucket at R3. Jobs go
 * out for 40 s, one every 500 ms to `_all`, a label, `_any` and one host in
 * turn, and a synchronous `_all` hostname request every 2 s; the node the
 * fleet's first agents and the API are least likely to need is killed 15 s
 * in (and, with --restart-after, started again), and every job accepted must
 * then reach a final state within its timeout plus 15 s, no command run
 * twice on a host.
 */
async function runCluster(n: number): Promise<ClusterResult> {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-scale-cluster-'));
  const runsFile = join(dir, 'runs');
  const namespace = 'bench';
  const servers = await startCluster(dir);
  const urls = servers.map((s) => s.handle.url);
  let api: Api | undefined;
  let fleet: Fleet | undefined;
  try {
    // The layout needs JetStream's meta leader: wait until the cluster has one.
    const until = performance.now() + 60_000;
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${(servers[0] as Server).monitor}/jsz`);
      const j = (await r.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
      if (j.meta_cluster?.leader && j.meta_cluster.cluster_size === 3) break;
      if (performance.now() > until) throw new Error('the cluster elected no JetStream leader');
      await pause(500);
    }
    api = await startApi(urls, join(dir, 'state'), namespace, 3);
    const token = await signToken({ subject: 'bench', roles: ['admin'], signingKey: SIGNING_KEY });
    fleet = await startFleet(n, {
      natsServers: urls,
      namespace,
      stateDir: join(dir, 'state'),
      overrides: SETTINGS,
    });
    const t0 = performance.now();
    await fleet.start();
    const ready = await waitReady(api, token, n, 240_000);
    const readyMs = performance.now() - t0;
    if (ready < n) throw new Error(`only ${ready} of ${n} agents became Ready`);
    process.stderr.write(`  cluster ${n}: all Ready after ${(readyMs / 1000).toFixed(1)} s\n`);
    await pause(SETTLE_MS);

    const RUN_MS = 40_000;
    const KILL_AT_MS = 15_000;
    const jobs: ClusterJob[] = [];
    /** Every async request: when it was sent (ms from the kill), how long it took, its status. */
    const answers: Array<{ sentMs: number; ms: number; status: number }> = [];
    let refused = 0;
    const sync = { ok: 0, failed: 0, afterElection: 0, afterElectionOk: 0 };
    const syncLog: string[] = [];
    let killedAt = 0;
    let electionMs: number | null = null;
    let restartedAfterMs: number | null = null;
    let warningsBefore = 0;
    let afterByMessage = new Map<string, number>();
    const runStart = performance.now();
    let killed = false;
    let victim = servers[2] as Server;
    const watchers: Array<Promise<void>> = [];
    const kinds: Array<{ target: () => string; kind: ClusterJob['kind'] }> = [
      { target: () => '_all', kind: BROADCAST_COMMANDS ? 'command' : 'query' },
      { target: () => 'group:g3', kind: BROADCAST_COMMANDS ? 'command' : 'query' },
      { target: () => '_any', kind: 'command' },
      { target: () => agentName(Math.floor(Math.random() * n)), kind: 'command' },
    ];
    let i = 0;
    const submitter = (async () => {
      while (performance.now() - runStart < RUN_MS) {
        if (!killed && performance.now() - runStart > KILL_AT_MS) {
          killed = true;
          warningsBefore = fleet?.warnings() ?? 0;
          afterByMessage = fleet?.markWarnings() ?? afterByMessage;
          process.stderr.write(`  cluster ${n}: killing ${victim.name} at ${Date.now()}\n`);
          process.kill(victim.handle.pid, 'SIGKILL');
          killedAt = performance.now();
          const alive = servers[0] as Server;
          watchers.push(
            (async () => {
              while (performance.now() - killedAt < 120_000) {
                if (await electionOver(alive, victim.name)) {
                  electionMs = performance.now() - killedAt;
                  process.stderr.write(
                    `  cluster ${n}: every stream led again ${(electionMs / 1000).toFixed(1)} s after the kill\n`,
                  );
                  return;
                }
                await pause(250);
              }
            })(),
          );
          if (RESTART_AFTER_S !== null) {
            const gone = victim;
            watchers.push(
              (async () => {
                await pause(RESTART_AFTER_S * 1000);
                // Its old process must have let go of the port before the new one listens.
                await gone.handle.exited;
                victim = await gone.restart();
                servers[2] = victim;
                restartedAfterMs = performance.now() - killedAt;
                process.stderr.write(
                  `  cluster ${n}: ${victim.name} started again ${(restartedAfterMs / 1000).toFixed(1)} s after the kill\n`,
                );
              })(),
            );
          }
        }
        const k = kinds[i++ % kinds.length] as (typeof kinds)[number];
        const target = k.target();
        const tag =
          k.kind === 'command' && target !== '_all' && !target.includes(':')
            ? `run-${i}`
            : undefined;
        const sentMs = killed
          ? performance.now() - killedAt
          : performance.now() - runStart - KILL_AT_MS;
        const asked = performance.now();
        try {
          const r =
            k.kind === 'query'
              ? await call(api as Api, token, 'GET', `/node/${target}/hostname?async=true`)
              : await call(api as Api, token, 'POST', `/node/${target}/command/exec?async=true`, {
                  command: tag ? 'sh' : 'true',
                  ...(tag ? { args: ['-c', `echo ${tag} >> ${runsFile}`] } : {}),
                });
          // An async change answers 202, an async query 200: either carries the job.
          if ((r.status === 202 || r.status === 200) && r.body.job_id) {
            jobs.push({ id: r.body.job_id, kind: k.kind, sentMs, ...(tag ? { tag } : {}) });
          } else refused++;
          answers.push({ sentMs, ms: performance.now() - asked, status: r.status });
        } catch {
          refused++;
          answers.push({ sentMs, ms: performance.now() - asked, status: 0 });
        }
        await pause(JOB_EVERY_MS);
      }
    })();
    const syncer = (async () => {
      while (performance.now() - runStart < RUN_MS) {
        const sent = performance.now();
        const afterElection = electionMs !== null;
        const at = () =>
          killed
            ? `${((sent - killedAt) / 1000).toFixed(1)} s after the kill${afterElection ? ', after the election' : ''}`
            : 'before the kill';
        try {
          const r = await call(api as Api, token, 'GET', '/node/_all/hostname');
          const took = `${((performance.now() - sent) / 1000).toFixed(1)} s`;
          const results = (r.body.results ?? []) as Json[];
          // A query's host answers `completed` (or `failed`, `skipped`).
          const ok = results.filter((x) => x.status === 'completed').length;
          const all = r.status === 200 && results.length === n && ok === n;
          if (all) sync.ok++;
          else sync.failed++;
          if (afterElection) {
            sync.afterElection++;
            if (all) sync.afterElectionOk++;
          }
          const others = results
            .filter((x) => x.status !== 'completed')
            .slice(0, 2)
            .map((x) => `${x.hostname} ${x.status} ${String(x.error ?? '').slice(0, 80)}`);
          syncLog.push(
            `${at()}: ${r.status} in ${took}, ${results.length} hosts, ${ok} ok${others.length ? ` (${others.join('; ')})` : ''}${r.status !== 200 ? ` ${JSON.stringify(r.body).slice(0, 160)}` : ''}`,
          );
        } catch (err) {
          sync.failed++;
          if (afterElection) sync.afterElection++;
          syncLog.push(`${at()}: no answer (${String(err).slice(0, 100)})`);
        }
        await pause(SYNC_EVERY_MS);
      }
    })();
    await Promise.all([submitter, syncer]);
    await Promise.all(watchers);

    // Every accepted job must end: poll until none is left running, bounded.
    const settleStart = performance.now();
    const status = new Map<string, string>();
    const lastAnswer = new Map<string, string>();
    const toFinal = new Map<string, number>();
    const waitedOn = new Map<string, string>();
    /** How long each GET /job/{id} of the settle took (ms). */
    const reads: number[] = [];
    const open = () => jobs.filter((j) => !FINAL.has(status.get(j.id) ?? ''));
    while (open().length > 0 && performance.now() - settleStart < 300_000) {
      for (const { id } of open()) {
        const asked = performance.now();
        const r = await call(api, token, 'GET', `/job/${id}`).catch((err: unknown) => ({
          status: 0,
          body: { error: String(err) },
        }));
        reads.push(performance.now() - asked);
        if (r.status === 200) {
          status.set(id, r.body.status);
          const states = Object.entries(r.body.agent_states ?? {}) as Array<[string, Json]>;
          const waiting = states.filter(([, st]) => ['pending', 'running'].includes(st.status));
          const said = `${r.body.target_hostname} ${r.body.status}: ${waiting.length} hosts not done (${waiting
            .slice(0, 3)
            .map(([h, st]) => `${h} ${st.status}`)
            .join(', ')})`;
          lastAnswer.set(id, said);
          if (FINAL.has(r.body.status)) {
            toFinal.set(id, (Date.parse(r.body.updated_at) - Date.parse(r.body.created)) / 1000);
          } else waitedOn.set(id, said);
        } else lastAnswer.set(id, `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
      if (open().length > 0) await pause(2_000);
    }
    for (const { id } of open().slice(0, 8)) {
      process.stderr.write(`  not final: ${id} ${lastAnswer.get(id)}\n`);
    }
    const limitOf = (j: ClusterJob) => TIMEOUT_S[j.kind] + FINAL_GRACE_S;
    for (const j of jobs.filter((j) => (toFinal.get(j.id) ?? 0) > limitOf(j)).slice(0, 5)) {
      process.stderr.write(
        `  final ${(toFinal.get(j.id) ?? 0).toFixed(0)} s after it was made (${(j.sentMs / 1000).toFixed(1)} s from the kill): ${j.id} ${waitedOn.get(j.id) ?? ''}\n`,
      );
    }
    const groupOf = (label: string, of: ClusterJob[]): JobGroup => {
      const spans = of.map((j) => toFinal.get(j.id) ?? Number.NaN).sort((a, b) => a - b);
      return {
        label,
        count: of.length,
        p50: spans[Math.floor(spans.length / 2)] ?? 0,
        max: spans.at(-1) ?? 0,
        over: of.filter((j) => !((toFinal.get(j.id) ?? Number.POSITIVE_INFINITY) <= limitOf(j)))
          .length,
      };
    };
    const groups = [
      groupOf(
        'sent before the kill',
        jobs.filter((j) => j.sentMs < 0),
      ),
      groupOf(
        'sent in the 10 s after it',
        jobs.filter((j) => j.sentMs >= 0 && j.sentMs < 10_000),
      ),
      groupOf(
        'sent later',
        jobs.filter((j) => j.sentMs >= 10_000),
      ),
    ];
    // A tagged command ran once on its one host: twice is a line twice.
    const lines = readFileIfAny(runsFile).split('\n').filter(Boolean);
    const runs = new Map<string, number>();
    for (const l of lines) runs.set(l, (runs.get(l) ?? 0) + 1);
    const final: Record<string, number> = {};
    for (const { id } of jobs) {
      const s = status.get(id) ?? 'unknown';
      final[s] = (final[s] ?? 0) + 1;
    }
    reads.sort((a, b) => a - b);
    const during = answers.filter((a) => a.sentMs >= 0 && a.sentMs < 15_000);
    const slowest = during.sort((a, b) => b.ms - a.ms)[0];
    return {
      n,
      readyMs,
      reads: { count: reads.length, p50: quantile(reads, 0.5), max: reads.at(-1) ?? 0 },
      duringKill: {
        count: during.length,
        statuses: [...new Set(during.map((a) => a.status))].sort(),
        slowestMs: slowest?.ms ?? 0,
      },
      submitted: jobs.length,
      refused,
      final,
      notFinal: open().length,
      killedAfterMs: KILL_AT_MS,
      restartedAfterMs,
      electionMs,
      settleMs: performance.now() - settleStart,
      syncAnswers: sync,
      syncLog,
      groups,
      ranTwice: [...runs.values()].filter((c) => c > 1).length,
      commands: jobs.filter((j) => j.tag).length,
      warningsBefore,
      warningsAfter: fleet.warnings() - warningsBefore,
      afterByMessage: [...afterByMessage].sort((a, b) => b[1] - a[1]).slice(0, 8),
      warningSamples: fleet.sampleWarnings(),
    };
  } finally {
    await fleet?.stop();
    if (api) await stopChild(api.child);
    for (const s of servers) await s.handle.stop(5_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function readFileIfAny(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---- report ------------------------------------------------------------------------------

const f0 = (x: number) => x.toLocaleString('en', { maximumFractionDigits: 0 });
/** Megabytes shared among n agents, in KB each. */
const kb = (mb: number, n: number) => f0((mb * 1024) / n);
const f1 = (x: number) =>
  x.toLocaleString('en', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const lat = (l: Latency) =>
  `${f0(l.p50)} / ${f0(l.p95)} ms${l.wrong ? ` (**${l.wrong} of ${l.samples} incomplete**)` : ''}`;

function scaleLines(results: ScaleResult[], command: string, version: string): string[] {
  const perProcess = results.map((r) => f0(r.n / r.workers)).join(' / ');
  return [
    '# Benchmark results: scale (many agents)',
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, nats-server ${version} (one server, file storage, the default layout), ${cpus().length} cores shared with other work. The simulated agents run ${perProcess} to a process in ${WORKERS} fleet processes (bench/scale/fleet.ts), each started as \`osapi agent start\` starts one, with its own NATS connection, hostname and label \`group: g<i mod 10>.r<i mod 3>\`; the API server is \`bin/osapi api server start\` in its own process. Requests go one at a time (${results.map((r) => r.all.samples).join(' / ')} of each broadcast, 50 of \`_any\` and of one host). "All Ready" runs from telling the whole fleet to start at once until \`GET /agent\` shows every agent Ready. Idle figures are over ${IDLE_MS / 1000} s, ${SETTLE_MS / 1000} s after the fleet was Ready. Baselines from the same run: the server and the API idle before any agent started, and the fleet processes loaded but with no agent (memory after a full collection).`,
    '',
    '| agents | all Ready | `_all` p50 / p95 | label (a tenth) p50 / p95 | `_any` p50 / p95 | one host p50 / p95 |',
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${f0(r.n)} | ${f1(r.readyMs / 1000)} s | ${lat(r.all)} | ${lat(r.label)} | ${lat(r.any)} | ${lat(r.host)} |`,
    ),
    '',
    '| agents | nats-server RSS idle (per agent over baseline) | nats-server CPU idle (baseline) | fleet heap / RSS per agent | fleet CPU idle | API RSS / CPU idle (baseline) |',
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${f0(r.n)} | ${f0(r.server.idle.rssMb)} MB (${kb(r.server.idle.rssMb - r.server.base.rssMb, r.n)} KB) | ${f1(r.server.idle.cpu)}% (${f1(r.server.base.cpu)}%) | ${kb(r.fleet.mem.heapMb - r.fleet.base.heapMb, r.n)} KB / ${rssPerAgent(r.fleet.mem.rssMb - r.fleet.base.rssMb, r.n)} | ${f1(r.fleet.idle.cpu)}% | ${f0(r.apiProc.idle.rssMb)} MB / ${f1(r.apiProc.idle.cpu)}% (${f0(r.apiProc.base.rssMb)} MB / ${f1(r.apiProc.base.cpu)}%) |`,
    ),
    '',
    '| agents | connections | subscriptions | consumers | JetStream API requests per agent to start | messages per `_all` job in / out (per agent) | per `_any` job in / out | CPU per `_all` job: nats-server / fleet / API |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${f0(r.n)} | ${f0(r.connections)} | ${f0(r.subscriptions)} | ${f0(r.consumers)} | ${f1(r.apiCallsPerAgentAtStart)} | ${f0(r.msgsPerAllJob.in)} / ${f0(r.msgsPerAllJob.out)} (${f1(r.msgsPerAllJob.in / r.n)} / ${f1(r.msgsPerAllJob.out / r.n)}) | ${f0(r.msgsPerAnyJob.in)} / ${f0(r.msgsPerAnyJob.out)} | ${f0(r.cpuPerAllJob.server)} / ${f0(r.cpuPerAllJob.fleet)} / ${f0(r.cpuPerAllJob.api)} ms |`,
    ),
    '',
    `CPU is in % of one core, or in ms of CPU time. A fleet RSS per agent shown as "within noise" grew less than the processes' RSS varies between two measurements. Warnings logged by the fleet: ${results.map((r) => `${f0(r.warnings)} at ${f0(r.n)}`).join(', ')}.`,
  ];
}

/** A fleet's RSS growth per agent, or "within noise" when the processes' RSS went down meanwhile. */
function rssPerAgent(growthMb: number, n: number): string {
  return growthMb > 0 ? `${kb(growthMb, n)} KB` : 'within noise';
}

function clusterLines(r: ClusterResult, command: string, version: string): string[] {
  const final = Object.entries(r.final)
    .map(([s, k]) => `${k} ${s}`)
    .join(', ');
  const broadcasts = BROADCAST_COMMANDS
    ? '`command exec true` to `_all` and `group:g3`'
    : '`GET /node/{target}/hostname` to `_all` and `group:g3`';
  const restart =
    r.restartedAfterMs === null
      ? 'stays down'
      : `starts again ${f1(r.restartedAfterMs / 1000)} s after the kill`;
  const s = (ms: number | null) => (ms === null ? 'not seen' : `${f1(ms / 1000)} s`);
  return [
    `# Benchmark results: scale on a 3-node cluster, one node killed${r.restartedAfterMs === null ? '' : ' and started again'}`,
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, nats-server ${version}, ${cpus().length} cores. Three nats-servers routed on local ports (bench/scale/main.ts starts them), the jobs stream and every bucket at R3; ${f0(r.n)} agents and the API connect with all three URLs. For 40 s an async job goes out every ${JOB_EVERY_MS} ms, in turn: ${broadcasts}, and \`command exec\` to \`_any\` and to one host (a shell appending the job's tag to a file, so a second run would show); and a synchronous \`GET /node/_all/hostname\` every ${SYNC_EVERY_MS / 1000} s. ${r.killedAfterMs / 1000} s in, node n3 is killed (SIGKILL) and ${restart}. Then every accepted job is read back until it is final. Each job must be final within its timeout (${TIMEOUT_S.query} s for the query, ${TIMEOUT_S.command} s for the command) plus ${FINAL_GRACE_S} s, by its own timestamps.`,
    '',
    '| measure | result |',
    '|---|---|',
    `| agents Ready after start | ${f1(r.readyMs / 1000)} s |`,
    `| every stream and bucket led by a live node again | ${s(r.electionMs)} after the kill |`,
    `| jobs accepted / refused by the API | ${f0(r.submitted)} / ${f0(r.refused)} |`,
    `| accepted jobs final | ${final} (${r.notFinal === 0 ? 'all final' : `**${r.notFinal} not final**`} ${f0(r.settleMs / 1000)} s after the last was sent) |`,
    ...r.groups.map(
      (g) =>
        `| jobs ${g.label}: made to final p50 / max; over their timeout + ${FINAL_GRACE_S} s | ${g.count ? `${f1(g.p50)} / ${f1(g.max)} s; ${g.over}` : 'none'} |`,
    ),
    `| commands to \`_any\` or one host run twice | ${r.ranTwice} of ${r.commands} |`,
    `| async requests sent in the 15 s from the kill: answered with; slowest answer | ${r.duringKill.count}: ${r.duringKill.statuses.join(', ')}; ${f1(r.duringKill.slowestMs / 1000)} s |`,
    `| reading the jobs back (\`GET /job/{id}\`, ${r.reads.count} reads): p50 / slowest | ${f0(r.reads.p50)} ms / ${f1(r.reads.max / 1000)} s |`,
    `| synchronous \`_all\` answering every agent ok / all; after the election | ${r.syncAnswers.ok} / ${r.syncAnswers.ok + r.syncAnswers.failed}; ${r.syncAnswers.afterElectionOk} / ${r.syncAnswers.afterElection} |`,
    `| lines logged by the fleet (warnings and errors) before / after the kill | ${f0(r.warningsBefore)} / ${f0(r.warningsAfter)} |`,
    '',
    "The fleet's lines after the kill, by component and message (most first):",
    '',
    ...r.afterByMessage.map(([m, c]) => `- ${f0(c)} × ${m}`),
    '',
    'Each synchronous `GET /node/_all/hostname`:',
    '',
    ...r.syncLog.map((l) => `- ${l}`),
  ];
}

// ---- main ---------------------------------------------------------------------------------

const command = `npm run bench:scale${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
// `--no-build`: dist/ is current already (a test run beside others that use it).
if (!process.argv.includes('--no-build')) {
  process.stderr.write('building dist/ for bin/osapi\n');
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
const version = execFileSync('nats-server', ['--version'])
  .toString()
  .trim()
  .replace(/^nats-server: v/, '');

if (CLUSTER) {
  for (const n of SIZES) {
    process.stderr.write(`cluster run with ${n} agents\n`);
    const r = await runCluster(n);
    const lines = clusterLines(r, command, version);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (r.warningSamples.length)
      process.stderr.write(`fleet warnings, first few:\n${r.warningSamples.join('\n')}\n`);
    if (WRITE) {
      writeSection(RESTART_AFTER_S === null ? 'scale-cluster' : 'scale-cluster-restart', lines);
    }
    // `--json FILE`: the figures for a test to check (test/faults/cluster-scale.test.ts).
    const json = option('json');
    if (json) writeFileSync(json, JSON.stringify(r));
  }
} else {
  const results: ScaleResult[] = [];
  for (const n of SIZES) {
    process.stderr.write(`${n} agents\n`);
    const r = await runScale(n);
    results.push(r);
    if (r.warningSamples.length)
      process.stderr.write(`fleet warnings, first few:\n${r.warningSamples.join('\n')}\n`);
  }
  const lines = scaleLines(results, command, version);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (WRITE) writeSection('scale', lines);
}
