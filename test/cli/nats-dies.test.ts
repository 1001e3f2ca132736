// `osapi start` whose nats-server dies on its own: it says so and starts it
// again on the same port and store, and the API server and agent carry on
// through it (a command sent after it runs). In its own file: the clients'
// reconnection takes a few seconds, which would overlap with other files.
import { afterAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  childPids,
  cleanup,
  pollUntil,
  processName,
  runOsapi,
  STACK_LINE,
  startOsapi,
  stopOsapi,
  tempDir,
} from './helpers.js';

afterAll(cleanup, 30_000);

describe('osapi start when nats-server dies on its own', () => {
  test('says so, starts it again on the same port, and goes on answering', async () => {
    const s = await startOsapi(tempDir('osapi-cli-natsdie-'));
    const natsOf = () => childPids(s.pid).find((pid) => processName(pid) === 'nats-server');
    const first = natsOf();
    expect(first).toBeDefined();
    process.kill(first as number, 'SIGKILL');
    const said = await pollUntil(
      () =>
        /nats-server exited unexpectedly \(killed by SIGKILL\); starting it again/.test(s.stderr()),
      5000,
    );
    expect(said, `no word of the dead nats-server on stderr: ${s.stderr()}`).toBe(true);
    expect(await pollUntil(() => /nats-server is running again/.test(s.stderr()), 15_000)).toBe(
      true,
    );
    const second = natsOf();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // The clients reconnect to the same URL on their own: a command goes through.
    const env = childEnv(s.stateDir);
    let r = await runOsapi(['-j', 'client', 'node', 'command', 'exec', '--command', 'true'], {
      env,
      timeoutMs: 20_000,
    });
    // Its clients may still be reconnecting (the API answers 503 meanwhile): tried again, bounded.
    for (let i = 0; i < 20 && r.code !== 0; i++) {
      r = await runOsapi(['-j', 'client', 'node', 'command', 'exec', '--command', 'true'], {
        env,
        timeoutMs: 20_000,
      });
    }
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results[0].exit_code).toBe(0);
    expect(s.child.exitCode).toBeNull();
    const exit = await stopOsapi(s);
    expect(exit.code).toBe(0);
    expect(s.stderr()).not.toContain(STACK_LINE);
  }, 60_000);
});
