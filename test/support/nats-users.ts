// NATS with authentication on, for tests: the API's and the agents' users
// with passwords made for the run, as the config overrides that give the
// supervised server and both clients those users, and a client connection
// as any user_pass user.
import type { NatsClientSettings } from '../../src/nats/connection.js';

export interface NatsUser {
  username: string;
  password: string;
}

export interface NatsUsers {
  api: NatsUser;
  agent: NatsUser;
  /** Config overrides: user_pass on the server, each client with its user. */
  overrides: Record<string, unknown>;
}

export function natsUsers(): NatsUsers {
  const api = { username: 'api', password: `api-pw-${crypto.randomUUID()}` };
  const agent = { username: 'agent', password: `agent-pw-${crypto.randomUUID()}` };
  return {
    api,
    agent,
    overrides: {
      'nats.server.auth.type': 'user_pass',
      'api.server.nats.auth.type': 'user_pass',
      'api.server.nats.auth.username': api.username,
      'api.server.nats.auth.password': api.password,
      'agent.nats.auth.type': 'user_pass',
      'agent.nats.auth.username': agent.username,
      'agent.nats.auth.password': agent.password,
    },
  };
}

/** Client settings for one server URL as a user_pass user. */
export function userClient(url: string, user: NatsUser, name: string): NatsClientSettings {
  return {
    host: '',
    port: 0,
    servers: [url],
    client_name: name,
    auth: { type: 'user_pass', ...user },
  };
}
