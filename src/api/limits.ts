// Bounds on the API server's HTTP connections. Node's own defaults let a
// client hold a connection for a minute or more without finishing a request
// (headers within 60 s, checked every 30 s) and put no cap on how many
// connections are open: 21,000 half-open connections used up 20,000 file
// descriptors, and with them the NATS reconnects, the console's requests and,
// in `osapi start`, the pipes of every command the agent spawns. Here a
// request must arrive within set times, an idle connection goes, and the
// number of connections is capped below the open-files limit, leaving room
// for what else the process needs.
import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Config } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import type { Logger } from '../log/logger.js';

export interface ConnectionLimits {
  /** Connections open at once; more are closed as they come. */
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0: no limit. */
  maxRequestsPerSocket: number;
}

/**
 * Descriptors the process needs besides the API's client connections: the
 * NATS connections, stdio, libuv's own, the key and console files read at
 * start, DNS lookups and log files. `osapi start` measured 24 once ready.
 */
export const BASE_RESERVED_FDS = 64;
/** Each command the agent runs holds up to three pipes, and a fourth while it is spawned. */
export const FDS_PER_AGENT_JOB = 4;
/** The derived cap never goes above this: beyond, the limit is the machine, not descriptors. */
export const AUTO_MAX_CONNECTIONS = 4096;
/** Nor below this: a server that takes no connection is no server. */
export const MIN_AUTO_CONNECTIONS = 8;

/**
 * This process's soft limit on open files, read from /proc/self/limits
 * (Node raises the soft limit to the hard one as it starts, so this is what
 * the process really has); null when it is unknown or unlimited.
 */
export function openFilesLimit(
  read: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number | null {
  let text: string;
  try {
    text = read();
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  const n = Number(m?.[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Descriptors kept from the API: its own needs, and those of an agent sharing the process. */
export function reservedFds(agentMaxJobs?: number): number {
  return BASE_RESERVED_FDS + (agentMaxJobs ?? 0) * FDS_PER_AGENT_JOB;
}

/**
 * The cap when api.server.limits.max_connections is 0: three quarters of what
 * the reserve leaves (the last quarter is slack for descriptors opened for a
 * moment: a file read, a lookup, a reconnect while the old socket closes),
 * between MIN_AUTO_CONNECTIONS and AUTO_MAX_CONNECTIONS.
 */
export function autoMaxConnections(fdLimit: number | null, reserved: number): number {
  if (fdLimit === null) return AUTO_MAX_CONNECTIONS;
  const room = Math.floor(((fdLimit - reserved) * 3) / 4);
  return Math.max(MIN_AUTO_CONNECTIONS, Math.min(AUTO_MAX_CONNECTIONS, room));
}

export interface ResolvedLimits {
  limits: ConnectionLimits;
  /** The open-files limit the cap was weighed against (null: unknown). */
  fdLimit: number | null;
  reservedFds: number;
  /** True when max_connections was 0 and the cap was derived. */
  derived: boolean;
  /** For the log at start: a cap that leaves the rest of the process too little. */
  warnings: string[];
}

/**
 * The limits from api.server.limits, with the connection cap derived or
 * checked against the open-files limit. `agentMaxJobs` is set when an agent
 * runs in this process (`osapi start`): its commands need descriptors too.
 */
export function resolveConnectionLimits(
  cfg: Config['api']['server']['limits'],
  opts: { agentMaxJobs?: number; fdLimit?: number | null } = {},
): ResolvedLimits {
  if (cfg.headers_timeout > cfg.request_timeout) {
    // Node refuses it too, with a message naming its own option.
    throw new ConfigError([
      `api.server.limits.headers_timeout: expected at most api.server.limits.request_timeout (${cfg.request_timeout} ms), got ${cfg.headers_timeout} ms: the headers are part of the request`,
    ]);
  }
  const fdLimit = opts.fdLimit === undefined ? openFilesLimit() : opts.fdLimit;
  const reserved = reservedFds(opts.agentMaxJobs);
  const derived = cfg.max_connections === 0;
  const maxConnections = derived ? autoMaxConnections(fdLimit, reserved) : cfg.max_connections;
  const warnings: string[] = [];
  if (fdLimit !== null && maxConnections + reserved > fdLimit) {
    const who =
      opts.agentMaxJobs === undefined
        ? 'NATS and its files'
        : `NATS, its files and the agent's ${opts.agentMaxJobs} concurrent commands`;
    warnings.push(
      `${derived ? 'the open-files limit' : `api.server.limits.max_connections (${maxConnections})`} leaves too few file descriptors: ${maxConnections} connections and the ${reserved} this process keeps for ${who} exceed the limit of ${fdLimit}; ${derived ? 'raise the limit' : 'lower max_connections (0 derives it) or raise the limit'} (ulimit -n, or LimitNOFILE= in the systemd unit)`,
    );
  }
  return {
    limits: {
      maxConnections,
      headersTimeoutMs: cfg.headers_timeout,
      requestTimeoutMs: cfg.request_timeout,
      keepAliveTimeoutMs: cfg.keep_alive_timeout,
      maxRequestsPerSocket: cfg.max_requests_per_socket,
    },
    fdLimit,
    reservedFds: reserved,
    derived,
    warnings,
  };
}

/** How often Node looks for requests past their time: often enough that a timeout is close to its value. */
export function checkingIntervalMs(limits: ConnectionLimits): number {
  return Math.max(50, Math.min(5000, Math.floor(limits.headersTimeoutMs / 4)));
}

/** The Fastify options carrying the limits (Fastify sets some on the Node server itself). */
export function fastifyLimitOptions(limits: ConnectionLimits): {
  keepAliveTimeout: number;
  requestTimeout: number;
  maxRequestsPerSocket: number;
  http: ServerOptions;
} {
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
      // TCP keep-alive probes find a client that vanished (no FIN) while it
      // waits for a long command or follows a stream, which no timeout on
      // receiving the request covers.
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
    },
  };
}

/** How often at most a refused connection is logged: a flood must not flood the log too. */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * Caps the server's connections; one past the cap is closed as soon as it is
 * accepted, so it holds a descriptor for no time. Refusals are counted and
 * logged at most once a minute.
 */
export function capConnections(
  server: Server,
  maxConnections: number,
  logger: Logger,
  now: () => number = Date.now,
): void {
  server.maxConnections = maxConnections;
  let dropped = 0;
  let lastLog = Number.NEGATIVE_INFINITY;
  server.on('drop', () => {
    dropped++;
    const t = now();
    if (t - lastLog < DROP_LOG_EVERY_MS) return;
    lastLog = t;
    logger.warn(
      { dropped, max_connections: maxConnections },
      `refused connections: ${maxConnections} are open (api.server.limits.max_connections); a client holding many, or a flood, is the usual cause`,
    );
    dropped = 0;
  });
}
