// An agent's own Prometheus metrics — commands running, how long runs take
// and how they end, truncated outputs, commands killed at their timeout — on
// an optional port (agent.metrics_port), since an agent has no HTTP API. The
// agent reports each run through `observeRun`; this module alone knows
// prom-client.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeCondition } from '../contract/conditions.js';
import type { HandlerOutcome } from './command-handler.js';

/** Called as a command starts; the returned function is called with how it ended. */
export type RunObserver = () => (outcome: HandlerOutcome | undefined) => void;

export interface AgentMetrics {
  readonly registry: Registry;
  observeRun: RunObserver;
  /** Sets each condition's gauge (1 while it holds). */
  observeConditions(conditions: NodeCondition[]): void;
}

const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createAgentMetrics(hostname: string): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ hostname });
  collectDefaultMetrics({ register: registry });
  const running = new Gauge({
    name: 'osapi_agent_jobs_running',
    help: 'Commands running on this agent now.',
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'osapi_agent_job_run_duration_seconds',
    help: 'Time a command ran, by how it ended (exited, timed_out, not_found, ...; not_run when refused before it started).',
    labelNames: ['end'],
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  const truncated = new Counter({
    name: 'osapi_agent_truncated_outputs_total',
    help: 'Output streams cut at agent.max_output_bytes, by stream.',
    labelNames: ['stream'],
    registers: [registry],
  });
  const timedOut = new Counter({
    name: 'osapi_agent_jobs_killed_on_timeout_total',
    help: "Commands whose process group was killed at the command's timeout.",
    registers: [registry],
  });
  const condition = new Gauge({
    name: 'osapi_agent_condition',
    help: 'Whether a condition holds on this host (1) or not (0): MemoryPressure, DiskPressure, HighLoad (agent.conditions).',
    labelNames: ['type'],
    registers: [registry],
  });
  // Present from the start, so a dashboard shows 0 rather than no data.
  truncated.inc({ stream: 'stdout' }, 0);
  truncated.inc({ stream: 'stderr' }, 0);

  return {
    registry,
    observeConditions(conditions) {
      for (const c of conditions) condition.set({ type: c.type }, c.status ? 1 : 0);
    },
    observeRun() {
      running.inc();
      const stop = durations.startTimer();
      return (outcome) => {
        running.dec();
        const data = outcome?.data;
        stop({ end: data?.end ?? 'not_run' });
        if (data?.end === 'timed_out') timedOut.inc();
        if (data?.stdout_truncated) truncated.inc({ stream: 'stdout' });
        if (data?.stderr_truncated) truncated.inc({ stream: 'stderr' });
      };
    },
  };
}

export interface MetricsServer {
  /** http://host:port/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics on `port` (every interface); anything else is a 404. */
export async function serveAgentMetrics(registry: Registry, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; do not let one hold up a shutdown.
        server.closeAllConnections();
      }),
  };
}

export interface AgentMetricsEndpoint {
  /** http://127.0.0.1:port/metrics */
  readonly url: string;
  readonly observeRun: RunObserver;
  readonly observeConditions: AgentMetrics['observeConditions'];
  close(): Promise<void>;
}

/** The agent's metrics as `agent.metrics_port` asks: nothing when it is 0. */
export async function startAgentMetrics(
  hostname: string,
  port: number,
): Promise<AgentMetricsEndpoint | undefined> {
  if (port === 0) return undefined;
  const metrics = createAgentMetrics(hostname);
  const server = await serveAgentMetrics(metrics.registry, port).catch(
    (err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE'
        ? new Error(
            `cannot serve agent metrics on port ${port}: the port is in use. Choose another with agent.metrics_port (OSAPI_AGENT_METRICS_PORT), or 0 to turn them off.`,
          )
        : err;
    },
  );
  return {
    url: server.url,
    observeRun: metrics.observeRun,
    observeConditions: metrics.observeConditions,
    close: () => server.close(),
  };
}
