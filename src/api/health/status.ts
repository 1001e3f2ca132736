// GET /health/status (permission health:read): one look at everything the
// API depends on — the NATS connection, the jobs and dead-letter streams, the
// KV buckets, the agents' consumers and the Ready agents — with job counts.
// Any part that fails makes the whole `degraded` (503) and names the reason;
// every NATS question is bounded in time, so the answer comes even when NATS
// does not.
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { formatDuration } from '../../config/duration.js';
import { type ComponentStatus, HealthStatus } from '../../contract/health.js';
import type { Clock } from '../../job/clock.js';
import type { JobsView } from '../../job/jobs-view.js';
import type { RegistryView } from '../../job/registry-view.js';
import { type InfraNames, kvStream } from '../../names/names.js';
import { VERSION } from '../../version.js';
import { ApiError } from '../errors.js';

export interface HealthStatusDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  names: InfraNames;
  jobs: JobsView;
  registry: RegistryView;
  clock: Clock;
  /** When this API server started, for `uptime`. */
  startedAt: Date;
}

/** No part of the check may wait on NATS longer than this. */
const NATS_CHECK_MS = 2000;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function natsUrl(nc: NatsConnection): string {
  const server = nc.getServer();
  return server === '' || server.includes('://') ? server : `nats://${server}`;
}

/** Reads every part at once; a part that fails becomes its component's error. */
export async function collectHealthStatus(deps: HealthStatusDeps): Promise<HealthStatus> {
  const { names } = deps;
  const components: Record<string, ComponentStatus> = {};
  const fail = (name: string, error: string) => {
    components[name] = { status: 'error', error };
  };

  let connected = false;
  if (deps.nc.isClosed()) fail('nats', 'the NATS connection is closed');
  else {
    try {
      // rtt() refuses at once while disconnected (the client is reconnecting).
      await within(NATS_CHECK_MS, 'NATS', deps.nc.rtt());
      connected = true;
      components.nats = { status: 'ok' };
    } catch (err) {
      fail('nats', `not connected to NATS at ${natsUrl(deps.nc)}: ${message(err)}`);
    }
  }

  const streamInfo = (name: string): Promise<StreamInfo> =>
    within(NATS_CHECK_MS, `stream ${name}`, deps.jsm.streams.info(name));
  const buckets = [
    names.jobsBucket,
    names.responsesBucket,
    names.auditBucket,
    names.registryBucket,
  ];
  const streams: HealthStatus['streams'] = [];
  const kv_buckets: HealthStatus['kv_buckets'] = [];
  const consumers: HealthStatus['consumers']['consumers'] = [];
  let dlq = 0;

  if (!connected) {
    for (const c of ['stream', 'kv', 'consumers']) fail(c, 'not checked: NATS is not connected');
  } else {
    const [jobsStream, dlqStream, listed, ...bucketInfos] = await Promise.allSettled([
      streamInfo(names.stream),
      streamInfo(names.dlqStream),
      within(NATS_CHECK_MS, 'consumer list', listConsumers(deps.jsm, names.stream)),
      ...buckets.map((b) => streamInfo(kvStream(b))),
    ]);
    const streamProblems: string[] = [];
    for (const [name, r] of [
      [names.stream, jobsStream],
      [names.dlqStream, dlqStream],
    ] as const) {
      if (r.status === 'fulfilled') {
        const s = r.value.state;
        streams.push({ name, messages: s.messages, bytes: s.bytes, consumers: s.consumer_count });
      } else streamProblems.push(`stream ${name} is not available: ${message(r.reason)}`);
    }
    if (dlqStream.status === 'fulfilled') dlq = dlqStream.value.state.messages;
    components.stream =
      streamProblems.length === 0
        ? { status: 'ok' }
        : { status: 'error', error: streamProblems.join('; ') };

    const bucketProblems: string[] = [];
    buckets.forEach((name, i) => {
      const r = bucketInfos[i];
      if (r?.status === 'fulfilled') {
        const s = r.value.state;
        // Distinct subjects are the bucket's keys (history aside).
        kv_buckets.push({ name, keys: s.num_subjects ?? s.messages, bytes: s.bytes });
      } else bucketProblems.push(`KV bucket ${name} is not available: ${message(r?.reason)}`);
    });
    components.kv =
      bucketProblems.length === 0
        ? { status: 'ok' }
        : { status: 'error', error: bucketProblems.join('; ') };

    if (listed.status === 'fulfilled') {
      consumers.push(...listed.value);
      components.consumers = { status: 'ok' };
    } else
      fail('consumers', `cannot list the consumers of ${names.stream}: ${message(listed.reason)}`);
  }

  const now = deps.clock.now();
  const agents = deps.registry.agents();
  const ready = agents.filter((a) => a.ready).length;
  components.agents =
    ready > 0
      ? { status: 'ok' }
      : {
          status: 'error',
          error: `no agent is Ready (${agents.length} registered): nothing can run a job`,
        };

  const jobs = {
    total: 0,
    unprocessed: 0,
    processing: 0,
    completed: 0,
    failed: 0,
    partial_failure: 0,
    dlq,
  };
  for (const entry of deps.jobs.list()) {
    jobs.total++;
    const s = deps.jobs.statusOf(entry);
    jobs[s === 'submitted' ? 'unprocessed' : s]++;
  }

  const degraded = Object.values(components).some((c) => c.status !== 'ok');
  return {
    status: degraded ? 'degraded' : 'ok',
    version: VERSION,
    uptime: formatDuration(
      Math.floor(Math.max(0, now.getTime() - deps.startedAt.getTime()) / 1000) * 1000,
    ),
    components,
    nats: { url: natsUrl(deps.nc), version: deps.nc.info?.version ?? 'unknown' },
    streams,
    kv_buckets,
    jobs,
    agents: {
      total: agents.length,
      ready,
      agents: agents.map((a) => ({
        hostname: a.info.hostname,
        labels: Object.entries(a.info.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
        registered: `${formatDuration(Math.floor(Math.max(0, now.getTime() - a.seenAt.getTime()) / 1000) * 1000)} ago`,
        status: a.ready ? ('Ready' as const) : ('NotReady' as const),
      })),
    },
    consumers: { total: consumers.length, consumers },
  };
}

async function listConsumers(
  jsm: JetStreamManager,
  stream: string,
): Promise<HealthStatus['consumers']['consumers']> {
  const out: HealthStatus['consumers']['consumers'] = [];
  for await (const c of jsm.consumers.list(stream)) {
    // Only the durable ones: agents read missed jobs back through short-lived
    // ephemeral consumers, which come and go by the thousand in a big fleet.
    if (!c.config.durable_name) continue;
    out.push({
      name: c.name,
      pending: c.num_pending,
      ack_pending: c.num_ack_pending,
      redelivered: c.num_redelivered,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function registerHealthStatusRoute(app: FastifyInstance, deps: HealthStatusDeps): void {
  app.get(
    '/health/status',
    {
      config: { permission: 'health:read' },
      schema: {
        summary: 'System status',
        description:
          'Components (NATS, streams, KV buckets, consumers, agents), job counts and agents. 503 with the same body, plus `error` naming the reasons, when degraded.',
        response: { 200: HealthStatus, 503: HealthStatus },
      },
    },
    async (_req, reply) => {
      const status = await collectHealthStatus(deps);
      if (status.status === 'ok') return status;
      const reasons = Object.entries(status.components)
        .filter(([, c]) => c.status !== 'ok')
        .map(([name, c]) => `${name}: ${c.error}`);
      const e = new ApiError('degraded', `degraded: ${reasons.join('; ')}`);
      return reply.code(503).send({ ...status, ...e.body() });
    },
  );
}
