// Starts an agent process: connects to NATS and runs the agent with the
// settings of the `agent` config section. Composed by `osapi agent start` and
// by `osapi start` alike.
import { hostname as osHostname } from 'node:os';
import type { Config } from '../config/index.js';
import { AGENT_NAME_EXPECTED } from '../contract/agent-name.js';
import { type CommandSpawn, spawnMode, useDirectSpawn } from '../exec/direct-spawn.js';
import type { Clock } from '../job/clock.js';
import { heartbeatInterval } from '../job/heartbeat.js';
import { jobVerifier, loadVerifyKey } from '../job/signing.js';
import { isValidHostname } from '../job/target.js';
import type { Logger } from '../log/logger.js';
import { infraNames } from '../names/names.js';
import { closeNats, connectNats } from '../nats/connection.js';
import { isNotFound, isTimeout } from '../nats/errors.js';
import { jobPublicKeyPath } from '../state/local.js';
import { type Agent, type AgentOptions, startAgent } from './agent.js';
import { SharedConsumerMissingError } from './consumers.js';
import { recoverNetplanChange } from './handlers/netplan.js';
import type { HostSettings } from './handlers/types.js';
import { loadAgentIdentity } from './identity.js';
import { startAgentMetrics } from './metrics.js';
import { natsReachable } from './reachable.js';

export interface AgentProcess {
  /** The agent running now: another one after a job renamed the host. */
  readonly agent: Agent;
  /** Where the agent's Prometheus metrics are served, when agent.metrics_port is set. */
  metricsUrl?: string;
  /**
   * How its commands start (src/exec/direct-spawn.ts): `fork` where the
   * module is not built or not loadable here, or agent.direct_spawn is false.
   */
  commandSpawn: CommandSpawn;
  stop(): Promise<void>;
}

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

/** agent.hostname, else the host's name (`osName`: the OS's, or a stand-in's in tests). */
export function agentHostname(config: Config, osName: () => string = osHostname): string {
  const name = config.agent.hostname || osName();
  if (!isValidHostname(name)) {
    throw new AgentConfigError(
      `agent.hostname: "${name}" is not usable as an agent name: it ${AGENT_NAME_EXPECTED}. Set agent.hostname (OSAPI_AGENT_HOSTNAME).`,
    );
  }
  return name;
}

export async function startAgentProcess(opts: {
  config: Config;
  logger: Logger;
  clock: Clock;
  natsServers?: string[];
  heartbeatMs?: number;
  /** Stops waiting for the layout during start-up. */
  signal?: AbortSignal;
  /** Over the managed domains' settings from the config (tests: a stand-in systemctl). */
  host?: Partial<HostSettings>;
  /**
   * Whether an agent named after its host takes a new name without a
   * restart (default true). False where its NATS user is bound to its name
   * (`osapi start`'s own agent): it could not register under another.
   */
  followsRename?: boolean;
}): Promise<AgentProcess> {
  const { config, logger } = opts;
  const hostname = agentHostname(config, opts.host?.kernelHostname);
  const sec = config.agent.security;
  const verifier = jobVerifier(
    loadVerifyKey(
      sec.job_verify_key,
      sec.job_verify_key_file || jobPublicKeyPath(config.state_dir),
    ),
  );
  // Made on first start: the API trusts this agent once it accepted this key.
  const identity = loadAgentIdentity(config.state_dir);
  const settings = config.agent.nats;
  // What the handlers touch on the host: the config's paths, a test's stand-ins over them.
  const host: HostSettings = {
    unitDir: config.agent.services.unit_dir,
    certificateDir: config.agent.certificates.dir,
    cronDir: config.agent.cron.dir,
    cronPeriodicDir: config.agent.cron.periodic_dir,
    sysctlFile: config.agent.sysctl.file,
    sysctlProcDir: config.agent.sysctl.proc_dir,
    ntpSourcesFile: config.agent.ntp.sources_file,
    dockerSocket: config.agent.docker.socket,
    netplanDir: config.agent.network.netplan_dir,
    connectivityCheckS: config.agent.network.connectivity_check_s,
    natsReachable: (withinMs: number) => natsReachable(nc, withinMs),
    stateDir: config.state_dir,
    hostnameFile: config.agent.node.hostname_file,
    timezone: {
      localtime: config.agent.timezone.localtime,
      timezoneFile: config.agent.timezone.timezone_file,
      zoneinfoDir: config.agent.timezone.zoneinfo_dir,
    },
    ...opts.host,
  };
  // Before NATS: a network change this agent was checking when it stopped
  // is undone (it may be what keeps it from NATS), as the check would have.
  const undone = await recoverNetplanChange(host);
  if (undone) {
    logger.warn(
      { path: undone.path, ...(undone.error ? { err: undone.error } : {}) },
      undone.undone
        ? 'the agent stopped while checking a network change; the previous configuration was put back and applied'
        : undone.ignored
          ? 'found a record of a network change the agent was checking when it stopped, but could not use it: nothing was put back; check the netplan files and the record'
          : 'the agent stopped while checking a network change, and putting the previous configuration back failed: check the file',
    );
  }
  useDirectSpawn(config.agent.direct_spawn);
  // Before NATS: a port in use is a config error to report at once.
  const metrics = await startAgentMetrics(hostname, config.agent.metrics_port);
  if (metrics) logger.info({ url: metrics.url }, 'agent metrics served');
  const nc = await connectNats({
    settings: { ...settings, servers: opts.natsServers ?? settings.servers },
    logger,
  }).catch(async (err: unknown) => {
    await metrics?.close();
    throw err;
  });
  // The agent's options but its name (and the rename it came from).
  const options: Omit<AgentOptions, 'hostname'> = {
    nc,
    names: infraNames({ ...config.nats, namespace: settings.namespace }),
    labels: config.agent.labels,
    maxJobs: config.agent.max_jobs,
    maxOutputBytes: config.agent.max_output_bytes,
    resolvConfPath: config.agent.dns.resolv_conf,
    host,
    consumer: config.agent.consumer,
    listen: config.agent.listen,
    heartbeatMs: opts.heartbeatMs ?? heartbeatInterval(config.nats.registry.ttl),
    identity,
    facts: {
      // Stored at least every 3 minutes, whatever the interval: the
      // bucket keeps an entry 10 minutes (nats/layout.ts FACTS_TTL_MS).
      intervalMs: Math.min(config.agent.facts.interval, 3 * 60_000),
      timeoutMs: config.agent.facts.timeout,
      dir: config.agent.facts.dir,
      custom: config.agent.facts.custom,
    },
    conditions: {
      memoryPercent: config.agent.conditions.memory_pressure,
      diskPercent: config.agent.conditions.disk_pressure,
      loadPerCpu: config.agent.conditions.high_load,
    },
    verifier,
    ...(metrics
      ? { observeRun: metrics.observeRun, observeConditions: metrics.observeConditions }
      : {}),
    clock: opts.clock,
    logger,
  };
  const follows = !config.agent.hostname && opts.followsRename !== false;
  let current: Agent;
  // Renames run one after another, and a stop waits for the one under way.
  let renaming: Promise<void> = Promise.resolve();
  // Agents under an old name finishing their runs; a stop stops them too.
  const retiring = new Set<Agent>();
  /**
   * The host was renamed by a job: a new agent under the new name, then the
   * old one retired (what it runs finishes). Only where agent.hostname is not
   * set: a configured name is the operator's, not the host's.
   */
  const onRenamed = (name: string, jobId: string, from: string) => {
    renaming = renaming.then(async () => {
      if (!isValidHostname(name) || name === current.hostname) return;
      const old = current;
      try {
        current = await startAgent({
          ...options,
          ...(follows ? { onRenamed } : {}),
          hostname: name,
          // The name that ran the job: its result there backs the claim.
          renamedFrom: { hostname: from, job_id: jobId },
        });
      } catch (err) {
        logger.error(
          { err: String(err), hostname: old.hostname, new_hostname: name },
          "could not re-register the agent under the host's new name; it keeps its old one until restarted",
        );
        return;
      }
      logger.info(
        { hostname: name, old_hostname: old.hostname, job_id: jobId },
        "agent re-registered under the host's new name",
      );
      retiring.add(old);
      void old.retire().finally(() => retiring.delete(old));
    });
  };
  try {
    current = await startWhenLayoutExists(logger, opts.signal, () =>
      startAgent({
        ...options,
        ...(follows ? { onRenamed } : {}),
        hostname,
      }),
    );
    return {
      get agent() {
        return current;
      },
      ...(metrics ? { metricsUrl: metrics.url } : {}),
      commandSpawn: spawnMode(),
      async stop() {
        await renaming;
        await Promise.all([current.stop(), ...[...retiring].map((a) => a.stop())]);
        await closeNats(nc);
        await metrics?.close();
      },
    };
  } catch (err) {
    await nc.close();
    await metrics?.close();
    throw err;
  }
}

/**
 * Agents open the layout; they do not create it (at fleet scale that would
 * be thousands of creates in lockstep). Until the API server or
 * `osapi nats server start` has made it, wait and say so. A request that
 * timed out (a server busy with a whole fleet starting at once) is tried
 * again too, after a random pause, so that the retries do not come in step.
 */
async function startWhenLayoutExists(
  logger: Logger,
  signal: AbortSignal | undefined,
  start: () => Promise<Agent>,
): Promise<Agent> {
  let delay = 500;
  for (;;) {
    try {
      return await start();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const missing = err instanceof SharedConsumerMissingError || isNotFound(err);
      const busy = isTimeout(err);
      if (signal?.aborted || !(missing || busy)) throw err;
      logger.warn(
        { err: message },
        missing
          ? 'the JetStream layout is not there yet; waiting (start the API server or `osapi nats server start`)'
          : 'NATS did not answer in time; trying again',
      );
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
