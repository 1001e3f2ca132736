// One way for every component to connect to NATS: named client, reconnect
// forever with jittered backoff, every disconnect and reconnect logged.
import {
  errors,
  type NatsConnection,
  NatsConnectionImpl,
  setTransportFactory,
} from '@nats-io/transport-node';
import { redactUrl } from '../config/redact.js';
import type { Logger } from '../log/logger.js';
import { waitAtMost } from '../wait-at-most.js';
import { type NatsAuthSettings, natsAuthOptions } from './auth.js';
import { batchedTransportFactory } from './batched-transport.js';

export type { NatsConnection };

export interface NatsClientSettings {
  host: string;
  port: number;
  /** When non-empty, used instead of host/port: a server or a cluster. */
  servers: string[];
  client_name: string;
  auth: NatsAuthSettings;
}

export interface ConnectOptions {
  settings: NatsClientSettings;
  logger: Logger;
  /** Give up on the first connection after this long; default: keep trying. */
  firstConnectTimeoutMs?: number;
  /** Lets a caller stop the first-connection loop (a shutdown during start). */
  signal?: AbortSignal;
  /** Replies arrive under this prefix instead of `_INBOX` (see API_INBOX_PREFIX). */
  inboxPrefix?: string;
  /** Called on every reconnect after a drop (metrics count them). */
  onReconnect?: () => void;
}

export class NatsConnectError extends Error {
  override name = 'NatsConnectError';
}

export function serverList(s: NatsClientSettings): string[] {
  if (s.servers.length > 0) return s.servers;
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return [`nats://${host}:${s.port}`];
}

/** Connects, retrying the first connection with backoff; later drops reconnect forever. */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const servers = serverList(opts.settings);
  // URLs may carry user:password; messages and logs show them without it.
  const shown = servers.map(redactUrl).join(', ');
  const client = opts.settings.client_name;
  const log = opts.logger.child({ nats: shown, client });
  // Read once, before any attempt: a bad seed file is not worth retrying.
  const auth = await natsAuthOptions(opts.settings.auth, client).catch((err: unknown) => {
    throw new NatsConnectError(`${client}: ${err instanceof Error ? err.message : err}`);
  });
  const started = Date.now();
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      // Set before each connection: another caller's connect would have put the client's own back.
      setTransportFactory(batchedTransportFactory);
      const nc = await NatsConnectionImpl.connect({
        servers,
        name: opts.settings.client_name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        reconnectJitter: 500,
        pingInterval: 20_000,
        // Otherwise every request builds two Error objects up front, stack
        // traces included, in case it times out: a third of an agent's CPU
        // for a broadcast at scale (bench/scale). Errors still say what failed.
        noAsyncTraces: true,
        ...auth.options,
        ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
      });
      watchStatus(nc, log, opts.onReconnect);
      log.debug({ server: nc.getServer(), version: nc.info?.version }, 'connected to NATS');
      return nc;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (
        err instanceof errors.AuthorizationError ||
        err instanceof errors.UserAuthenticationExpiredError
      ) {
        // Retrying cannot fix wrong credentials: stop with the reason.
        throw new NatsConnectError(
          `NATS at ${shown} refused ${client} (${auth.identity}): ${message}. Check its NATS auth settings (api.server.nats.auth for the API server, agent.nats.auth for an agent: type, username and password, or nkey_seed_file) against the users the server accepts.`,
          { cause: err },
        );
      }
      const waited = Date.now() - started;
      if (
        opts.signal?.aborted ||
        (opts.firstConnectTimeoutMs !== undefined && waited >= opts.firstConnectTimeoutMs)
      ) {
        throw new NatsConnectError(
          `cannot connect to NATS at ${shown} (${message}). Is the NATS server running? Start one with \`osapi nats server start\`, or set the nats host/port in the config.`,
          { cause: err },
        );
      }
      log.warn({ attempt, err: message }, 'NATS not reachable yet; retrying');
      await pause(delay, opts.signal);
      delay = Math.min(delay * 2, 5000);
    }
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function watchStatus(nc: NatsConnection, log: Logger, onReconnect?: () => void): void {
  void (async () => {
    // When the connection was lost, so the line that ends the outage says how long it lasted.
    let lostAt: number | null = null;
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          lostAt ??= Date.now();
          log.warn({ server: s.server }, 'disconnected from NATS; reconnecting');
          break;
        case 'reconnect': {
          const awayS = lostAt === null ? 0 : Math.round((Date.now() - lostAt) / 100) / 10;
          lostAt = null;
          log.info(
            { server: s.server, away_s: awayS },
            `reconnected to NATS after ${awayS} s away`,
          );
          onReconnect?.();
          break;
        }
        case 'error':
          log.error({ err: String(s.error) }, 'NATS connection error');
          break;
        default:
          break;
      }
    }
  })();
}

/**
 * Drains (flushes what is pending, then closes), but never waits on a server
 * that is gone for longer than `withinMs`: a shutdown must stay bounded.
 */
export async function closeNats(nc: NatsConnection, withinMs = 2000): Promise<void> {
  if (nc.isClosed()) return;
  await waitAtMost(
    nc.drain().catch(() => {}),
    withinMs,
  );
  if (!nc.isClosed()) await nc.close().catch(() => {});
}
