// A fleet made of real processes, for the fault suite: the compiled `osapi`
// runs the API server and each agent as its own process (so each can be
// killed with SIGKILL, as a crash would), against NATS servers the test
// supervises. Commands append a line to a file, so every run is counted.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { signToken } from '../../src/auth/index.js';
import { type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { launcher } from '../support/launcher.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every command (the agents too, unless the fleet asks for lite ones). */
const OSAPI = launcher('osapi');
/** `osapi agent start` as the npm package's unit runs it (bin/osapi-agent). */
const OSAPI_AGENT = launcher('osapi-agent');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

// The suite's pretest builds dist/; running these files alone needs it too.
if (!existsSync(MAIN)) {
  throw new Error(
    `test/faults runs the compiled osapi, but ${MAIN} is missing: run \`npm run build\` (or \`npm run setup\`) first.`,
  );
}

/** The long cases run only when asked: `npm run test:faults` sets it. */
export const LONG = process.env.OSAPI_FAULTS_LONG === '1';

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
export type AnyJson = any;

export interface OsapiProcess {
  child: ChildProcess;
  pid: number;
  /** The JSON object it printed when ready. */
  ready: AnyJson;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it wrote to stderr (its logs), for failure messages. */
  logs(): string;
  /** SIGKILL, as a crash would; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, a clean stop; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface FleetOptions {
  /** Client URLs of the NATS server(s). */
  natsUrls: () => string[];
  /** Dotted config keys on top of the suite's, e.g. { 'nats.stream.replicas': 3 }. */
  config?: Record<string, unknown>;
  /**
   * Agents as `osapi-agent` (lite mode, as the npm package's unit runs them:
   * the load bench measures their memory) rather than `osapi agent start`.
   * The fault suite keeps the latter, as it ran before `osapi-agent` was made.
   */
  liteAgents?: boolean;
}

const live = new Set<OsapiProcess>();

export class Fleet {
  readonly dir: TempDir;
  readonly runsFile: string;
  readonly signingKey = `fault-key-${crypto.randomUUID()}`;
  readonly namespace = `f${crypto.randomUUID().slice(0, 8)}`;
  api: OsapiProcess | null = null;
  /** API servers started beside `api`, on the same NATS (startSpareApi). */
  readonly spareApis = new Set<OsapiProcess>();
  readonly agents = new Map<string, OsapiProcess>();
  private readonly opts: FleetOptions;

  constructor(opts: FleetOptions) {
    this.opts = opts;
    this.dir = tempDir('faults');
    this.runsFile = join(this.dir.path, 'runs.log');
    mkdirSync(join(this.dir.path, 'state'), { mode: 0o700 });
  }

  /** The config file every process of the fleet reads, written afresh before each start. */
  private configFile(): string {
    const servers = this.opts.natsUrls();
    const nested: AnyJson = {
      state_dir: join(this.dir.path, 'state'),
      api: {
        server: {
          host: '127.0.0.1',
          port: 0,
          nats: { servers, namespace: this.namespace },
          security: {
            signing_key: this.signingKey,
            // One token sends the load (test/faults/load.ts, bench/load.ts)
            // as fast as it is answered: the faults are what is measured,
            // not the audit log's rate per token subject (a 429 beyond it).
            audit: { user_rate: 1_000_000, user_burst: 1_000_000 },
          },
        },
      },
      nats: {
        server: { namespace: this.namespace },
        // Agents beat every 4 s; one silent for 6 s is gone. Two seconds of
        // slack: with one (a 3 s TTL), a live agent was found NotReady on a
        // machine loaded by two test runs, and a request to it answered 404.
        registry: { ttl: '6s' },
      },
      agent: {
        nats: { servers, namespace: this.namespace },
        // The API accepts each agent's key as it comes.
        enrollment: { auto_accept: true },
        // A notification left unacked by a crash comes back within seconds.
        consumer: { ack_wait: '5s', back_off: [] },
      },
    };
    for (const [key, value] of Object.entries(this.opts.config ?? {})) {
      const path = key.split('.');
      let node = nested;
      for (const segment of path.slice(0, -1)) {
        node[segment] ??= {};
        node = node[segment];
      }
      node[path[path.length - 1] as string] = value;
    }
    const file = join(this.dir.path, 'osapi.yaml');
    writeFileSync(file, stringify(nested), { mode: 0o600 });
    return file;
  }

  /** `nodeArgs`: options for the API server's node (a benchmark's --cpu-prof). */
  async startApi(nodeArgs: string[] = []): Promise<OsapiProcess> {
    this.api = await spawnOsapi(
      ['api', 'server', 'start'],
      this.configFile(),
      {},
      30_000,
      nodeArgs,
    );
    return this.api;
  }

  /** Another API server on the same NATS; requests go to it once `useApi` says so. */
  async startSpareApi(): Promise<OsapiProcess> {
    const api = await spawnOsapi(['api', 'server', 'start'], this.configFile(), {});
    this.spareApis.add(api);
    return api;
  }

  /** Sends the next requests to `api` (a spare, when the one in use was killed). */
  useApi(api: OsapiProcess): void {
    this.spareApis.delete(api);
    if (this.api) this.spareApis.add(this.api);
    this.api = api;
  }

  /** Where requests go when set (a proxy in front of the API servers), instead of `api`. */
  front: string | null = null;

  get url(): string {
    if (this.front) return this.front;
    if (!this.api) throw new Error('the API server is not running');
    return this.api.ready.api_url;
  }

  /** `nodeArgs`: options for the agent's node, beside bin/osapi's own. */
  async startAgent(
    hostname: string,
    labels: Record<string, string> = {},
    nodeArgs: string[] = [],
  ): Promise<OsapiProcess> {
    const env: Record<string, string> = { OSAPI_AGENT_HOSTNAME: hostname, FAULT_HOST: hostname };
    if (Object.keys(labels).length > 0) env.OSAPI_AGENT_LABELS = JSON.stringify(labels);
    const a = this.opts.liteAgents
      ? await spawnOsapi([], this.configFile(), env, 30_000, nodeArgs, OSAPI_AGENT)
      : await spawnOsapi(['agent', 'start'], this.configFile(), env, 30_000, nodeArgs);
    this.agents.set(hostname, a);
    return a;
  }

  async startAgents(hostnames: string[]): Promise<void> {
    await Promise.all(hostnames.map((h) => this.startAgent(h)));
    await this.waitForAgents(hostnames);
  }

  /** Resolves once GET /agent shows exactly these hostnames Ready. */
  async waitForAgents(hostnames: string[], withinMs = 15_000): Promise<void> {
    const want = [...hostnames].sort().join(',');
    await waitFor(
      `the registry to show exactly ${want} Ready`,
      async () => {
        const r = await this.request('GET', '/agent');
        if (r.status !== 200) return false;
        // Heard from, and taking jobs (its key accepted, not drained).
        const ready = (r.body.agents as AnyJson[])
          .filter((a) => a.status === 'Ready' && a.state === 'Ready')
          .map((a) => a.hostname as string)
          .sort()
          .join(',');
        return ready === want;
      },
      withinMs,
      100,
    );
  }

  private tokenValue: string | null = null;
  async token(): Promise<string> {
    this.tokenValue ??= await signToken({
      subject: 'faults@example.com',
      roles: ['admin'],
      signingKey: this.signingKey,
    });
    return this.tokenValue;
  }

  /** One HTTP request to the API; a connection failure is a status of 0. */
  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: AnyJson; error?: string }> {
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await this.token()}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      return { status: res.status, body: parsed };
    } catch (err) {
      return { status: 0, body: null, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * A shell command that appends `<tag> <agent hostname>` to the runs file,
   * then does `then` (e.g. a sleep).
   */
  countedCommand(tag: string, then = 'true'): string {
    return `echo "${tag} $FAULT_HOST" >> ${this.runsFile}; ${then}`;
  }

  /** How many times each `<tag> <host>` ran. */
  runs(): Map<string, number> {
    const counts = new Map<string, number>();
    if (!existsSync(this.runsFile)) return counts;
    for (const line of readFileSync(this.runsFile, 'utf8').split('\n')) {
      if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    return counts;
  }

  /** Every process's last log lines, for a failure message. */
  logs(): string {
    const parts = [
      ['api', this.api] as const,
      ...[...this.spareApis].map((p) => ['spare api', p] as const),
      ...[...this.agents].map(([h, a]) => [h, a] as const),
    ];
    return parts.map(([name, p]) => `--- ${name}\n${p?.logs() ?? ''}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await Promise.all([this.api, ...this.spareApis].map((p) => p?.stop()));
    this.dir.remove();
  }
}

/** For afterAll: whatever a failed test left running. */
export async function killLeftovers(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

function spawnOsapi(
  args: string[],
  configFile: string,
  env: Record<string, string>,
  readyWithinMs = 30_000,
  nodeArgs: string[] = [],
  bin = OSAPI,
): Promise<OsapiProcess> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OSAPI_')) childEnv[k] = v;
  }
  const child = spawn(
    process.execPath,
    [...bin.nodeOptions, ...nodeArgs, bin.file, '-j', '-f', configFile, ...args],
    {
      env: { ...childEnv, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let stdout = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    lines.push(...d.split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const proc: Omit<OsapiProcess, 'ready'> = {
    child,
    pid: child.pid ?? -1,
    exited,
    logs: () => lines.join('\n'),
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
      live.delete(proc as OsapiProcess);
    },
    async stop(graceMs = 10_000) {
      if (!gone()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      live.delete(proc as OsapiProcess);
    },
  };
  live.add(proc as OsapiProcess);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      void proc.kill();
      reject(
        new Error(
          `${[basename(bin.file), ...args].join(' ')} not ready within ${readyWithinMs} ms\n${proc.logs()}`,
        ),
      );
    }, readyWithinMs);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${[basename(bin.file), ...args].join(' ')} exited (${e.code ?? e.signal})\n${proc.logs()}`,
        ),
      );
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      try {
        const ready = JSON.parse(stdout);
        clearTimeout(timer);
        resolvePromise(Object.assign(proc, { ready }));
      } catch {
        // Not the whole object yet.
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// "Nothing lost": every accepted request has a job that ends, and no command ran twice.

export interface Accepted {
  tag: string;
  jobId: string;
}

const FINAL = new Set(['completed', 'failed', 'partial_failure']);

/**
 * Every accepted job reaches a final state readable through GET /job/{id};
 * each (tag, host) ran at most once, and exactly once where the host completed.
 * Returns the final job details.
 */
export async function assertNothingLost(
  fleet: Fleet,
  accepted: Accepted[],
  withinMs = 30_000,
): Promise<AnyJson[]> {
  const jobs: AnyJson[] = [];
  for (const a of accepted) {
    const job = await waitFor(
      `job ${a.jobId} (${a.tag}) to reach a final state`,
      async () => {
        const r = await fleet.request('GET', `/job/${a.jobId}`);
        return r.status === 200 && FINAL.has(r.body.status) ? r.body : false;
      },
      withinMs,
      200,
    ).catch(async (err: unknown) => {
      const r = await fleet.request('GET', `/job/${a.jobId}`);
      throw new Error(
        `${String(err)}\nlast seen: ${JSON.stringify(r.body)}\nruns: ${[...fleet.runs().keys()].filter((k) => k.startsWith(`${a.tag} `)).join(', ')}\n${fleet.logs()}`,
      );
    });
    jobs.push(job);
  }
  const runs = fleet.runs();
  const twice = [...runs].filter(([, n]) => n > 1).map(([line, n]) => `${line} ran ${n} times`);
  if (twice.length > 0) throw new Error(`commands ran more than once:\n${twice.join('\n')}`);
  for (const [i, a] of accepted.entries()) {
    const job = jobs[i];
    for (const [host, state] of Object.entries(job.agent_states as Record<string, AnyJson>)) {
      if (state.status === 'succeeded' && runs.get(`${a.tag} ${host}`) !== 1) {
        throw new Error(
          `job ${a.jobId} says ${host} succeeded at ${a.tag}, but it never ran there`,
        );
      }
    }
  }
  return jobs;
}
