// The supervised nats-server's users: from the config, the API user (full
// permissions) and the agent user (agent permissions only), written to a
// nats-server config file that only this user can read.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { infraNames, isValidHostname } from '../names/names.js';
import { sharedConsumerName } from './any-consumer.js';
import { NatsAuthError, nkeyPublicKey, readNkeySeed } from './auth.js';
import { agentPermissions, type NatsPermissions } from './permissions.js';

/** One nats-server user: a username and password, or an nkey public key. */
export type NatsServerUser = ({ user: string; password: string } | { nkey: string }) & {
  permissions?: NatsPermissions;
};

export interface NatsServerAuth {
  users: NatsServerUser[];
}

/** The file name, in the store dir, of the config written for the supervised server. */
export const SERVER_CONFIG_FILE = 'nats-server.conf';

/**
 * Builds the user list from the config, or returns null when the server runs
 * without auth. `nats.server.auth.type` turns auth on and says which kind of
 * user the server accepts; the users themselves are the clients' own
 * credentials (`api.server.nats.auth`, `agent.nats.auth`), plus public keys
 * listed for clients whose seeds live elsewhere, plus, when set, the server
 * section's own credentials as a user with full permissions (for operators).
 */
export async function serverAuthFromConfig(
  config: Config,
  opts: {
    /**
     * The host of the one agent of `agent.nats.auth` (`osapi start`: an agent
     * in the same process), whose writes are then held to its own keys.
     */
    agentHostname?: string;
  } = {},
): Promise<NatsServerAuth | null> {
  const type = config.nats.server.auth.type;
  if (type === 'none') return null;
  const server = config.nats.server.auth;
  const api: NatsServerUser[] = [];
  const agent: NatsServerUser[] = [];
  const admin: NatsServerUser[] = [];

  const add = async (
    into: NatsServerUser[],
    key: string,
    auth: Config['agent']['nats']['auth'],
    optional: boolean,
  ) => {
    if (auth.type === 'none') return;
    if (auth.type !== type) {
      throw new NatsAuthError(
        `nats.server.auth.type is ${type} but ${key}.type is ${auth.type}: the supervised NATS server accepts ${type} users only; use the same type`,
      );
    }
    if (auth.type === 'user_pass') {
      if (!auth.username || !auth.password) {
        if (optional && !auth.username && !auth.password) return;
        throw new NatsAuthError(
          `${key} is user_pass but its ${auth.username ? 'password' : 'username'} is empty`,
        );
      }
      into.push({ user: auth.username, password: auth.password });
      return;
    }
    if (!auth.nkey_seed_file) {
      if (optional) return;
      throw new NatsAuthError(`${key} is nkey but ${key}.nkey_seed_file is empty`);
    }
    const seed = await readNkeySeed(auth.nkey_seed_file);
    into.push({ nkey: nkeyPublicKey(seed, auth.nkey_seed_file) });
  };
  await add(api, 'api.server.nats.auth', config.api.server.nats.auth, false);
  await add(agent, 'agent.nats.auth', config.agent.nats.auth, false);
  // The one identity `agentHostname` binds: agent_nkeys listed for other hosts stay unbound.
  const configuredAgent = agent[0];
  await add(admin, 'nats.server.auth', server, true);
  const listed = (keys: string[], key: string): NatsServerUser[] =>
    keys.map((k) => {
      if (type !== 'nkey') {
        throw new NatsAuthError(`${key} lists nkeys but nats.server.auth.type is ${type}`);
      }
      if (!/^U[A-Z2-7]{55}$/.test(k)) {
        throw new NatsAuthError(
          `${key}: "${k}" is not a user public nkey (U followed by 55 characters)`,
        );
      }
      return { nkey: k };
    });
  api.push(...listed(server.api_nkeys, 'nats.server.auth.api_nkeys'));
  agent.push(...listed(server.agent_nkeys, 'nats.server.auth.agent_nkeys'));
  // Agents bound to one host each: the configured agent of a single host, and
  // each nkey listed by hostname.
  const bound = new Map<NatsServerUser, string>();
  if (opts.agentHostname !== undefined && configuredAgent) {
    bound.set(configuredAgent, opts.agentHostname);
  }
  const unbound = new Set(agent.map((u) => ('nkey' in u ? u.nkey : '')));
  for (const [hostname, key] of Object.entries(server.agent_host_nkeys)) {
    const where = `nats.server.auth.agent_host_nkeys.${hostname}`;
    if (!isValidHostname(hostname)) {
      throw new NatsAuthError(`${where}: "${hostname}" is not a hostname an agent can have`);
    }
    if (type !== 'nkey') {
      throw new NatsAuthError(`${where} lists an nkey but nats.server.auth.type is ${type}`);
    }
    // Never echoed: a seed pasted here by mistake is a secret.
    if (!/^U[A-Z2-7]{55}$/.test(key)) {
      throw new NatsAuthError(
        `${where} is not a user public nkey (U followed by 55 characters; never a seed, which starts with SU)`,
      );
    }
    if (unbound.has(key)) {
      throw new NatsAuthError(
        `${where}: this key is also an agent key for any host (agent_nkeys or agent.nats.auth); list it in one place`,
      );
    }
    const u: NatsServerUser = { nkey: key };
    agent.push(u);
    bound.set(u, hostname);
  }

  const missing = (role: string, key: string, list: string) =>
    new NatsAuthError(
      `nats.server.auth.type is ${type} but no ${role} user is configured: set ${key} to type ${type} with ${
        type === 'user_pass'
          ? 'a username and password'
          : `an nkey_seed_file, or list public keys in nats.server.auth.${list}`
      }`,
    );
  if (api.length === 0) throw missing('API', 'api.server.nats.auth', 'api_nkeys');
  if (agent.length === 0) throw missing('agent', 'agent.nats.auth', 'agent_nkeys');
  // One identity with two roles would give the agent the API's permissions.
  const id = (u: NatsServerUser) => ('user' in u ? `user "${u.user}"` : `nkey ${u.nkey}`);
  const agentIds = new Set(agent.map(id));
  for (const u of [...api, ...admin]) {
    if (agentIds.has(id(u))) {
      throw new NatsAuthError(
        `the agent's NATS ${id(u)} is also the API's or the server's: agents need a user of their own, limited to what an agent does`,
      );
    }
  }
  const names = infraNames({ ...config.nats, namespace: config.agent.nats.namespace });
  const sharedConsumer = sharedConsumerName(config.agent.consumer);
  const permissionsOf = (u: NatsServerUser) => {
    const hostname = bound.get(u);
    return agentPermissions(names, { sharedConsumer, ...(hostname ? { hostname } : {}) });
  };
  return {
    users: dedupe([
      ...api,
      ...admin,
      ...agent.map((u) => ({ ...u, permissions: permissionsOf(u) })),
    ]),
  };
}

/** nats-server refuses a user listed twice; the API and admin may be one. */
function dedupe(users: NatsServerUser[]): NatsServerUser[] {
  const seen = new Set<string>();
  return users.filter((u) => {
    const k = 'user' in u ? `u:${u.user}` : `n:${u.nkey}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * nats-server reads JSON as its config syntax; JSON string escaping keeps any
 * password literal (no variable expansion inside quoted strings).
 */
export function renderServerConfig(auth: NatsServerAuth): string {
  return `${JSON.stringify({ authorization: { users: auth.users } }, null, 2)}\n`;
}

/**
 * Writes the config into `dir` (the server's store dir, already 0700) with
 * mode 0600, replacing any earlier one in one rename. Returns its path. The
 * file holds passwords: its contents are never logged.
 */
export function writeServerConfig(dir: string, auth: NatsServerAuth): string {
  const path = join(dir, SERVER_CONFIG_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, renderServerConfig(auth), { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
  return path;
}
