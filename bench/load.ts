// Load benchmark: 1,000 hostname queries, then 1,000 command requests, sent at once over 20
// agents, each agent its own `osapi agent start` process, the API server its
// own `osapi api server start` process, one nats-server with file storage,
// all on loopback. Every answer is checked (the right host, the right output),
// and latency and the processes' peak memory are reported, as ratios against
// the same fleet idle in the same run.
//
//   npm run bench:load                  # writes its section of bench/RESULTS.md
//   npm run bench:load -- --no-write     # prints it only
//   npm run bench:load -- --profile DIR  # also profiles the API server (--cpu-prof) and prints its top frames
//   npm run bench:load -- --node-spawn   # agents start commands with Node's spawn (agent.direct_spawn false)
//
// Bounded: 1,000 requests per round, three rounds, and a hard stop after 5 minutes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startNatsServer } from '../src/nats/server.js';
import { type AnyJson, Fleet, killLeftovers } from '../test/faults/fleet.js';
import { silentLogger } from '../test/support/nats.js';
import { writeSection } from './results.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * The functions that took the most CPU in the newest profile in `dir`, by
 * self time, with their share of all samples: where the API server's time
 * per request goes.
 */
function topFrames(dir: string, n = 25): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) return `bench:load: no profile in ${dir}\n`;
  const profile = JSON.parse(readFileSync(files[0], 'utf8')) as {
    nodes: Array<{
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
    }>;
    samples: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const where = f.url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\/.*?\/(src|dist)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const rows = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => `  ${((100 * c) / total).toFixed(1).padStart(5)}%  ${k}`);
  return `bench:load: the API server's top frames by self time (${files[0]}):\n${rows.join('\n')}\n`;
}

const AGENTS = 20;
const REQUESTS = 1000;
const TARGET_P99_MS = 2000;
const HARD_STOP_MS = 5 * 60_000;

const hardStop = setTimeout(() => {
  process.stderr.write('bench:load: still running after 5 minutes; stopping everything.\n');
  void killLeftovers().finally(() => process.exit(1));
}, HARD_STOP_MS);
hardStop.unref();

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`);
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

/** A process's resident set now, and its peak so far (kernel's VmHWM), in kB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** CPU time a process has used so far (user + system), in ms. */
type FleetCpu = Record<'api' | 'nats' | 'agents', number>;

/** Each part's CPU per call between two readings of the fleet's CPU, in ms. */
function cpuPer(from: FleetCpu, to: FleetCpu, calls: number) {
  return (k: keyof FleetCpu) => (to[k] - from[k]) / calls;
}

/** What each round's row is called in the table. */
const ROUND_LABELS: Record<string, string> = {
  hostname: `\`GET /node/{host}/hostname\` (${REQUESTS / AGENTS} per agent)`,
  host: `command by host name (${REQUESTS / AGENTS} per agent)`,
  any: 'command to `_any`',
  'hostname again': '`GET /node/{host}/hostname` again, on kept-alive connections',
};

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function median(xs: number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

interface Round {
  name: string;
  latencies: number[];
  errors: string[];
  wallMs: number;
}

/** Sends `REQUESTS` hostname queries at once, by host name; checks each answer is that host's. */
async function hostnameRound(fleet: Fleet, hosts: string[]): Promise<Round> {
  const errors: string[] = [];
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const host = hosts[i % hosts.length] as string;
      const start = performance.now();
      const r = await fleet.request('GET', `/node/${host}/hostname`);
      latencies.push(performance.now() - start);
      const result = r.body?.results?.[0] as AnyJson;
      const problem =
        r.status !== 200
          ? `HTTP ${r.status}: ${r.error ?? JSON.stringify(r.body).slice(0, 200)}`
          : r.body.results.length !== 1
            ? `${r.body.results.length} results`
            : result.status !== 'completed' || result.hostname !== host
              ? `${result.status} from ${result.hostname}: ${result.error ?? ''}`
              : null;
      if (problem) errors.push(`request ${i}: ${problem}`);
    }),
  );
  return { name: 'hostname', latencies, errors, wallMs: performance.now() - t0 };
}

/** Sends `REQUESTS` exec requests at once; checks each answer names the right host and output. */
async function round(
  fleet: Fleet,
  name: string,
  target: (i: number) => string | null,
  hosts: string[],
): Promise<Round> {
  const errors: string[] = [];
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const word = `load-${name}-${i}`;
      const host = target(i);
      const start = performance.now();
      const r = await fleet.request('POST', `/node/${host ?? '_any'}/command/exec`, {
        command: 'echo',
        args: [word],
        timeout: 60,
      });
      latencies.push(performance.now() - start);
      const result = r.body?.results?.[0] as AnyJson;
      const problem =
        r.status !== 202
          ? `HTTP ${r.status}: ${r.error ?? JSON.stringify(r.body).slice(0, 200)}`
          : r.body.results.length !== 1
            ? `${r.body.results.length} results`
            : host !== null && result.hostname !== host
              ? `answered by ${result.hostname}, not ${host}`
              : !hosts.includes(result.hostname)
                ? `answered by unknown ${result.hostname}`
                : result.status !== 'completed' || result.exit_code !== 0
                  ? `${result.status}, exit ${result.exit_code}: ${result.error ?? ''}`
                  : result.stdout !== `${word}\n`
                    ? `stdout ${JSON.stringify(result.stdout)}`
                    : null;
      if (problem) errors.push(`request ${i}: ${problem}`);
    }),
  );
  return { name, latencies, errors, wallMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const hosts = Array.from({ length: AGENTS }, (_, i) => `load-${String(i + 1).padStart(2, '0')}`);
  const storeDir = join((await import('node:os')).tmpdir(), `osapi-load-${process.pid}`);
  const nats = await startNatsServer({
    host: '127.0.0.1',
    port: 0,
    storeDir,
    logger: silentLogger,
  });
  const fleet = new Fleet({
    natsUrls: () => [nats.url],
    // As the npm package's unit runs them (bin/osapi-agent).
    liteAgents: true,
    // The shipped defaults, not the fault suite's short timers.
    config: {
      'nats.registry.ttl': '30s',
      'agent.consumer': { ack_wait: '2m' },
      ...(process.argv.includes('--node-spawn') ? { 'agent.direct_spawn': false } : {}),
    },
  });
  try {
    process.stderr.write(`bench:load: starting the API server and ${AGENTS} agents\n`);
    // `--profile DIR`: the API server writes a CPU profile there when it stops; its top frames are printed.
    const profileDir = option('profile');
    await fleet.startApi(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : []);
    // A few at a time: twenty Node processes starting together on two cores
    // would only measure the scheduler.
    for (let i = 0; i < hosts.length; i += 5) {
      await Promise.all(hosts.slice(i, i + 5).map((h) => fleet.startAgent(h)));
    }
    await fleet.waitForAgents(hosts, 60_000);
    const pids = () => ({
      api: fleet.api?.pid ?? 0,
      agents: [...fleet.agents.values()].map((a) => a.pid),
    });

    // Baseline: one request at a time, on the same fleet, after a warm-up.
    for (let i = 0; i < 40; i++) {
      await fleet.request('POST', `/node/${hosts[i % AGENTS]}/command/exec`, {
        command: 'echo',
        args: ['warm'],
      });
    }
    const idleLatencies: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      const r = await fleet.request('POST', `/node/${hosts[i % AGENTS]}/command/exec`, {
        command: 'echo',
        args: ['idle'],
      });
      if (r.status !== 202) throw new Error(`idle request failed: HTTP ${r.status}`);
      idleLatencies.push(performance.now() - t);
    }
    const idle = median(idleLatencies);
    const p = pids();
    const fleetCpu = () => ({
      api: cpuMs(p.api),
      nats: cpuMs(nats.pid),
      agents: p.agents.reduce((sum, pid) => sum + cpuMs(pid), 0),
    });
    const cpuBefore = fleetCpu();
    const loadBefore = loadavg()[0] ?? 0;
    const idleMem = {
      api: memory(p.api).rss,
      agents: median(p.agents.map((pid) => memory(pid).rss)),
      nats: memory(nats.pid).rss,
    };

    process.stderr.write(`bench:load: ${REQUESTS} hostname queries at once, by host name\n`);
    const byName = await hostnameRound(fleet, hosts);
    const cpuBetween = fleetCpu();
    process.stderr.write(`bench:load: ${REQUESTS} requests at once, by host name\n`);
    const byHost = await round(fleet, 'host', (i) => hosts[i % AGENTS] ?? null, hosts);
    process.stderr.write(`bench:load: ${REQUESTS} requests at once, to _any\n`);
    const toAny = await round(fleet, 'any', () => null, hosts);

    const cpuAfter = fleetCpu();
    // Again, over the connections the client keeps alive from the rounds
    // before: the first round also opens 1,000 connections to a server that
    // had run none of its code concurrently.
    process.stderr.write(`bench:load: ${REQUESTS} hostname queries at once again\n`);
    const byNameAgain = { ...(await hostnameRound(fleet, hosts)), name: 'hostname again' };
    const cpuAgain = fleetCpu();
    const perQueryAgain = cpuPer(cpuAfter, cpuAgain, REQUESTS);
    const perRequest = cpuPer(cpuBetween, cpuAfter, 2 * REQUESTS);
    const cpuPerRequest = perRequest('api') + perRequest('nats') + perRequest('agents');
    const perQuery = cpuPer(cpuBefore, cpuBetween, REQUESTS);
    const controlPlane = perRequest('api') + perRequest('nats');
    const loadAfter = loadavg()[0] ?? 0;
    const peak = {
      api: memory(p.api).peak,
      agents: p.agents.map((pid) => memory(pid).peak),
      nats: memory(nats.pid).peak,
    };
    const rows = [byName, byHost, toAny, byNameAgain].map((r) => {
      const s = [...r.latencies].sort((a, b) => a - b);
      const q = { p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99) };
      return { r, q, met: q.p99 < TARGET_P99_MS && r.errors.length === 0 };
    });
    for (const { r } of rows) {
      for (const e of r.errors.slice(0, 10)) process.stderr.write(`bench:load: ${r.name}: ${e}\n`);
    }

    const natsVersion = (await import('node:child_process'))
      .execFileSync('nats-server', ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^nats-server: v/, '');
    const when = new Date().toISOString().slice(0, 10);
    const lines = [
      '# Benchmark results: load, 1,000 concurrent requests over 20 agents',
      '',
      `Made by \`npm run bench:load\` on ${when}, Node ${process.version}, nats-server ${natsVersion}, ${(await import('node:os')).availableParallelism()} cores, all on loopback. The API server (\`bin/osapi\`) and each of the ${AGENTS} agents (\`bin/osapi-agent\`, lite mode) run as their own process, against one nats-server with file storage; shipped defaults (max_jobs 10 per agent, so at most ${AGENTS * 10} commands run at once). The first round sends ${REQUESTS} \`GET /node/{host}/hostname\` at once (no process spawned) and checks each answer is that host's. The command rounds send ${REQUESTS} \`POST /node/{target}/command/exec\` (\`echo <unique word>\`) at once and check every answer: HTTP 202, one result, from the right host, exit 0, and the word as its output. The hostname round is sent again after them, over the HTTP connections the client kept alive: the first round also opens ${REQUESTS} connections, and runs the API server's code under load for the first time. Ratios are against the same fleet answering one command at a time in the same run (median of 100, after 40 warm-up requests).`,
      '',
      '| round | answered correctly | p50 | p95 | p99 | max | all answered after | p99 ratio to one at a time | target: p99 < 2 s, no error |',
      '|---|---|---|---|---|---|---|---|---|',
      `| one request at a time (baseline) | 100 / 100 | ${ms(idle)} | ${ms(
        quantile(
          [...idleLatencies].sort((a, b) => a - b),
          0.95,
        ),
      )} | ${ms(
        quantile(
          [...idleLatencies].sort((a, b) => a - b),
          0.99,
        ),
      )} | | | 1× | |`,
      ...rows.map(
        ({ r, q, met }) =>
          `| ${REQUESTS} at once, ${ROUND_LABELS[r.name] ?? r.name} | ${REQUESTS - r.errors.length} / ${REQUESTS} | ${ms(q.p50)} | ${ms(q.p95)} | ${ms(q.p99)} | ${ms(Math.max(...r.latencies))} | ${ms(r.wallMs)} | ${(q.p99 / idle).toFixed(0)}× | ${met ? 'met' : 'missed'} |`,
      ),
      '',
      `CPU per hostname query (user + system): API server ${perQuery('api').toFixed(2)} ms, nats-server ${perQuery('nats').toFixed(2)} ms, agents ${perQuery('agents').toFixed(2)} ms; sent again at the end: ${perQueryAgain('api').toFixed(2)}, ${perQueryAgain('nats').toFixed(2)} and ${perQueryAgain('agents').toFixed(2)} ms.`,
      '',
      `Control plane per command (API server + nats-server, the agents apart): ${controlPlane.toFixed(2)} ms (target ≤ 1.0 ms). CPU used by the fleet (API server, nats-server and the agents, user + system) over both command rounds: ${cpuPerRequest.toFixed(1)} ms per request (API server ${perRequest('api').toFixed(1)} ms, agents ${perRequest('agents').toFixed(1)} ms, nats-server ${perRequest('nats').toFixed(1)} ms), so two cores alone could answer at most about ${Math.floor(2000 / cpuPerRequest)} requests/s, and 1,000 at once could not all be answered in under ${((REQUESTS * cpuPerRequest) / 2000).toFixed(1)} s. The machine was shared: its 1-minute load average was ${loadBefore.toFixed(1)} before the rounds and ${loadAfter.toFixed(1)} after.`,
      '',
      '| process | idle RSS | peak RSS (VmHWM) over the run | peak / idle |',
      '|---|---|---|---|',
      `| API server | ${mb(idleMem.api)} | ${mb(peak.api)} | ${(peak.api / idleMem.api).toFixed(2)}× |`,
      `| agent (median of ${AGENTS}) | ${mb(idleMem.agents)} | ${mb(median(peak.agents))} | ${(median(peak.agents) / idleMem.agents).toFixed(2)}× |`,
      `| agent (highest of ${AGENTS}) | | ${mb(Math.max(...peak.agents))} | |`,
      `| nats-server | ${mb(idleMem.nats)} | ${mb(peak.nats)} | ${(peak.nats / idleMem.nats).toFixed(2)}× |`,
    ];
    if (!process.argv.includes('--no-write')) writeSection('load', lines);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!rows.every((x) => x.met)) process.exitCode = 1;
  } finally {
    await fleet.stop();
    await nats.stop(2000);
    const profileDir = option('profile');
    if (profileDir) process.stderr.write(topFrames(profileDir));
    (await import('node:fs')).rmSync(storeDir, { recursive: true, force: true });
  }
}

await main().catch(async (err: unknown) => {
  process.stderr.write(`bench:load: ${err instanceof Error ? err.message : String(err)}\n`);
  await killLeftovers();
  process.exitCode = 1;
});
clearTimeout(hardStop);
