// NATS authentication against a real nats-server: user_pass and nkey users
// made from the config, wrong credentials refused with a clear message that
// shows no secret, and the agent user's permissions: it runs jobs end to end
// but cannot announce a job, write a job definition, or read any result.
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nkeys } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { systemClock } from '../../src/job/clock.js';
import { storeResponseOnce } from '../../src/job/response-once.js';
import { openJobStore } from '../../src/job/store.js';
import {
  infraNames,
  jobKey,
  kvSubject,
  notifySubject,
  outputFilter,
  outputSubject,
  responseKey,
} from '../../src/names/names.js';
import {
  closeNats,
  connectNats,
  type NatsClientSettings,
  NatsConnectError,
  type NatsConnection,
} from '../../src/nats/connection.js';
import { SERVER_CONFIG_FILE, serverAuthFromConfig } from '../../src/nats/server-config.js';
import { silentLogger, startTestNats } from '../support/nats.js';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

const API_PASSWORD = `api-pw-${crypto.randomUUID()}`;
const AGENT_PASSWORD = `agent-pw-${crypto.randomUUID()}`;
const WRONG_PASSWORD = `wrong-pw-${crypto.randomUUID()}`;
const HOST = 'auth-01';
const LABELLED = 'auth-02';

/** Every log line of the run, to check no secret ever reaches one. */
const lines: string[] = [];
const capture = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  }),
);

let sys: TestSystem;
let token: string;
const opened: NatsConnection[] = [];

function client(
  auth: NatsClientSettings['auth'],
  name = 'osapi-auth-test',
  url = sys.nats.url,
): NatsClientSettings {
  return { host: '', port: 0, servers: [url], client_name: name, auth };
}

async function connectAs(settings: NatsClientSettings): Promise<NatsConnection> {
  const nc = await connectNats({ settings, logger: capture, firstConnectTimeoutMs: 5000 });
  opened.push(nc);
  return nc;
}

const agentCreds = { type: 'user_pass', username: 'agent', password: AGENT_PASSWORD } as const;

beforeAll(async () => {
  sys = await startTestSystem({
    natsAuth: true,
    logger: capture,
    overrides: {
      'nats.server.auth.type': 'user_pass',
      'api.server.nats.auth.type': 'user_pass',
      'api.server.nats.auth.username': 'api',
      'api.server.nats.auth.password': API_PASSWORD,
      'agent.nats.auth.type': 'user_pass',
      'agent.nats.auth.username': 'agent',
      'agent.nats.auth.password': AGENT_PASSWORD,
    },
  });
  await sys.startAgent(HOST);
  // A second agent with a label: its subscriptions for _all, its host and each label prefix.
  await sys.startAgent(LABELLED, { group: 'web.dev' });
  await sys.waitForAgents([HOST, LABELLED]);
  token = await sys.token();
});
afterAll(async () => {
  for (const nc of opened) await closeNats(nc, 500);
  await sys?.stop();
});

async function exec(args: string[]) {
  const r = await post(sys, `/node/${HOST}/command/exec`, { command: 'echo', args }, token);
  expect(r.status).toBe(202);
  return r.body;
}

describe('user_pass', () => {
  it('the API and an agent with the right credentials run a command end to end', async () => {
    const body = await exec(['hello', 'auth']);
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({
      hostname: HOST,
      stdout: 'hello auth\n',
      exit_code: 0,
    });
  });

  it('broadcasts and label targets reach agents through their subscriptions', async () => {
    const all = await post(
      sys,
      '/node/_all/command/exec',
      { command: 'echo', args: ['all'] },
      token,
    );
    expect(all.status).toBe(202);
    expect(all.body.results.map((r: { hostname: string }) => r.hostname).sort()).toEqual([
      HOST,
      LABELLED,
    ]);
    const label = await post(
      sys,
      `/node/${encodeURIComponent('group:web')}/command/exec`,
      { command: 'echo', args: ['label'] },
      token,
    );
    expect(label.status).toBe(202);
    expect(label.body.results).toMatchObject([{ hostname: LABELLED, stdout: 'label\n' }]);
  });

  it('writes the server config with mode 0600', () => {
    const path = join(sys.nats.storeDir, 'jetstream', SERVER_CONFIG_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a wrong password is refused at once, naming the client and what to check, not the password', async () => {
    const started = Date.now();
    const err = await connectAs(
      client({ type: 'user_pass', username: 'agent', password: WRONG_PASSWORD }, 'osapi-agent'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsConnectError);
    const message = (err as Error).message;
    expect(message).toMatch(/refused osapi-agent \(user "agent"\)/);
    expect(message).toMatch(/Authorization Violation/i);
    expect(message).toContain('agent.nats.auth');
    expect(message).not.toContain(WRONG_PASSWORD);
    // Not retried until a timeout: credentials do not fix themselves.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('no credentials at all are refused too', async () => {
    const err = await connectAs(client({ type: 'none' })).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/refused osapi-auth-test \(no credentials\)/);
  });

  it('user_pass without a password is a config error, before any connection', async () => {
    const err = await connectAs(
      client({ type: 'user_pass', username: 'agent', password: '' }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsConnectError);
    expect((err as Error).message).toMatch(/password is empty/);
  });
});

describe("the agent user's permissions", () => {
  const names = () =>
    infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });

  it('cannot publish a job notification', async () => {
    const nc = await connectAs(client(agentCreds));
    const js = jetstream(nc, { timeout: 2000 });
    const subject = notifySubject(names(), 'modify', { kind: 'any' });
    const err = await js.publish(subject, crypto.randomUUID()).catch((e: unknown) => e);
    expect(String(err)).toMatch(/permissions violation/i);
    expect(String(err)).toContain(subject);
  });

  it('cannot write a job definition', async () => {
    const nc = await connectAs(client(agentCreds));
    const js = jetstream(nc, { timeout: 2000 });
    const subject = kvSubject(names().jobsBucket, jobKey(crypto.randomUUID()));
    const err = await js.publish(subject, '{}').catch((e: unknown) => e);
    expect(String(err)).toMatch(/permissions violation/i);
  });

  it("cannot read another host's result, by get, watch or subscription", async () => {
    // A result of another host, written by the API user.
    const jobId = crypto.randomUUID();
    const key = responseKey(jobId, 'other-01');
    const apiKv = await new Kvm(sys.api.nc).open(names().responsesBucket);
    await apiKv.put(key, JSON.stringify({ secret: 'output of other-01' }));
    expect((await apiKv.get(key))?.string()).toContain('other-01');

    const nc = await connectAs(client(agentCreds));
    const kv = await new Kvm(jetstream(nc, { timeout: 2000 })).open(names().responsesBucket);
    expect(String(await kv.get(key).catch((e: unknown) => e))).toMatch(/permissions violation/i);
    // Direct get, as a bucket with allow_direct would be read.
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const viaDirect = await jsm.direct
      .getMessage(`KV_${names().responsesBucket}`, {
        last_by_subj: kvSubject(names().responsesBucket, key),
      })
      .catch((e: unknown) => e);
    expect(String(viaDirect)).toMatch(/permissions violation/i);
    // A consumer on the bucket's stream (what a watch or keys() makes).
    const watch = await kv.watch({ key: `${jobId}.>` }).catch((e: unknown) => e);
    expect(String(watch)).toMatch(/permissions violation/i);
    // A plain subscription to the bucket's subjects, to catch results as written.
    const sub = nc.subscribe(kvSubject(names().responsesBucket, '>'));
    const closed = await sub.closed;
    expect(String(closed)).toMatch(/permissions violation/i);
  });

  it("cannot read or write the console's login codes", async () => {
    const bucket = names().loginCodesBucket;
    const apiKv = await new Kvm(sys.api.nc).open(bucket);
    await apiKv.put('t.d', JSON.stringify({ subject: 'alice@example.com' }));
    const nc = await connectAs(client(agentCreds));
    const kv = await new Kvm(jetstream(nc, { timeout: 2000 })).open(bucket);
    expect(String(await kv.get('t.d').catch((e: unknown) => e))).toMatch(/permissions violation/i);
    expect(String(await kv.put('t.e', '{}').catch((e: unknown) => e))).toMatch(
      /permissions violation/i,
    );
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const viaDirect = await jsm.direct
      .getMessage(`KV_${bucket}`, { last_by_subj: kvSubject(bucket, 't.d') })
      .catch((e: unknown) => e);
    expect(String(viaDirect)).toMatch(/permissions violation/i);
    const watch = await kv.watch({ key: '>' }).catch((e: unknown) => e);
    expect(String(watch)).toMatch(/permissions violation/i);
    await apiKv.purge('t.d');
  });

  it("sends live output, and cannot listen to any host's", async () => {
    const subject = outputSubject(names(), crypto.randomUUID(), HOST);
    const apiNc = await connectAs(
      client({ type: 'user_pass', username: 'api', password: API_PASSWORD }),
    );
    const seen: string[] = [];
    apiNc.subscribe(outputFilter(names()), {
      callback: (_e, m) => {
        seen.push(m.subject);
      },
    });
    await apiNc.flush();
    const nc = await connectAs(client(agentCreds));
    nc.publish(subject, '{}');
    await nc.flush();
    await apiNc.flush();
    expect(seen).toContain(subject);
    const sub = nc.subscribe(outputFilter(names()));
    expect(String(await sub.closed)).toMatch(/permissions violation/i);
  });

  it("cannot hear the API's replies, which carry results", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const agentNc = await connectAs(client(agentCreds));
    const heard: string[] = [];
    agentNc.subscribe('_INBOX.>', {
      callback: (_e, m) => {
        heard.push(m.string());
      },
    });
    // The control: a user without limits listening on everything sees it.
    const apiNc = await connectAs(
      client({ type: 'user_pass', username: 'api', password: API_PASSWORD }),
    );
    const seen: string[] = [];
    apiNc.subscribe('>', {
      callback: (_e, m) => {
        seen.push(m.string());
      },
    });
    await Promise.all([agentNc.flush(), apiNc.flush()]);

    const body = await exec([marker]);
    expect(body.results[0].stdout).toBe(`${marker}\n`);
    // Whatever the server sent before these round trips has arrived.
    await Promise.all([agentNc.flush(), apiNc.flush()]);
    expect(seen.some((s) => s.includes(marker))).toBe(true);
    expect(heard.some((s) => s.includes(marker))).toBe(false);
  });
});

describe("the agent's own result", () => {
  it('is stored once, without reading, with the agent credentials', async () => {
    const nc = await connectAs(client(agentCreds));
    const names = infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
    const store = await openJobStore(nc, names, systemClock);
    const r = {
      job_id: crypto.randomUUID(),
      hostname: HOST,
      status: 'failed' as const,
      data: null,
      error: 'first',
      started_at: new Date().toISOString(),
      finished_at: new Date().toISOString(),
    };
    expect(await storeResponseOnce(store, r)).toBe(true);
    // A redelivery after a crash: the result is there, so nothing is overwritten.
    expect(await storeResponseOnce(store, { ...r, error: 'second' })).toBe(false);
    const apiKv = await new Kvm(sys.api.nc).open(names.responsesBucket);
    expect((await apiKv.get(responseKey(r.job_id, HOST)))?.json()).toMatchObject({
      error: 'first',
    });
  });
});

describe('nkey', () => {
  let dir: string;
  let nkeySys: TestSystem;
  const seedFile = (name: string, seed: Uint8Array, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, `${new TextDecoder().decode(seed)}\n`, { mode });
    chmodSync(path, mode);
    return path;
  };
  let agentSeedFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osapi-nkey-'));
    const apiSeed = seedFile('api.nk', nkeys.createUser().getSeed());
    agentSeedFile = seedFile('agent.nk', nkeys.createUser().getSeed());
    nkeySys = await startTestSystem({
      natsAuth: true,
      overrides: {
        'nats.server.auth.type': 'nkey',
        'api.server.nats.auth.type': 'nkey',
        'api.server.nats.auth.nkey_seed_file': apiSeed,
        'agent.nats.auth.type': 'nkey',
        'agent.nats.auth.nkey_seed_file': agentSeedFile,
      },
    });
    await nkeySys.startAgent('nkey-01');
    await nkeySys.waitForAgents(['nkey-01']);
  });
  afterAll(async () => {
    await nkeySys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an agent with the right seed runs a command end to end', async () => {
    const r = await post(
      nkeySys,
      '/node/nkey-01/command/exec',
      { command: 'echo', args: ['nkey'] },
      await nkeySys.token(),
    );
    expect(r.status).toBe(202);
    expect(r.body.results[0]).toMatchObject({ hostname: 'nkey-01', stdout: 'nkey\n' });
  });

  it('a seed the server does not know is refused, naming its public key, not the seed', async () => {
    const stranger = nkeys.createUser();
    const path = seedFile('stranger.nk', stranger.getSeed());
    const err = await connectNats({
      settings: client({ type: 'nkey', nkey_seed_file: path }, 'osapi-agent', nkeySys.nats.url),
      logger: silentLogger,
      firstConnectTimeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsConnectError);
    const message = (err as Error).message;
    expect(message).toContain(`nkey ${stranger.getPublicKey()}`);
    expect(message).toMatch(/Authorization Violation/i);
    expect(message).not.toContain(new TextDecoder().decode(stranger.getSeed()));
  });

  it('a seed file readable by others is refused before connecting', async () => {
    const path = seedFile('open.nk', nkeys.createUser().getSeed(), 0o644);
    const err = await connectNats({
      settings: client({ type: 'nkey', nkey_seed_file: path }, 'osapi-agent', nkeySys.nats.url),
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsConnectError);
    expect((err as Error).message).toMatch(/accessible by group or others.*chmod 600/);
  });

  it('a file that holds no seed is refused with a clear message', async () => {
    const path = join(dir, 'junk.nk');
    writeFileSync(path, 'not a seed\n', { mode: 0o600 });
    const err = await connectNats({
      settings: client({ type: 'nkey', nkey_seed_file: path }, 'osapi-agent', nkeySys.nats.url),
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/holds no user seed/);
  });

  it('the agent nkey has the agent permissions', async () => {
    const nc = await connectNats({
      settings: client({ type: 'nkey', nkey_seed_file: agentSeedFile }, 'x', nkeySys.nats.url),
      logger: silentLogger,
    });
    try {
      const names = infraNames({
        ...nkeySys.config.nats,
        namespace: nkeySys.config.agent.nats.namespace,
      });
      const js = jetstream(nc, { timeout: 2000 });
      const err = await js
        .publish(notifySubject(names, 'modify', { kind: 'any' }), crypto.randomUUID())
        .catch((e: unknown) => e);
      expect(String(err)).toMatch(/permissions violation/i);
    } finally {
      await closeNats(nc, 500);
    }
  });
});

describe('server users from the config', () => {
  const configWith = (over: Record<string, unknown>) =>
    loadConfig({ env: {}, defaultFile: null, overrides: over }).config;
  const userPass = (user: string, password: string, key: string) => ({
    [`${key}.type`]: 'user_pass',
    [`${key}.username`]: user,
    [`${key}.password`]: password,
  });

  it('refuses one user for both the API and the agents', async () => {
    const config = configWith({
      'nats.server.auth.type': 'user_pass',
      ...userPass('osapi', 'a', 'api.server.nats.auth'),
      ...userPass('osapi', 'a', 'agent.nats.auth'),
    });
    await expect(serverAuthFromConfig(config)).rejects.toThrow(/agents need a user of their own/);
  });

  it('refuses a client whose auth type differs from the server', async () => {
    const config = configWith({
      'nats.server.auth.type': 'nkey',
      ...userPass('api', 'a', 'api.server.nats.auth'),
    });
    await expect(serverAuthFromConfig(config)).rejects.toThrow(
      /nats.server.auth.type is nkey but api.server.nats.auth.type is user_pass/,
    );
  });

  it('keeps a password with quotes, backslashes and $ literal in the server config', async () => {
    const odd = `q"uo\\te $HOME \${x} 'single' #hash ${crypto.randomUUID()}`;
    const config = configWith({
      'nats.server.auth.type': 'user_pass',
      ...userPass('api', odd, 'api.server.nats.auth'),
      ...userPass('agent', 'b', 'agent.nats.auth'),
    });
    const auth = await serverAuthFromConfig(config);
    const nats = await startTestNats(auth);
    try {
      const nc = await connectNats({
        settings: client({ type: 'user_pass', username: 'api', password: odd }, 'odd', nats.url),
        logger: silentLogger,
        firstConnectTimeoutMs: 5000,
      });
      await closeNats(nc, 500);
    } finally {
      await nats.stop();
    }
  });
});

describe('the run as a whole', () => {
  it('the API and the agents never hit a permission violation', () => {
    // The refusals above come from test clients with other names.
    const violations = lines.filter(
      (l) => /(Publish|Subscription) Violation/i.test(l) && /osapi-(agent|api)\b/.test(l),
    );
    expect(violations).toEqual([]);
    // The check can see one: the test clients' violations are logged the same way.
    expect(
      lines.some((l) =>
        /Publish Violation.*osapi-auth-test|osapi-auth-test.*Publish Violation/.test(l),
      ),
    ).toBe(true);
  });

  it('no log line of the run holds a password', () => {
    // The run logged at debug: nats-server's own lines, connections, jobs.
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of [API_PASSWORD, AGENT_PASSWORD, WRONG_PASSWORD]) {
      expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
