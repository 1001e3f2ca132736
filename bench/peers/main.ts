// Peers, side by side in one run: `true` and `hostname` on N = 1, 10 and 50
// hosts with OSAPI's `_all` (a warm SDK call and a cold CLI invocation) and
// with pdsh, clush and Ansible ad-hoc over ssh to loopback hosts, each with
// cold ssh connections and with ControlMaster-warm ones. Medians and ratios
// from the same run, a section of bench/RESULTS.md and an SVG chart.
//
//   npm run bench:peers
//
// Our N hosts are N agent processes with their own hostnames against one API
// and nats-server; the peers' N hosts are 127.0.0.1..N served by a local sshd
// on a free port (see ssh.ts). Installs its Debian packages when missing.
// Loopback only; every loop is bounded in count and the whole run in time.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { startTestSystem, type TestSystem } from '../../test/support/system.js';
import { envWithoutOsapi, median, ROOT, startAgentChildren, stopChild } from '../fleet.js';
import { writeSection } from '../results.js';
import { latencyChart, type Series } from './chart.js';
import { ensurePackages, type SshFleet, startSshFleet } from './ssh.js';
import {
  type Command,
  floorVariant,
  ourVariants,
  peerVariants,
  runTool,
  type Variant,
} from './tools.js';

const NS = [1, 10, 50] as const;
const COMMANDS: Command[] = ['true', 'hostname'];
/** Rounds over every variant, interleaved so that drift in the machine's load touches all alike. */
const ROUNDS = 5;
/** Ansible takes seconds per run at N = 50: fewer rounds keep the run bounded. */
const SLOW_ROUNDS = 3;
/** The SDK call is cheap: several per round give its median more samples. */
const SDK_PER_ROUND = 4;
/** Every cell gets at least this many samples, whatever the time. */
const MIN_ROUNDS = 3;
/** Past this, no round beyond MIN_ROUNDS starts. */
const BUDGET_MS = 10 * 60_000;
const CHART_PATH = join(import.meta.dirname, 'latency.svg');
/** The SDK call's target: at most this many times the floor at N = 50. */
const FLOOR_CEILING = 1.3;

const say = (line: string) => process.stderr.write(`bench:peers: ${line}\n`);
const fmt = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`;

function version(cmd: string, args: string[], re: RegExp, env = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '?';
}

const hostName = (i: number) => `peer-${String(i + 1).padStart(3, '0')}`;

type Samples = Map<string, number[]>;
const key = (variant: string, command: Command, n: number) => `${variant}|${command}|${n}`;
const STARTUP = 'cli-startup';
/** The 1-minute load average after each round: other work on the machine shows in every figure. */
const LOAD = 'load';

async function timeRun(v: Variant, n: number, command: Command, into: Samples): Promise<void> {
  const t = performance.now();
  await v.run(n, command);
  const ms = performance.now() - t;
  const k = key(v.id, command, n);
  into.set(k, [...(into.get(k) ?? []), ms]);
}

async function measure(
  sys: TestSystem,
  fleet: SshFleet,
  variants: Variant[],
  agents: ChildProcess[],
  started: number,
): Promise<Samples> {
  const samples: Samples = new Map();
  for (const n of NS) {
    say(`N = ${n}: starting agents and ssh masters`);
    const names = Array.from({ length: n }, (_, i) => hostName(i));
    await startAgentChildren(sys, names.slice(agents.length), agents);
    await sys.waitForAgents(names);
    await fleet.openMasters(fleet.hosts(n));
    // Warm-ups, not timed: the SDK's keep-alive connection, and at N = 1 each
    // tool once (page cache, Python byte code), so no first run pays for them.
    for (const v of variants) {
      if (v.id === 'osapi-sdk' || n === 1) for (const c of COMMANDS) await v.run(n, c);
    }
    for (let round = 0; round < ROUNDS; round++) {
      if (round >= MIN_ROUNDS && Date.now() - started > BUDGET_MS) {
        say(`time budget spent: N = ${n} stops after ${round} rounds`);
        break;
      }
      // Each round starts with another variant, so none always follows the same one.
      const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
      for (const command of COMMANDS) {
        for (const v of order) {
          if (v.id.startsWith('ansible') && round >= SLOW_ROUNDS) continue;
          const times = v.id === 'osapi-sdk' ? SDK_PER_ROUND : 1;
          for (let i = 0; i < times; i++) await timeRun(v, n, command, samples);
        }
      }
      // What a CLI invocation costs before it sends anything: Node and the CLI's modules.
      const t = performance.now();
      const r = await runTool(join(ROOT, 'bin/osapi'), ['--version'], envWithoutOsapi());
      if (r.code !== 0) throw new Error(`bin/osapi --version exited ${r.code}: ${r.stderr}`);
      samples.set(STARTUP, [...(samples.get(STARTUP) ?? []), performance.now() - t]);
      samples.set(LOAD, [...(samples.get(LOAD) ?? []), loadavg()[0] ?? Number.NaN]);
      say(`N = ${n}: round ${round + 1} done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
  return samples;
}

const COLORS: Record<string, string> = {
  'osapi-sdk': '#0a7d32',
  'osapi-cli': '#1f9e89',
  pdsh: '#d62728',
  clush: '#9467bd',
  ansible: '#ff7f0e',
  floor: '#555555',
};

function report(
  samples: Samples,
  variants: Variant[],
  versions: Record<string, string>,
  nats: string,
) {
  const med = (id: string, c: Command, n: number) => median(samples.get(key(id, c, n)) ?? []);
  const count = (id: string, c: Command, n: number) => (samples.get(key(id, c, n)) ?? []).length;
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const load = samples.get(LOAD) ?? [Number.NaN];
  out('# Benchmark results: OSAPI and its peers, side by side');
  out();
  out(
    `Made by \`npm run bench:peers\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, nats-server ${nats}, ${cpus().length} cores, one machine. Peers: OpenSSH ${versions.ssh}, pdsh ${versions.pdsh}, clush ${versions.clush}, ansible-core ${versions.ansible}. Every figure is a median of the runs in this one run (in brackets: how many), interleaved round by round; ratios are the peer's median over ours. The 1-minute load average, read after each round, went from ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} (on ${cpus().length} cores: above that, other work on the machine competed with every tool alike and lengthened every figure).`,
  );
  out();
  out(
    `**Ours**: N agents (separate \`bin/osapi-agent\` processes with their own hostnames) against one API server and one nats-server. "SDK call (warm)" is \`OsapiClient.commandExec('_all', …)\` from a process that has called before; "CLI invocation (cold)" is a fresh \`bin/osapi client node command exec --command … -T _all -y -j\` process each time, Node start-up included. **Peers**: hosts 127.0.0.1..N served by a local sshd on a high port (a throwaway key, one sshd per 16 addresses), as the current user; fan-out / forks = N for every tool; \`pdsh -R ssh -S\`, \`clush -S\`, \`ansible all -m command -a … -o\` with pipelining on and no interpreter discovery. "cold ssh" opens a new connection per host per run (\`ControlMaster no\`); "warm ssh" goes through a ControlMaster opened beforehand (\`ControlPersist\`). The remote login shell gets a HOME in the temp dir, so a heavy \`~/.bashrc\` on the machine does not slow the peers down. All runs check their answers (N results, exit code 0, the hostname printed).`,
  );
  const startup = samples.get(STARTUP) ?? [];
  out();
  out(
    `Of a CLI invocation's time, ${fmt(median(startup))} (median of ${startup.length}) is Node's start-up and the loading of the CLI's modules alone: \`bin/osapi --version\`, timed in the same rounds.`,
  );
  for (const c of COMMANDS) {
    out();
    out(`## \`${c}\` on N hosts: median latency (ratio to our SDK call / to our CLI)`);
    out();
    out(`| tool | ${NS.map((n) => `N = ${n}`).join(' | ')} |`);
    out(`|---|${NS.map(() => '---').join('|')}|`);
    for (const v of variants) {
      const cells = NS.map((n) => {
        const m = med(v.id, c, n);
        const base = `${fmt(m)} (${count(v.id, c, n)})`;
        if (v.id === 'osapi-sdk') return base;
        const vsSdk = ratio(m, med('osapi-sdk', c, n));
        if (v.id === 'osapi-cli') return `${base}: ${vsSdk} / 1×`;
        return `${base}: ${vsSdk} / ${ratio(m, med('osapi-cli', c, n))}`;
      });
      out(`| ${v.label} | ${cells.join(' | ')} |`);
    }
  }
  out();
  out('## Targets at N = 50 (benchmarks, not tests)');
  out();
  out('| target | ours | `true`: ours / peer | ratio | `hostname`: ours / peer | ratio | met |');
  out('|---|---|---|---|---|---|---|');
  const target = (what: string, ours: string, peer: string, atLeast: number) => {
    const cells: string[] = [];
    let met = true;
    for (const c of COMMANDS) {
      const o = med(ours, c, 50);
      const p = med(peer, c, 50);
      cells.push(`${fmt(o)} / ${fmt(p)}`, ratio(p, o));
      met &&= p / o >= atLeast;
    }
    const label = variants.find((v) => v.id === ours)?.label ?? ours;
    out(`| ${what} | ${label} | ${cells.join(' | ')} | ${met ? 'yes' : '**no**'} |`);
  };
  for (const ours of ['osapi-sdk', 'osapi-cli']) {
    target('≥ 5× faster than pdsh, cold ssh', ours, 'pdsh-cold', 5);
    target('faster than pdsh, warm ssh', ours, 'pdsh-warm', 1);
    target('≥ 20× faster than Ansible ad-hoc, cold ssh', ours, 'ansible-cold', 20);
    target('≥ 20× faster than Ansible ad-hoc, warm ssh', ours, 'ansible-warm', 20);
  }
  // Ours over the floor, not the floor over ours: the target is a ceiling.
  const cells: string[] = [];
  let withinFloor = true;
  for (const c of COMMANDS) {
    const o = med('osapi-sdk', c, 50);
    const f = med('floor', c, 50);
    cells.push(`${fmt(o)} / ${fmt(f)}`, `${(o / f).toFixed(1)}× the floor`);
    withinFloor &&= o / f <= FLOOR_CEILING;
  }
  out(
    `| within ${FLOOR_CEILING}× of 50 bare spawns at once | OSAPI \`_all\`, SDK call (warm) | ${cells.join(' | ')} | ${withinFloor ? 'yes' : '**no**'} |`,
  );
  out();
  out(
    'The floor is the command itself as N processes spawned at once from a Node process, nothing sent anywhere: what any tool that starts a process per host pays on one machine.',
  );
  out();
  out('![median latency against N, log scales](peers/latency.svg)');

  const series = (c: Command): Series[] =>
    variants.map((v) => ({
      label: v.label,
      style: v.ours ? 'ours' : (v.ssh ?? 'cold'),
      color: COLORS[v.id] ?? COLORS[v.id.split('-')[0] ?? ''] ?? '#333',
      points: NS.map((n) => [n, med(v.id, c, n)] as [number, number]),
    }));
  const svg = latencyChart(
    'Median latency against N: OSAPI _all and its peers',
    COMMANDS.map((c) => ({ title: `${c} on N hosts`, series: series(c) })),
    [...NS],
  );
  return { lines, svg };
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run setup` first (npm run bench:peers does)');
  }
  ensurePackages();
  const started = Date.now();
  const agents: ChildProcess[] = [];
  let sys: TestSystem | null = null;
  let fleet: SshFleet | null = null;
  const cleanup = async () => {
    await Promise.all(agents.map((a) => stopChild(a)));
    await fleet?.stop();
    await sys?.stop();
  };
  // Ctrl-C still removes the sshds, the agents and the temp dirs.
  const onSignal = () => {
    say('interrupted: cleaning up');
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    sys = await startTestSystem({ resultMarginMs: 5000 });
    fleet = await startSshFleet(Math.max(...NS));
    const token = await sys.token();
    const variants = [
      ...ourVariants(sys.url, token, sys.config.state_dir),
      ...peerVariants(fleet, hostname()),
      floorVariant(),
    ];
    const samples = await measure(sys, fleet, variants, agents, started);
    const versions = {
      ssh: version('ssh', ['-V'], /OpenSSH_([\w.]+)/),
      pdsh: version('pdsh', ['-V'], /pdsh-([\d.]+)/),
      clush: version('clush', ['--version'], /clush ([\d.]+)/),
      // With our config, so that it leaves nothing in the user's ~/.ansible.
      ansible: version('ansible', ['--version'], /core ([\d.]+)/, {
        ...process.env,
        ANSIBLE_CONFIG: fleet.ansibleConfig.cold,
      }),
    };
    const { lines, svg } = report(samples, variants, versions, sys.api.nc.info?.version ?? '?');
    writeFileSync(CHART_PATH, svg);
    writeSection('peers', lines);
    process.stdout.write(`${lines.join('\n')}\n`);
    say(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; chart: ${CHART_PATH}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

await main();
