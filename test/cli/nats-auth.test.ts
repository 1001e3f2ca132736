// NATS authentication from the command line: `osapi start` with one setting
// (nats.server.auth.type user_pass) makes its own passwords and runs a
// command end to end; a component with wrong credentials stops at start with
// a clear message; `osapi nats nkey` makes a key pair.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

describe('osapi start with nats.server.auth.type user_pass and no passwords configured', () => {
  const stateDir = tempDir('osapi-cli-nats-auth-');
  const authEnv = { OSAPI_NATS_SERVER_AUTH_TYPE: 'user_pass' };
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
