// An agent user bound to one host (osapi start's own agent, or an nkey listed
// under nats.server.auth.agent_host_nkeys) writes only that host's keys: a
// result, claim, status event or registry entry in another host's name is
// refused by nats-server itself.
import { jetstream } from '@nats-io/jetstream';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import {
  claimKey,
  infraNames,
  kvSubject,
  registryKey,
  responseKey,
  statusKey,
} from '../../src/names/names.js';
import { NatsAuthError } from '../../src/nats/auth.js';
import { closeNats, connectNats, type NatsConnection } from '../../src/nats/connection.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { serverAuthFromConfig } from '../../src/nats/server-config.js';
import { silentLogger, startTestNats, type TestNats } from '../support/nats.js';
import { type NatsUser, natsUsers, userClient } from '../support/nats-users.js';
import { testLayout } from '../support/settings.js';

const HOST = 'bound-01.example.com';
const OTHER = 'other-01';
const users = natsUsers();

function configWith(overrides: Record<string, unknown>) {
  return loadConfig({
    env: {},
    defaultFile: null,
    overrides: { ...users.overrides, ...overrides },
  }).config;
}

let server: TestNats;
const opened: NatsConnection[] = [];
const names = infraNames(testLayout('osapi'));

async function connectAs(user: NatsUser): Promise<NatsConnection> {
  const settings = userClient(server.url, user, `bound-test-${user.username}`);
  const nc = await connectNats({ settings, logger: silentLogger });
  opened.push(nc);
  return nc;
}

beforeAll(async () => {
  server = await startTestNats(await serverAuthFromConfig(configWith({}), { agentHostname: HOST }));
  await ensureLayout(await connectAs(users.api), testLayout('osapi'));
});
afterAll(async () => {
  for (const nc of opened) await closeNats(nc, 500);
  await server?.stop();
});

describe('an agent user bound to its host', () => {
  const id = crypto.randomUUID();
  const writes: Array<[string, (host: string) => string]> = [
    ['a result', (h) => kvSubject(names.responsesBucket, responseKey(id, h))],
    ['a claim', (h) => kvSubject(names.jobsBucket, claimKey(id, { hostname: h }))],
    ['a status event', (h) => kvSubject(names.jobsBucket, statusKey(id, 'failed', h, 1n))],
    ['a registry entry', (h) => kvSubject(names.registryBucket, registryKey(h))],
  ];

  it.each(writes)('writes %s for its own host', async (_what, subject) => {
    const js = jetstream(await connectAs(users.agent), { timeout: 2000 });
    await expect(js.publish(subject(HOST), '{}')).resolves.toMatchObject({
      seq: expect.any(Number),
    });
  });

  it.each(writes)("cannot write %s in another host's name", async (_what, subject) => {
    const js = jetstream(await connectAs(users.agent), { timeout: 2000 });
    const err = await js.publish(subject(OTHER), '{}').catch((e: unknown) => e);
    expect(String(err)).toMatch(/permissions violation/i);
  });

  it('may take the one claim of an _any job', async () => {
    const js = jetstream(await connectAs(users.agent), { timeout: 2000 });
    const subject = kvSubject(names.jobsBucket, claimKey(crypto.randomUUID(), { any: true }));
    await expect(js.publish(subject, HOST)).resolves.toBeTruthy();
  });
});

/** A server of nkey users only: an API key, and the agents' as `over` lists them. */
function nkeyConfig(over: Record<string, unknown>) {
  return configWith({
    'nats.server.auth.type': 'nkey',
    'api.server.nats.auth.type': 'none',
    'agent.nats.auth.type': 'none',
    'nats.server.auth.api_nkeys': [nkeys.createUser().getPublicKey()],
    ...over,
  });
}

describe('nats.server.auth.agent_host_nkeys', () => {
  it('binds only the configured agent to the host of osapi start, not agents listed for others', async () => {
    const seedless = nkeys.createUser().getPublicKey();
    const config = nkeyConfig({
      'nats.server.auth.agent_nkeys': [seedless],
    });
    const auth = await serverAuthFromConfig(config, { agentHostname: HOST });
    const user = auth?.users.find((u) => 'nkey' in u && u.nkey === seedless);
    expect(user?.permissions?.publish.allow).toContain(kvSubject('osapi-job-responses', '>'));
  });

  it('refuses a key listed both for any host and for one host', async () => {
    const key = nkeys.createUser().getPublicKey();
    const config = nkeyConfig({
      'nats.server.auth.agent_nkeys': [key],
      'nats.server.auth.agent_host_nkeys': { 'web-01': key },
    });
    await expect(serverAuthFromConfig(config)).rejects.toThrow(/list it in one place/);
  });

  it('makes one agent user per host, each held to its own keys', async () => {
    const key = nkeys.createUser().getPublicKey();
    const config = nkeyConfig({
      'nats.server.auth.agent_host_nkeys': { 'web-01': key },
    });
    const auth = await serverAuthFromConfig(config);
    const user = auth?.users.find((u) => 'nkey' in u && u.nkey === key);
    expect(user?.permissions?.publish.allow).toContain(
      kvSubject('osapi-job-responses', '*.web-01'),
    );
    expect(user?.permissions?.publish.allow).not.toContain(kvSubject('osapi-job-responses', '>'));
  });

  it('refuses a key that is not a user nkey, naming the host', async () => {
    const config = nkeyConfig({
      'nats.server.auth.agent_host_nkeys': { 'web-01': 'not-a-key' },
    });
    const err = await serverAuthFromConfig(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsAuthError);
    expect(String(err)).toMatch(/agent_host_nkeys\.web-01 is not a user public nkey/);
    expect(String(err)).not.toContain('not-a-key');
  });
});
