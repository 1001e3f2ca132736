// One process of the simulated fleet: many agents, each started the way
// `osapi agent start` starts one (startAgentProcess: its own NATS connection,
// hostname and labels), sharing this process as agents share a machine's
// CPUs. Driven by bench/scale/main.ts over IPC.
//
//   node --import tsx bench/scale/fleet.ts   (spawned by main.ts, not by hand)
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AgentProcess } from '../../src/agent/start.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { systemClock } from '../../src/job/clock.js';
import {
  agentLabels,
  agentName,
  type FleetCommand,
  type FleetReport,
  type FleetSpec,
} from './fleet-spec.js';

const spec: FleetSpec = JSON.parse(process.env.OSAPI_BENCH_FLEET ?? 'null');
if (!spec || !process.send) {
  process.stderr.write('fleet.ts is started by bench/scale/main.ts\n');
  process.exit(2);
}
const send = (r: FleetReport) => process.send?.(r);
// Warnings and errors only, as JSON on stderr: main.ts counts them.
const logger = pino({ level: 'warn', base: { worker: spec.worker } }, process.stderr);

const base: Config = loadConfig({
  env: {},
  defaultFile: null,
  overrides: {
    state_dir: spec.stateDir,
    'agent.nats.namespace': spec.namespace,
    ...spec.overrides,
  },
}).config;

// The agents run the compiled code, as `osapi agent start` does (main.ts
// builds dist/ first), not the TypeScript sources through tsx's loader.
const compiled = new URL('../../dist/agent/start.js', import.meta.url).href;
const { startAgentProcess } = (await import(compiled)) as typeof import('../../src/agent/start.js');

const agents: AgentProcess[] = [];

async function startAll(): Promise<void> {
  const t0 = performance.now();
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: spec.to - spec.from }, async (_, k) => {
      const i = spec.from + k;
      const config: Config = {
        ...base,
        agent: { ...base.agent, hostname: agentName(i), labels: agentLabels(i) },
      };
      try {
        agents.push(
          await startAgentProcess({
            config,
            logger,
            clock: systemClock,
            natsServers: spec.natsServers,
          }),
        );
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
    }),
  );
  send({
    type: 'started',
    ms: performance.now() - t0,
    failed,
    ...(firstError ? { firstError } : {}),
  });
}

let profiler: Session | null = null;

async function profileStart(): Promise<void> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}

async function profileStop(dir: string): Promise<void> {
  if (!profiler) {
    send({ type: 'profiled', file: null });
    return;
  }
  const { profile } = await profiler.post('Profiler.stop');
  const file = join(dir, `fleet-${spec.worker}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  profiler.disconnect();
  profiler = null;
  send({ type: 'profiled', file });
}

function memory(): void {
  // Started with --expose-gc by main.ts: measured after a full collection,
  // so that the figure is what the agents hold, not garbage not yet collected.
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  send({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed });
}

process.on('message', (m: FleetCommand) => {
  if (m.cmd === 'memory') memory();
  if (m.cmd === 'profile-start') void profileStart();
  if (m.cmd === 'profile-stop') void profileStop(m.dir);
  if (m.cmd === 'start') void startAll();
  if (m.cmd === 'stop') {
    void Promise.allSettled(agents.map((a) => a.stop())).then(() => {
      send({ type: 'stopped' });
      process.exit(0);
    });
  }
});
// The parent going away ends the fleet too.
process.on('disconnect', () => process.exit(0));
send({ type: 'loaded' });
