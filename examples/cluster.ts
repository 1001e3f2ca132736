// A fleet on one machine, with one command: three `osapi nats server start`
// processes forming a NATS cluster (every stream and bucket with three
// replicas), one `osapi api server start`, and 20 `osapi agent start`, each a
// process of its own, as they would run on separate hosts. It prints how to
// reach the API, then waits; Ctrl-C stops everything and removes its files.
//
//   npm run example:cluster                 # 20 agents
//   npm run example:cluster -- --agents 5
//
// Everything listens on 127.0.0.1 on ports the OS hands out. The processes
// share one config file; what differs per node or agent is set by
// environment variables (OSAPI_NATS_SERVER_NAME, OSAPI_AGENT_HOSTNAME, ...),
// as in the systemd units of deploy/systemd/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { signToken } from '../src/auth/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'osapi');

const agentsArg = process.argv.indexOf('--agents');
const AGENTS = agentsArg > 0 ? Number(process.argv[agentsArg + 1]) : 20;
if (!Number.isInteger(AGENTS) || AGENTS < 1 || AGENTS > 200) {
  process.stderr.write('example:cluster: --agents takes a number from 1 to 200\n');
  process.exit(2);
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Free ports from the OS, held together so they differ, then released for the servers. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return a && typeof a === 'object' ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface Running {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const running: Running[] = [];
const dir = mkdtempSync(join(tmpdir(), 'osapi-example-cluster-'));
let stopping = false;

/** Starts `osapi -j -f CONFIG ARGS` and resolves with the JSON it prints when ready. */
function start(
  name: string,
  args: string[],
  config: string,
  env: Record<string, string>,
): Promise<Record<string, unknown>> {
  const inherited: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OSAPI_')) inherited[k] = v;
  const child = spawn(process.execPath, [BIN, '-j', '-f', config, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  running.push({ name, child, exited });
  let out = '';
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  return new Promise((res, rej) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      try {
        res(JSON.parse(out) as Record<string, unknown>);
      } catch {
        // Not the whole object yet.
      }
    });
    void exited.then(() => {
      if (!stopping) rej(new Error(`${name} exited before it was ready:\n${err.trim()}`));
    });
  });
}

/** SIGTERM to everything, newest first (agents, API, then NATS), then remove the files. */
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nstopping...');
  for (const group of [
    running.filter((r) => r.name.startsWith('agent')),
    running.filter((r) => r.name === 'api'),
    running.filter((r) => r.name.startsWith('nats')),
  ]) {
    for (const r of group) r.child.kill('SIGTERM');
    await Promise.all(
      group.map((r) =>
        Promise.race([
          r.exited,
          new Promise<void>((res) =>
            setTimeout(() => {
              r.child.kill('SIGKILL');
              res();
            }, 10_000),
          ),
        ]),
      ),
    );
  }
  rmSync(dir, { recursive: true, force: true });
  say('stopped; files removed.');
}

async function main(): Promise<void> {
  const ports = await freePorts(6);
  const clientPorts = ports.slice(0, 3);
  const routePorts = ports.slice(3);
  const servers = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
  const signingKey = crypto.randomUUID() + crypto.randomUUID();
  const replicas = { replicas: 3 };
  const config = join(dir, 'osapi.yaml');
  writeFileSync(
    config,
    stringify({
      state_dir: join(dir, 'state'),
      api: {
        server: {
          host: '127.0.0.1',
          port: 0,
          nats: { servers },
          security: { signing_key: signingKey },
        },
      },
      nats: {
        server: {
          host: '127.0.0.1',
          cluster: {
            name: 'example',
            host: '127.0.0.1',
            routes: routePorts.map((p) => `nats-route://127.0.0.1:${p}`),
          },
        },
        stream: replicas,
        kv: replicas,
        audit: replicas,
        registry: replicas,
        dlq: replicas,
      },
      agent: { nats: { servers } },
    }),
    { mode: 0o600 },
  );

  say(`starting a 3-node NATS cluster (client ports ${clientPorts.join(', ')})`);
  await Promise.all(
    [0, 1, 2].map((i) =>
      start(`nats-${i + 1}`, ['nats', 'server', 'start'], config, {
        OSAPI_NATS_SERVER_NAME: `nats-${i + 1}`,
        OSAPI_NATS_SERVER_PORT: String(clientPorts[i]),
        OSAPI_NATS_SERVER_CLUSTER_PORT: String(routePorts[i]),
        OSAPI_NATS_SERVER_STORE_DIR: join(dir, `nats-${i + 1}`),
      }),
    ),
  );
  say('starting the API server (it waits for the cluster to elect a leader)');
  const api = await start('api', ['api', 'server', 'start'], config, {});
  const url = String(api.api_url);
  say(`starting ${AGENTS} agents`);
  const names = Array.from({ length: AGENTS }, (_, i) => `agent-${String(i + 1).padStart(2, '0')}`);
  // A few at a time: many Node processes starting at once only fight for the CPU.
  for (let i = 0; i < names.length; i += 5) {
    await Promise.all(
      names.slice(i, i + 5).map((h, j) =>
        start(`agent ${h}`, ['agent', 'start'], config, {
          OSAPI_AGENT_HOSTNAME: h,
          OSAPI_AGENT_LABELS: `group=${(i + j) % 2 === 0 ? 'web' : 'db'}`,
        }),
      ),
    );
  }
  const token = await signToken({ subject: 'example@localhost', roles: ['admin'], signingKey });
  process.stdout.write(
    [
      '',
      `Ready: NATS cluster ${servers.join(',')}, API ${url}, ${AGENTS} agents (labels group=web / group=db).`,
      '',
      'Try, in another terminal:',
      `  export OSAPI_API_CLIENT_URL=${url}`,
      `  export OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN=${token}`,
      '  osapi client agent list',
      '  osapi client node command exec --command hostname -T _all --yes',
      '  osapi client node command shell --command "uptime" -T group:web --yes',
      '',
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
}

const onSignal = () => void stopAll().then(() => process.exit(0));
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
main().catch(async (err: unknown) => {
  say(`example:cluster: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll();
  process.exit(1);
});
// Any process that dies on its own ends the example: a fleet with a hole
// in it is not what it shows.
void (async () => {
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const dead = running.find((r) => r.child.exitCode !== null || r.child.signalCode !== null);
    if (dead && !stopping) {
      say(`${dead.name} exited on its own; stopping the example.`);
      await stopAll();
      process.exit(1);
    }
  }
})();
