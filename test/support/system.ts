// An in-process OSAPI for tests: a real nats-server, the API server on a free
// port and any number of agents with their own hostnames and labels, each
// test file under its own namespace. Tokens are signed with a per-run key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostSettings } from '../../src/agent/handlers/types.js';
import { type AgentProcess, startAgentProcess } from '../../src/agent/start.js';
import { type ApiProcess, type StartApiOptions, startApiServer } from '../../src/api/start.js';
import { signToken } from '../../src/auth/index.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { systemClock } from '../../src/job/clock.js';
import type { Logger } from '../../src/log/logger.js';
import { serverAuthFromConfig } from '../../src/nats/server-config.js';
import { waitFor } from '../api/helpers.js';
import { silentLogger, startTestNats, type TestNats } from './nats.js';

export interface TestSystem {
  nats: TestNats;
  api: ApiProcess;
  config: Config;
  /** Base URL of the API server. */
  url: string;
  signingKey: string;
  agents: Map<string, AgentProcess>;
  startAgent(
    hostname: string,
    labels?: Record<string, string>,
    over?: Partial<Config['agent']>,
    /** Settings the config does not hold: a stand-in systemctl (test/support/fake-systemd.ts). */
    host?: Partial<HostSettings>,
  ): Promise<AgentProcess>;
  stopAgent(hostname: string): Promise<void>;
  /** Resolves once the API's registry view shows exactly these Ready hostnames. */
  waitForAgents(hostnames: string[]): Promise<void>;
  token(roles?: string[], permissions?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  /** Dotted config overrides, e.g. { 'agent.max_jobs': 2 }. */
  overrides?: Record<string, unknown>;
  resultMarginMs?: number;
  /** Bounds of the API's live output buffer and job streams. */
  liveOutput?: StartApiOptions['liveOutput'];
  /** Start nats-server with the users the config's auth sections describe (set them in overrides). */
  natsAuth?: boolean;
  /** Logger for the server, the API and the agents (default: silent). */
  logger?: Logger;
  /** The built web console the API serves at /ui/ (default: none built, a 503 there). */
  consoleDir?: string;
}

export async function startTestSystem(opts: TestSystemOptions = {}): Promise<TestSystem> {
  const logger = opts.logger ?? silentLogger;
  const stateDir = mkdtempSync(join(tmpdir(), 'osapi-state-'));
  const signingKey = `test-key-${crypto.randomUUID()}`;
  const namespace = `t${crypto.randomUUID().slice(0, 8)}`;
  const config = loadConfig({
    env: {},
    defaultFile: null,
    overrides: {
      state_dir: stateDir,
      'api.server.port': 0,
      'api.server.host': '127.0.0.1',
      'api.server.nats.namespace': namespace,
      'agent.nats.namespace': namespace,
      'nats.server.namespace': namespace,
      'nats.kv.storage': 'memory',
      'nats.stream.storage': 'memory',
      // Agents are trusted at once, as a test of something else needs; the
      // enrollment tests turn it off.
      'agent.enrollment.auto_accept': true,
      ...opts.overrides,
    },
  }).config;
  const nats = await startTestNats(
    opts.natsAuth ? await serverAuthFromConfig(config) : null,
    logger,
  );
  const servers = [nats.url];
  let api: ApiProcess;
  try {
    api = await startApiServer({
      config,
      signingKey,
      logger,
      clock: systemClock,
      natsServers: servers,
      // Above the runner's 2 s kill grace, so a timed-out command still answers.
      resultMarginMs: opts.resultMarginMs ?? 3000,
      ...(opts.liveOutput ? { liveOutput: opts.liveOutput } : {}),
      consoleDir: opts.consoleDir ?? join(stateDir, 'no-console'),
    });
  } catch (err) {
    await nats.stop();
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const agents = new Map<string, AgentProcess>();
  const system: TestSystem = {
    nats,
    api,
    config,
    url: api.url,
    signingKey,
    agents,
    async startAgent(hostname, labels = {}, over = {}, host) {
      const agentConfig: Config = {
        ...config,
        agent: { ...config.agent, hostname, labels, ...over },
      };
      const a = await startAgentProcess({
        config: agentConfig,
        logger,
        clock: systemClock,
        natsServers: servers,
        ...(host ? { host } : {}),
      });
      agents.set(hostname, a);
      return a;
    },
    async stopAgent(hostname) {
      await agents.get(hostname)?.stop();
      agents.delete(hostname);
    },
    async waitForAgents(hostnames) {
      const want = [...hostnames].sort().join(',');
      const ok = await api.registry.waitFor(
        (v) =>
          v
            .agents()
            .filter((a) => a.ready)
            .map((a) => a.info.hostname)
            .join(',') === want,
        10_000,
      );
      if (!ok) throw new Error(`registry never showed exactly ${want}`);
      // And, where agents are accepted on their own, until they are.
      if (config.agent.enrollment.auto_accept) {
        await waitFor(
          `${want} to be accepted`,
          () =>
            api.registry
              .agents()
              .filter((a) => hostnames.includes(a.info.hostname))
              .every((a) => api.states.enrollment(a.info) === 'accepted'),
          10_000,
          10,
        );
      }
    },
    token(roles = ['admin'], permissions) {
      return signToken({
        subject: 'tester@example.com',
        roles,
        ...(permissions ? { permissions } : {}),
        signingKey,
        customRoles: config.api.server.security.roles,
      });
    },
    async stop() {
      for (const a of agents.values()) await a.stop().catch(() => {});
      await api.stop().catch(() => {});
      await nats.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return system;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a route answers
export type AnyJson = any;

/** POSTs JSON (or raw text) to the API and returns status and parsed body. */
export async function post(
  sys: TestSystem,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: AnyJson }> {
  return request(sys, 'POST', path, body, token);
}

export async function request(
  sys: TestSystem,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: AnyJson }> {
  const res = await fetch(`${sys.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: parsed as AnyJson };
}
