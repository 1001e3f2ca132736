// `osapi start` (the API server and the agent in one process) with a small
// open-files limit, against a slowloris of more connections than that limit:
// the API's connection cap, derived from the limit, keeps descriptors for NATS
// and the agent's commands, and the attackers are timed out; then /health and
// a command answer. Without the cap and timeouts the connections took every
// descriptor and held them for a minute or more.
import { afterAll, describe, expect, test } from 'vitest';
import { slowloris } from '../support/slowloris.js';
import { childEnv, cleanup, runOsapi, startOsapi, tempDir } from './helpers.js';

afterAll(cleanup, 30_000);

/** Small enough that the attack below would take every descriptor, large enough to start. */
const FD_LIMIT = 256;

describe('osapi start under a slowloris', () => {
  test('times the attack out and keeps room for the agent: /health and a command answer', async () => {
    const stateDir = tempDir('osapi-cli-loris-');
    const started = await startOsapi(stateDir, {
      fdLimit: FD_LIMIT,
      env: {
        OSAPI_API_SERVER_LIMITS_HEADERS_TIMEOUT: '1s',
        OSAPI_API_SERVER_LIMITS_REQUEST_TIMEOUT: '2s',
        OSAPI_API_SERVER_LIMITS_KEEP_ALIVE_TIMEOUT: '1s',
      },
    });
    const url = started.ready.api_url;
    const attack = slowloris({
      port: Number(new URL(url).port),
      count: FD_LIMIT + 50,
      // The attack's own end, well before the test's: Node's defaults would hold it past this.
      forMs: 20_000,
      everyMs: 200,
    });
    const outcome = await attack.done.finally(() => attack.stop());
    expect(outcome.stoppedByAttacker).toBe(0);
    expect(outcome.closedByServer).toBe(FD_LIMIT + 50);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const r = await runOsapi(
      ['client', 'node', 'command', 'exec', '--command', 'echo', '--args', 'still,here', '-j'],
      { env: childEnv(stateDir) },
    );
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { results: Array<{ stdout: string }> };
    expect(body.results[0]?.stdout).toBe('still here\n');
    // No part of the process ran out of descriptors meanwhile.
    expect(started.stderr()).not.toMatch(/EMFILE|too many open files/i);
  });
});
