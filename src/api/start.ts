// Starts the API server process: NATS connection, JetStream layout, the
// registry view and response watch, then HTTP. Composed by `osapi api server
// start` and by `osapi start` alike.

import { createPublicKey } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { type AgentStateView, watchAgentStates } from '../job/agent-state-view.js';
import type { Clock } from '../job/clock.js';
import { watchFacts } from '../job/facts-view.js';
import { watchJobs } from '../job/jobs-view.js';
import { watchLostRuns } from '../job/lost-runs.js';
import { type RegistryView, watchRegistry } from '../job/registry-view.js';
import { type ResponseWatch, watchResponses } from '../job/response-watch.js';
import { type JobSigner, jobSigner, jobVerifier, loadOrCreateSigningKeys } from '../job/signing.js';
import { openJobStore } from '../job/store.js';
import type { Logger } from '../log/logger.js';
import { API_INBOX_PREFIX } from '../names/names.js';
import { ensureSharedConsumer, removeRetiredConsumers } from '../nats/any-consumer.js';
import { closeNats, connectNats, type NatsConnection } from '../nats/connection.js';
import { ensureLayoutWhenReady } from '../nats/layout.js';
import { jobSigningKeyPath } from '../state/local.js';
import { waitAtMost } from '../wait-at-most.js';
import { AuditLog } from './audit/log.js';
import { defaultConsoleDir } from './console/static.js';
import { acceptOwnAgent, startAutoAccept, startRenameCarry } from './enrollment.js';
import { natsFileStore } from './files/store.js';
import { type OutputHubLimits, startOutputHub } from './job/output-hub.js';
import type { JobStreamSettings } from './job/stream.js';
import { resolveConnectionLimits } from './limits.js';
import { createApiMetrics } from './metrics/api-metrics.js';
import { apiResultTrust } from './result-trust.js';
import { Rollouts } from './rollout.js';
import { buildApiServer } from './server.js';
import { sessionDeps } from './session/routes.js';

/** How long after creation an agent that was away may still start a job. */
const START_WITHIN_MS = 10 * 60_000;
/** How long a stop waits for queued audit entries to be written before it logs them instead. */
const AUDIT_FLUSH_MS = 3000;
/** How long the API waits, before listening, for its views to read their buckets. */
const VIEWS_LOAD_MS = 10_000;

export interface ApiProcess {
  app: FastifyInstance;
  /** Signs the jobs this API publishes. */
  signer: JobSigner;
  audit: AuditLog;
  nc: NatsConnection;
  registry: RegistryView;
  /** What API servers decided of agents: drained, accepted. */
  states: AgentStateView;
  /** http://host:port the server listens on. */
  url: string;
  stop(): Promise<void>;
}

export interface StartApiOptions {
  config: Config;
  signingKey: string;
  logger: Logger;
  clock: Clock;
  /** Connect here instead of api.server.nats (osapi start uses its own server). */
  natsServers?: string[];
  /** Margin on top of a command's timeout before the API stops waiting. */
  resultMarginMs?: number;
  /** Bounds of the live output buffer and of each job stream (defaults in their modules). */
  liveOutput?: { limits?: Partial<OutputHubLimits>; stream?: Partial<JobStreamSettings> };
  /** The built web console; default <repo>/dist/ui. */
  consoleDir?: string;
  /**
   * Set when an agent runs in this process too (`osapi start`): the
   * descriptors its commands need are kept from the API's connection cap.
   */
  agentInProcess?: { maxJobs: number };
  /** How long a rollout's driver may be silent before another API server takes over (rollout.ts). */
  rolloutLeaseMs?: number;
  /** The agent `osapi start` runs beside this API, accepted with this key (enrollment.ts). */
  ownAgent?: { hostname: string; fingerprint: string; publicKey: string; machineId: string };
}

export async function startApiServer(opts: StartApiOptions): Promise<ApiProcess> {
  const { config, logger } = opts;
  // Checked first: a bad combination is a config error, before anything connects.
  const connections = resolveConnectionLimits(
    config.api.server.limits,
    opts.agentInProcess ? { agentMaxJobs: opts.agentInProcess.maxJobs } : {},
  );
  for (const w of connections.warnings) logger.warn(w);
  logger.debug(
    {
      max_connections: connections.limits.maxConnections,
      derived: connections.derived,
      open_files_limit: connections.fdLimit,
      reserved_fds: connections.reservedFds,
    },
    'API connection limits',
  );
  const settings = config.api.server.nats;
  const startedAt = opts.clock.now();
  const metrics = createApiMetrics();
  const nc = await connectNats({
    settings: { ...settings, servers: opts.natsServers ?? settings.servers },
    logger,
    firstConnectTimeoutMs: 30_000,
    onReconnect: () => metrics.natsReconnected(),
    // Results reach the API on its inbox: keep it out of the agents' `_INBOX.>`.
    inboxPrefix: API_INBOX_PREFIX,
  });
  try {
    const layout = await ensureLayoutWhenReady(
      nc,
      { ...config.nats, namespace: settings.namespace },
      { logger },
    );
    for (const item of layout.items) {
      if (item.action === 'updated')
        logger.warn(
          { stream: item.stream, changes: item.changes },
          'updated JetStream settings to match the config',
        );
      for (const c of item.conflicts) logger.warn({ stream: item.stream }, c);
    }
    const layoutJsm = await jetstreamManager(nc);
    const consumer = config.agent.consumer;
    const shared = await ensureSharedConsumer(layoutJsm, layout.names, consumer);
    if (shared === 'replaced') {
      logger.warn(
        { max_waiting: consumer.max_waiting },
        'made the shared _any consumer again to raise its max_waiting; jobs in flight are offered again, and their claims keep them from running twice',
      );
    }
    const retired = await removeRetiredConsumers(layoutJsm, layout.names, consumer);
    if (retired > 0) {
      logger.info({ consumers: retired }, 'removed the per-agent consumers of an earlier version');
    }
    const apiKey = loadOrCreateSigningKeys(
      config.api.server.security.job_signing_key_file || jobSigningKeyPath(config.state_dir),
    );
    const signer = jobSigner(apiKey);
    // Results this API records itself are signed with its key; results are
    // believed only when signed by the host's accepted key or an API's.
    const trust = apiResultTrust(apiKey, logger);
    const store = await openJobStore(nc, layout.names, opts.clock, signer, {
      signer: { key: apiKey, as: 'api' },
      trust,
    });
    const followed = (bucket: string) => ({ nc: store.nc, js: store.js, bucket });
    // The decisions on agents' keys first: a result is believed by them, and
    // a result refused while they are still loading would stay refused.
    const states = await watchAgentStates(store, logger);
    trust.bind(states);
    if (!(await waitAtMost(states.loaded, VIEWS_LOAD_MS))) {
      logger.warn(
        `the agents' enrollment and drain decisions were not all read within ${VIEWS_LOAD_MS / 1000} s; going on with what was read`,
      );
    }
    const registry = await watchRegistry(followed(layout.names.registryBucket), {
      ttlMs: config.nats.registry.ttl,
      clock: opts.clock,
      logger,
    });
    const responses: ResponseWatch = await watchResponses(
      followed(layout.names.responsesBucket),
      logger,
      trust,
    );
    const output = await startOutputHub(store, {
      names: layout.names,
      logger,
      ...(opts.liveOutput?.limits ? { limits: opts.liveOutput.limits } : {}),
    });
    const facts = await watchFacts(store, logger);
    if (opts.ownAgent) {
      await acceptOwnAgent({ states, store, clock: opts.clock, logger, own: opts.ownAgent });
    }
    const stopAutoAccept = startAutoAccept({
      registry,
      states,
      store,
      clock: opts.clock,
      logger,
      all: config.agent.enrollment.auto_accept,
    });
    const stopRenameCarry = startRenameCarry({
      registry,
      states,
      store,
      clock: opts.clock,
      logger,
      verifier: jobVerifier(createPublicKey(apiKey)),
    });
    const jobs = await watchJobs(followed(layout.names.jobsBucket), {
      ttlMs: config.nats.kv.ttl,
      clock: opts.clock,
      logger,
      results: followed(layout.names.responsesBucket),
      trust,
    });
    // Runs whose agent died or restarted are recorded as failed, so they end.
    const lostRuns = watchLostRuns({
      nc,
      store,
      jobs,
      registry,
      clock: opts.clock,
      ttlMs: config.nats.registry.ttl,
      intervalMs: Math.max(250, Math.min(5000, Math.floor(config.nats.registry.ttl / 3))),
      logger,
    });
    // A short timeout: readiness must answer quickly while NATS is away.
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const kvm = new Kvm(nc);
    const auditBuckets = {
      authenticated: await kvm.open(layout.names.auditBucket),
      unauthenticated: await kvm.open(layout.names.unauthenticatedAuditBucket),
    };
    const auditSettings = config.api.server.security.audit;
    const audit = new AuditLog({
      buckets: auditBuckets,
      logger,
      onWriteFailure: () => metrics.auditWriteFailed(),
      onDropped: (reason) => metrics.auditDropped(reason),
      unauthenticatedLimit: {
        perMinute: auditSettings.unauthenticated_rate,
        burst: auditSettings.unauthenticated_burst,
      },
      userLimit: { perMinute: auditSettings.user_rate, burst: auditSettings.user_burst },
    });
    metrics.watch({ jobs, registry });
    const rollouts = new Rollouts({
      store,
      jobs,
      logger,
      ...(opts.rolloutLeaseMs !== undefined ? { leaseMs: opts.rolloutLeaseMs } : {}),
    });
    await rollouts.watch();
    const auth = { signingKey: opts.signingKey, customRoles: config.api.server.security.roles };
    const files = natsFileStore(
      await new Objm(nc).open(layout.names.filesBucket),
      followed(layout.names.deploymentsBucket),
      logger,
    );
    const app = await buildApiServer({
      metrics,
      files: { store: files, maxBytes: config.api.server.files.max_bytes },
      health: { nc, jsm, names: layout.names, jobs, registry, clock: opts.clock, startedAt },
      audit: { log: audit, buckets: auditBuckets, required: auditSettings.required },
      logger,
      auth,
      limits: connections.limits,
      cors: { allowOrigins: config.api.server.security.cors.allow_origins },
      trustedProxies: config.api.server.security.trusted_proxies,
      session: sessionDeps(auth, opts.clock, await kvm.open(layout.names.loginCodesBucket)),
      mcp: config.api.server.mcp.enabled,
      ...(config.api.server.ui.enabled
        ? {
            console: {
              dir: opts.consoleDir ?? defaultConsoleDir(),
              onMissing: (message: string) => logger.warn(message),
            },
          }
        : {}),
      readiness: {
        async check() {
          if (nc.isClosed()) throw new Error('the NATS connection is closed');
          try {
            await jsm.streams.info(layout.names.stream);
          } catch (err) {
            throw new Error(
              `NATS or the JetStream layout is not available: ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        },
      },
      facts,
      states,
      dispatch: {
        states,
        facts,
        store,
        registry,
        responses,
        clock: opts.clock,
        marginMs: opts.resultMarginMs ?? 5000,
        startWithinMs: START_WITHIN_MS,
        rollouts,
        jobs,
        onRoundTrip: (rt) => metrics.observeRoundTrip(rt),
      },
      jobs: {
        store,
        registry,
        jobs,
        jsm,
        dlqStream: layout.names.dlqStream,
        startWithinMs: START_WITHIN_MS,
        responses,
        output,
        stream: {
          maxPerUser: config.api.server.limits.max_streams_per_user,
          ...opts.liveOutput?.stream,
        },
      },
    });
    // Listen once the views hold what their buckets held: a request in the
    // first moments must not find no agent Ready, or miss a job, for want of
    // them. Bounded: a view still loading then fills in as it reads.
    if (
      !(await waitAtMost(Promise.all([registry.loaded, jobs.loaded, facts.loaded]), VIEWS_LOAD_MS))
    ) {
      logger.warn(
        `the agent registry and the jobs were not all read within ${VIEWS_LOAD_MS / 1000} s; listening anyway, with what was read so far`,
      );
    }
    const { host, port } = config.api.server;
    const address = await app.listen({ host, port }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE'
        ? new Error(
            `cannot listen on ${host}:${port}: the port is in use. Stop what uses it, or choose another with --port / api.server.port (OSAPI_API_SERVER_PORT).`,
          )
        : err;
    });
    return {
      app,
      signer,
      audit,
      nc,
      registry,
      states,
      url: address,
      async stop() {
        await app.close();
        // Before the connection closes: each rollout is let go, for another
        // API server (or this one restarted) to carry on at once.
        await rollouts.stop();
        // Bounded: what NATS has not taken within it goes to the log, entry
        // by entry, and no retry timer is left to hold the process open.
        await audit.close(AUDIT_FLUSH_MS);
        lostRuns.stop();
        registry.stop();
        facts.stop();
        stopAutoAccept();
        stopRenameCarry();
        states.stop();
        jobs.stop();
        responses.stop();
        output.stop();
        await closeNats(nc);
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
