// The long-lived commands: `start` (NATS + API + agent on one host),
// `nats server start`, `api server start` and `agent start`. `start` composes
// the same pieces the others run alone, and starts its nats-server again
// when it dies on its own (src/nats/restarts.ts).
import { hostname as osHostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { loadOrCreateSigningKey, signToken } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import { systemClock } from '../../job/clock.js';
import type { RestartedNatsServer } from '../../nats/restarts.js';
import type { NatsServerHandle } from '../../nats/server.js';
import {
  defaultStoreDir,
  removeLocalClient,
  signingKeyPath,
  writeLocalClient,
} from '../../state/local.js';
import { VERSION } from '../../version.js';
import {
  type CommandContext,
  ExitError,
  type GlobalOptions,
  loadContext,
  printJson,
  say,
} from '../context.js';
import { runUntilStopped, type Stoppable, shutdownSignal } from '../lifecycle.js';
import { registerNkeyCommand } from './nkey.js';

// Loaded on demand: an agent process need not carry the HTTP server, nor a
// CLI call the agent, which keeps each process's memory to what it runs.
// The NATS client and server modules are a good part of the rest: a client
// command (`osapi client ...`) speaks HTTP only.
const loadApi = () => import('../../api/start.js');
const loadAgent = () => import('../../agent/start.js');
const loadNats = async () => {
  const [anyConsumer, cluster, connection, layout, localCredentials, server, serverConfig] =
    await Promise.all([
      import('../../nats/any-consumer.js'),
      import('../../nats/cluster.js'),
      import('../../nats/connection.js'),
      import('../../nats/layout.js'),
      import('../../nats/local-credentials.js'),
      import('../../nats/server.js'),
      import('../../nats/server-config.js'),
    ]);
  return {
    ...anyConsumer,
    ...cluster,
    ...connection,
    ...layout,
    ...localCredentials,
    ...server,
    ...serverConfig,
  };
};

/** The signing key from config, else the one generated in the state dir. */
export async function resolveSigningKey(config: Config): Promise<string> {
  return (
    config.api.server.security.signing_key ||
    loadOrCreateSigningKey(signingKeyPath(config.state_dir))
  );
}

function storeDir(ctx: CommandContext): string {
  // The built-in default keeps state per user, not in whatever directory
  // the command happens to run from.
  return ctx.explicit.has('nats.server.store_dir')
    ? ctx.config.nats.server.store_dir
    : defaultStoreDir(ctx.config.state_dir);
}

/**
 * `agentHostname`: `osapi start`'s own agent, the one agent of this server's
 * agent user, which is then held to its own host's keys.
 */
async function startSupervisedNats(
  ctx: CommandContext,
  agentHostname?: string,
): Promise<NatsServerHandle> {
  return (await natsServerStarter(ctx, agentHostname))(ctx.config.nats.server.port);
}

/**
 * How to start this host's nats-server, on a given port: its passwords and
 * users worked out once, so a server started again takes the same clients.
 */
async function natsServerStarter(
  ctx: CommandContext,
  agentHostname?: string,
): Promise<(port: number) => Promise<NatsServerHandle>> {
  const s = ctx.config.nats.server;
  const { withLocalNatsCredentials, serverPlacement, startNatsServer, serverAuthFromConfig } =
    await loadNats();
  // The clients started after the server (API, agent, layout) read ctx.config,
  // so they get the generated quick-start passwords too.
  ctx.config = withLocalNatsCredentials(ctx.config);
  if (s.auth.type === 'none') {
    ctx.logger.warn(
      { host: s.host, port: s.port },
      'NATS runs without authentication (nats.server.auth.type: none): whoever reaches its port can read every output, forge results and purge the audit; remove that setting to have passwords made',
    );
  }
  const placement = serverPlacement(ctx.config);
  const auth = await serverAuthFromConfig(
    ctx.config,
    agentHostname !== undefined ? { agentHostname } : {},
  );
  const dir = storeDir(ctx);
  return (port) =>
    startNatsServer({ host: s.host, port, storeDir: dir, logger: ctx.logger, auth, ...placement });
}

async function natsDied(server: NatsServerHandle): Promise<string> {
  const { describeExit } = await loadNats();
  return server.exited.then((e) => `nats-server exited unexpectedly (${describeExit(e)})`);
}

/** Starts parts in order; a shutdown signal during start stops what already runs. */
async function startParts(
  shutdown: AbortSignal,
  steps: Array<() => Promise<Stoppable>>,
): Promise<Stoppable[] | null> {
  const parts: Stoppable[] = [];
  try {
    for (const step of steps) {
      if (shutdown.aborted) break;
      parts.push(await step());
    }
  } catch (err) {
    for (const p of parts.reverse()) await p.stop().catch(() => {});
    throw err;
  }
  if (shutdown.aborted) {
    for (const p of parts.reverse()) await p.stop().catch(() => {});
    return null;
  }
  return parts;
}

/**
 * Trace export, when the standard OTEL_* variables configure an endpoint
 * (docs/tracing.md); stopped last, so the other parts' last spans are sent.
 */
async function tracingPart(): Promise<Stoppable> {
  const { startTracing, stopTracing, tracingSettingsFromEnv } = await import(
    '../../trace/tracing.js'
  );
  const settings = tracingSettingsFromEnv(process.env);
  if (settings) await startTracing(settings);
  return { name: 'tracing', stop: stopTracing };
}

export function registerServerCommands(program: Command): void {
  program
    .command('start')
    .description(
      'Run a NATS server, the API server and an agent on this host (the single-host default).',
    )
    .option('-p, --port <port>', 'API server port (api.server.port)')
    .action(async (opts: { port?: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const ctx = loadContext(globals, portOverride(opts.port), { 'api.server.port': '--port' });
      const shutdown = shutdownSignal();
      const signingKey = await resolveSigningKey(ctx.config);
      let nats: RestartedNatsServer | undefined;
      let apiUrl = '';
      let hostname = '';
      const parts = await startParts(shutdown, [
        tracingPart,
        async () => {
          const { agentHostname } = await loadAgent();
          const { restartingNatsServer } = await import('../../nats/restarts.js');
          // Started again when it dies on its own; the API and agent reconnect.
          const start = await natsServerStarter(ctx, agentHostname(ctx.config));
          nats = await restartingNatsServer(start, ctx.config.nats.server.port, {
            logger: ctx.logger,
            onRestarted: (server) => makeLayout(ctx, server, shutdown),
          });
          const n = nats;
          return { name: 'nats-server', stop: () => n.stop() };
        },
        async () => {
          const { startApiServer } = await loadApi();
          const { agentHostname } = await loadAgent();
          const { loadAgentIdentity } = await import('../../agent/identity.js');
          const api = await startApiServer({
            config: ctx.config,
            signingKey,
            logger: ctx.logger,
            clock: systemClock,
            natsServers: [nats?.url ?? ''],
            // The agent below shares this process and its open-files limit.
            agentInProcess: { maxJobs: ctx.config.agent.max_jobs },
            // Its own agent is trusted with no step by hand: the quick start.
            ownAgent: (() => {
              const id = loadAgentIdentity(ctx.config.state_dir);
              return {
                hostname: agentHostname(ctx.config),
                fingerprint: id.fingerprint,
                publicKey: id.publicKey,
                machineId: id.machineId,
              };
            })(),
          });
          apiUrl = api.url;
          return { name: 'api', stop: () => api.stop() };
        },
        async () => {
          const { startAgentProcess } = await loadAgent();
          const agent = await startAgentProcess({
            config: ctx.config,
            logger: ctx.logger,
            clock: systemClock,
            natsServers: [nats?.url ?? ''],
            // Its NATS user may write only its own name's keys (the server
            // above binds it): it takes a new host name when restarted.
            followsRename: false,
          });
          hostname = agent.agent.hostname;
          return { name: 'agent', stop: () => agent.stop() };
        },
        async () => {
          // The CLI on this machine picks this up, so nobody copies a token by hand.
          const subject = `${userInfo().username}@${osHostname()}`;
          const token = await signToken({ subject, roles: ['admin'], signingKey });
          writeLocalClient(ctx.config.state_dir, { url: apiUrl, token });
          return {
            name: 'local client',
            stop: async () => removeLocalClient(ctx.config.state_dir),
          };
        },
      ]);
      if (!parts || !nats) throw new ExitError(0);
      if (ctx.json) {
        printJson({
          status: 'ready',
          api_url: apiUrl,
          nats_url: nats.url,
          hostname,
          version: VERSION,
        });
      } else {
        say(`OSAPI ${VERSION} is ready.`);
        say(`  API:   ${apiUrl}`);
        say(`  NATS:  ${nats.url} (store ${storeDir(ctx)})`);
        say(`  Agent: ${hostname}`);
        say('Try:   osapi client node command exec --command uname --args -a');
        say('Stop with Ctrl-C.');
      }
      const code = await runUntilStopped({
        shutdown,
        parts,
        logger: ctx.logger,
        died: nats.gaveUp,
      });
      if (code !== 0) throw new ExitError(code);
    });

  const nats = program.command('nats').description('The NATS server.');
  registerNkeyCommand(nats);
  nats
    .command('server')
    .description('The NATS server.')
    .command('start')
    .description(
      'Run nats-server (JetStream on, file store in nats.server.store_dir) and create the layout.',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>());
      const shutdown = shutdownSignal();
      const clustered = ctx.config.nats.server.cluster.name !== '';
      let server: NatsServerHandle | undefined;
      let layoutDone: Promise<void> = Promise.resolve();
      const parts = await startParts(shutdown, [
        async () => {
          server = await startSupervisedNats(ctx);
          const s = server;
          const layout = makeLayout(ctx, s, shutdown);
          // A cluster node cannot make the layout until enough nodes have
          // joined: it is ready (and lets the next node start) before that.
          if (clustered) {
            layoutDone = layout.then(
              () => ctx.logger.info('JetStream layout ready'),
              (err: unknown) => {
                if (shutdown.aborted) return;
                ctx.logger.error(
                  { err: err instanceof Error ? err.message : String(err) },
                  'could not create the JetStream layout; the API server makes it when it starts',
                );
              },
            );
          } else {
            // Not yet a started part: stop the server here, or it would
            // outlive this process's failed start (and keep it from exiting).
            await layout.catch(async (err: unknown) => {
              await s.stop();
              throw err;
            });
          }
          return { name: 'nats-server', stop: () => s.stop() };
        },
      ]);
      if (!parts || !server) throw new ExitError(0);
      const route = clustered ? { cluster_port: server.clusterPort } : {};
      if (ctx.json) printJson({ status: 'ready', nats_url: server.url, ...route });
      else
        say(
          `NATS server ready at ${server.url}${clustered ? ` (routes on port ${server.clusterPort}, cluster ${ctx.config.nats.server.cluster.name})` : ''} (store ${storeDir(ctx)}). Stop with Ctrl-C.`,
        );
      const code = await runUntilStopped({
        shutdown,
        parts,
        logger: ctx.logger,
        died: natsDied(server),
      });
      await layoutDone;
      if (code !== 0) throw new ExitError(code);
    });

  program
    .command('api')
    .description('The API server.')
    .command('server')
    .description('The API server.')
    .command('start')
    .description('Run the API server against the configured NATS server.')
    .option('-p, --port <port>', 'port to listen on (api.server.port)')
    .action(async (opts: { port?: string }, cmd: Command) => {
      const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>(), portOverride(opts.port), {
        'api.server.port': '--port',
      });
      const shutdown = shutdownSignal();
      const signingKey = await resolveSigningKey(ctx.config);
      let url = '';
      const parts = await startParts(shutdown, [
        tracingPart,
        async () => {
          const { startApiServer } = await loadApi();
          const api = await startApiServer({
            config: ctx.config,
            signingKey,
            logger: ctx.logger,
            clock: systemClock,
          });
          url = api.url;
          return { name: 'api', stop: () => api.stop() };
        },
      ]);
      if (!parts) throw new ExitError(0);
      if (ctx.json) printJson({ status: 'ready', api_url: url });
      else say(`API server listening on ${url}. Stop with Ctrl-C.`);
      await runUntilStopped({ shutdown, parts, logger: ctx.logger });
    });

  const agent = program.command('agent').description('The agent that runs jobs on this host.');
  agent
    .command('key')
    .description("This agent's key, which the API must accept before it takes jobs.")
    .command('fingerprint')
    .description(
      "Print the fingerprint of this agent's key (<state_dir>/agent.key, made if missing), to give to `osapi client agent accept --fingerprint`.",
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>());
      const { loadAgentIdentity } = await import('../../agent/identity.js');
      const { agentHostname } = await loadAgent();
      const id = loadAgentIdentity(ctx.config.state_dir);
      const hostname = agentHostname(ctx.config);
      if (ctx.json) {
        printJson({ hostname, fingerprint: id.fingerprint, machine_id: id.machineId });
      } else process.stdout.write(`${id.fingerprint}\n`);
    });
  agent
    .command('start')
    .description('Run an agent against the configured NATS server.')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = loadContext(cmd.optsWithGlobals<GlobalOptions>());
      const shutdown = shutdownSignal();
      let hostname = '';
      let commandSpawn = '';
      const parts = await startParts(shutdown, [
        tracingPart,
        async () => {
          const { startAgentProcess } = await loadAgent();
          const agent = await startAgentProcess({
            config: ctx.config,
            logger: ctx.logger,
            clock: systemClock,
            signal: shutdown,
          });
          hostname = agent.agent.hostname;
          commandSpawn = agent.commandSpawn;
          return { name: 'agent', stop: () => agent.stop() };
        },
      ]);
      if (!parts) throw new ExitError(0);
      if (ctx.json) printJson({ status: 'ready', hostname, command_spawn: commandSpawn });
      else say(`Agent ${hostname} is listening for jobs. Stop with Ctrl-C.`);
      await runUntilStopped({ shutdown, parts, logger: ctx.logger });
    });
}

/**
 * Creates the JetStream layout through the server just started, waiting while
 * a cluster elects its leader.
 */
async function makeLayout(
  ctx: CommandContext,
  server: NatsServerHandle,
  shutdown: AbortSignal,
): Promise<void> {
  const { connectNats, ensureLayoutWhenReady, ensureSharedConsumerOn } = await loadNats();
  const nc = await connectNats({
    settings: {
      ...ctx.config.api.server.nats,
      servers: [server.url],
      client_name: 'osapi-nats-layout',
    },
    logger: ctx.logger,
    firstConnectTimeoutMs: 10_000,
  });
  try {
    const layout = await ensureLayoutWhenReady(
      nc,
      { ...ctx.config.nats, namespace: ctx.config.nats.server.namespace },
      { logger: ctx.logger, withinMs: 120_000, signal: shutdown },
    );
    // Agents may not make the shared `_any` consumer themselves (their NATS
    // user makes no consumer on the jobs stream): whoever makes the layout does.
    await ensureSharedConsumerOn(nc, layout.names, ctx.config.agent.consumer);
  } finally {
    await nc.close().catch(() => {});
  }
}

function portOverride(port: string | undefined): Record<string, unknown> {
  // The config loader validates it like any other source and names --port.
  return port === undefined ? {} : { 'api.server.port': /^\d+$/.test(port) ? Number(port) : port };
}
