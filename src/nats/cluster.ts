// The supervised server's place in a cluster, from `nats.server.name` and
// `nats.server.cluster`, checked before nats-server starts: a bad cluster
// setting otherwise shows up as a fatal line in nats-server's own log, or as
// streams that cannot be created minutes later.
import { hostname as osHostname } from 'node:os';
import { type Config, ConfigError } from '../config/index.js';
import type { NatsClusterOptions } from './server.js';

export interface ServerPlacement {
  /** nats-server's server_name: JetStream peers know each other by it. Unset: nats-server's own. */
  serverName?: string;
  /** Null: a single server, no routes. */
  cluster: NatsClusterOptions | null;
}

// nats-server refuses spaces in both names; keep them to what reads well in logs and paths.
const NAME = /^[A-Za-z0-9_.-]+$/;

const REPLICATED = ['stream', 'kv', 'audit', 'registry', 'dlq'] as const;

/** Throws a ConfigError naming every key at fault. */
export function serverPlacement(config: Config, hostname = osHostname()): ServerPlacement {
  const s = config.nats.server;
  const c = s.cluster;
  const problems: string[] = [];
  // A single server needs no stable name; a cluster node does.
  const serverName = s.name || (c.name ? hostname : undefined);
  if (serverName !== undefined && !NAME.test(serverName)) {
    problems.push(
      `nats.server.name: "${serverName}" ${s.name ? '' : '(the OS hostname) '}is not usable as a NATS server name: expected letters, digits, "_", "-" and dots`,
    );
  }
  const maxReplicas = Math.max(...REPLICATED.map((k) => config.nats[k].replicas));
  const widest = REPLICATED.find((k) => config.nats[k].replicas === maxReplicas) ?? 'stream';

  if (!c.name) {
    if (c.routes.length > 0) {
      problems.push(
        'nats.server.cluster.routes is set but nats.server.cluster.name is empty: name the cluster (the same name on every node) to run as a node of it',
      );
    }
    if (maxReplicas > 1) {
      problems.push(
        `nats.${widest}.replicas is ${maxReplicas} but this server runs alone (nats.server.cluster.name is empty): more than one replica needs a cluster of at least that many nodes`,
      );
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return { ...(serverName ? { serverName } : {}), cluster: null };
  }

  if (!NAME.test(c.name)) {
    problems.push(
      `nats.server.cluster.name: "${c.name}" is not usable as a cluster name: expected letters, digits, "_", "-" and dots`,
    );
  }
  if (c.routes.length === 0) {
    problems.push(
      'nats.server.cluster.routes is empty: JetStream in a cluster needs the route URL of every node (nats-route://host:port), the same list on each',
    );
  }
  if (c.port !== 0 && c.port === s.port) {
    problems.push(
      `nats.server.cluster.port ${c.port} is also nats.server.port: routes and clients need ports of their own`,
    );
  }
  // This node may or may not be in its own route list: at most routes + 1 nodes.
  if (c.routes.length > 0 && maxReplicas > c.routes.length + 1) {
    problems.push(
      `nats.${widest}.replicas is ${maxReplicas} but nats.server.cluster.routes names ${c.routes.length} node(s): a stream cannot have more replicas than the cluster has nodes`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(serverName ? { serverName } : {}),
    cluster: { name: c.name, host: c.host, port: c.port, routes: [...c.routes] },
  };
}
