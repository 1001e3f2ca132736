// NATS authentication from the command line: `osapi start` with no NATS
// settings makes its own passwords, listens on the loopback only and runs a
// command end to end; its agent's password writes only its own host's keys;
// `auth: none` must be asked for, and is warned about; a component with wrong
// credentials stops at start with a clear message; `osapi nats nkey` makes a
// key pair.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, describe, expect, test } from 'vitest';
import { connectNats } from '../../src/nats/connection.js';
import { silentLogger } from '../support/nats.js';
import {
  childEnv,
  cleanup,
  runOsapi,
  STACK_LINE,
  type StartedOsapi,
  startOsapi,
  stopOsapi,
  tempDir,
} from './helpers.js';

afterAll(cleanup, 30_000);

const mode = (path: string) => statSync(path).mode & 0o777;

describe('osapi start with no NATS settings: secure by default', () => {
  const stateDir = tempDir('osapi-cli-nats-auth-');
  const authEnv = {};
  let started: StartedOsapi;
  let creds: { api: { username: string; password: string }; agent: typeof creds.api };

  test('starts, with generated passwords kept 0600 in the state dir', async () => {
    started = await startOsapi(stateDir, { env: authEnv });
    expect(started.ready.status).toBe('ready');
    const credsPath = join(stateDir, 'nats-credentials.json');
    expect(mode(credsPath)).toBe(0o600);
    creds = JSON.parse(readFileSync(credsPath, 'utf8'));
    expect(creds.api.username).toBe('osapi-api');
    expect(creds.agent.username).toBe('osapi-agent');
    expect(creds.agent.password).not.toBe(creds.api.password);
    expect(mode(join(stateDir, 'jetstream', 'nats-server.conf'))).toBe(0o600);
  });

  test('runs a command end to end through the authenticated NATS', async () => {
    const r = await runOsapi(
      ['client', 'node', 'command', 'exec', '--command', 'echo', '--args', 'auth,on', '-j'],
      { env: childEnv(stateDir) },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].stdout).toBe('auth on\n');
  });

  test('the server refuses a client without credentials', async () => {
    const err = await connectNats({
      settings: {
        host: '',
        port: 0,
        servers: [started.ready.nats_url],
        client_name: 'intruder',
        auth: { type: 'none' },
      },
      logger: silentLogger,
      firstConnectTimeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/refused intruder \(no credentials\).*Authorization Violation/);
  });

  test('listens on the loopback only', () => {
    expect(started.ready.nats_url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
  });

  test("its agent's password writes only its own host's keys", async () => {
    const nc = await connectNats({
      settings: {
        host: '',
        port: 0,
        servers: [started.ready.nats_url],
        client_name: 'agent-creds',
        auth: { type: 'user_pass', ...creds.agent },
      },
      logger: silentLogger,
      firstConnectTimeoutMs: 5000,
    });
    try {
      const js = jetstream(nc, { timeout: 2000 });
      const id = crypto.randomUUID();
      const own = `$KV.osapi-job-responses.${id}.${started.ready.hostname.replaceAll('.', '=')}`;
      await expect(js.publish(own, '{}')).resolves.toBeTruthy();
      const other = await js
        .publish(`$KV.osapi-job-responses.${id}.someone-else`, '{}')
        .catch((e: unknown) => e);
      expect(String(other)).toMatch(/permissions violation/i);
    } finally {
      await nc.close();
    }
  });

  test('an agent with a wrong password stops at start, saying what to check, not the password', async () => {
    const wrong = `wrong-${crypto.randomUUID()}`;
    const r = await runOsapi(['agent', 'start'], {
      // The start's state dir: the agent finds the job verification key there.
      env: childEnv(stateDir, {
        OSAPI_AGENT_NATS_SERVERS: started.ready.nats_url,
        OSAPI_AGENT_NATS_AUTH_TYPE: 'user_pass',
        OSAPI_AGENT_NATS_AUTH_USERNAME: 'osapi-agent',
        OSAPI_AGENT_NATS_AUTH_PASSWORD: wrong,
        OSAPI_AGENT_HOSTNAME: 'wrong-01',
      }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused osapi-agent \(user "osapi-agent"\)/);
    expect(r.stderr).toContain('agent.nats.auth');
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).not.toContain(STACK_LINE);
  });

  test('stops cleanly, and never printed a password', async () => {
    const exit = await stopOsapi(started);
    expect(exit.code).toBe(0);
    const output = started.stdout() + started.stderr();
    expect(output).not.toContain(creds.api.password);
    expect(output).not.toContain(creds.agent.password);
  });
});

describe('osapi start with nats.server.auth.type none, said explicitly', () => {
  test('runs without credentials and warns at start', async () => {
    const stateDir = tempDir('osapi-cli-nats-none-');
    const started = await startOsapi(stateDir, { env: { OSAPI_NATS_SERVER_AUTH_TYPE: 'none' } });
    try {
      expect(started.stderr()).toMatch(/NATS runs without authentication/);
      const nc = await connectNats({
        settings: {
          host: '',
          port: 0,
          servers: [started.ready.nats_url],
          client_name: 'anyone',
          auth: { type: 'none' },
        },
        logger: silentLogger,
        firstConnectTimeoutMs: 5000,
      });
      await nc.close();
    } finally {
      expect((await stopOsapi(started)).code).toBe(0);
    }
  });
});

describe('osapi nats nkey', () => {
  test('writes a user seed 0600, prints its public key, and never overwrites', async () => {
    const dir = tempDir('osapi-cli-nkey-');
    const out = join(dir, 'keys', 'agent.nk');
    const r = await runOsapi(['nats', 'nkey', '-o', out], { env: childEnv(dir) });
    expect(r.code).toBe(0);
    const publicKey = r.stdout.trim();
    expect(publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(mode(out)).toBe(0o600);
    const seed = readFileSync(out, 'utf8').trim();
    expect(nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey()).toBe(publicKey);
    expect(r.stdout + r.stderr).not.toContain(seed);

    const again = await runOsapi(['nats', 'nkey', '-o', out], { env: childEnv(dir) });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists/);
    expect(readFileSync(out, 'utf8').trim()).toBe(seed);
  });
});
