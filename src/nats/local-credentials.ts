// NATS passwords for a single host, made on first use: with
// nats.server.auth.type user_pass and no client passwords configured, the
// supervised server's API and agent users get random passwords kept in
// <state_dir>/nats-credentials.json (0600), so turning auth on is one setting.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { NatsAuthError } from './auth.js';

interface Pair {
  username: string;
  password: string;
}
interface Stored {
  api: Pair;
  agent: Pair;
}

export function localCredentialsPath(stateDir: string): string {
  return join(stateDir, 'nats-credentials.json');
}

const DEFAULT_USER = { api: 'osapi-api', agent: 'osapi-agent' } as const;

/**
 * Returns the config with the API's and the agent's NATS auth filled in from
 * the state dir (generated the first time) wherever the server wants
 * user_pass and the client has no password of its own. Anything configured
 * explicitly is kept as is.
 */
export function withLocalNatsCredentials(config: Config): Config {
  if (config.nats.server.auth.type !== 'user_pass') return config;
  const needs = (a: Config['agent']['nats']['auth']) =>
    a.type === 'none' || (a.type === 'user_pass' && a.password === '');
  const apiAuth = config.api.server.nats.auth;
  const agentAuth = config.agent.nats.auth;
  if (!needs(apiAuth) && !needs(agentAuth)) return config;
  const stored = loadOrCreate(config.state_dir);
  const fill = (a: Config['agent']['nats']['auth'], p: Pair): Config['agent']['nats']['auth'] =>
    needs(a)
      ? // A configured username wins; the stored password then goes with it.
        { ...a, type: 'user_pass', username: a.username || p.username, password: p.password }
      : a;
  return {
    ...config,
    api: {
      ...config.api,
      server: {
        ...config.api.server,
        nats: { ...config.api.server.nats, auth: fill(apiAuth, stored.api) },
      },
    },
    agent: { ...config.agent, nats: { ...config.agent.nats, auth: fill(agentAuth, stored.agent) } },
  };
}

function loadOrCreate(stateDir: string): Stored {
  const path = localCredentialsPath(stateDir);
  const existing = read(path);
  if (existing) return existing;
  const make = (username: string): Pair => ({
    username,
    password: randomBytes(24).toString('base64url'),
  });
  const fresh: Stored = { api: make(DEFAULT_USER.api), agent: make(DEFAULT_USER.agent) };
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
  return fresh;
}

function read(path: string): Stored | null {
  let text: string;
  try {
    const st = statSync(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new NatsAuthError(
        `${path} holds NATS passwords and is accessible by group or others; run: chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<Stored>;
    const ok = (p: Partial<Pair> | undefined): p is Pair =>
      typeof p?.username === 'string' &&
      p.username !== '' &&
      typeof p.password === 'string' &&
      p.password !== '';
    if (ok(v.api) && ok(v.agent)) return { api: v.api, agent: v.agent };
  } catch {
    // reported below
  }
  throw new NatsAuthError(
    `${path} is not a valid NATS credentials file; delete it to have new passwords made`,
  );
}
