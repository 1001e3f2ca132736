// `osapi start` whose nats-server dies on its own: it says so and exits
// non-zero, no silent hang. In its own file: the stop waits on NATS timeouts
// for several seconds, which then overlaps with the other files.
import { afterAll, describe, expect, test } from 'vitest';
import { cleanup, pollUntil, processName, STACK_LINE, startOsapi, tempDir } from './helpers.js';

afterAll(cleanup, 30_000);

describe('osapi start when nats-server dies on its own', () => {
  test('says so at once and exits non-zero, without hanging', async () => {
    const s = await startOsapi(tempDir('osapi-cli-natsdie-'));
    const nats = s.childrenAtReady.find((pid) => processName(pid) === 'nats-server');
    expect(nats).toBeDefined();
    process.kill(nats as number, 'SIGKILL');
    const said = await pollUntil(() => /nats-server exited unexpectedly/.test(s.stderr()), 3000);
    expect(said, `no word of the dead nats-server on stderr: ${s.stderr()}`).toBe(true);
    // Stopping the API and agent may wait on NATS timeouts; the lifecycle's hard bound is 9 s.
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      s.exited,
      new Promise<null>((res) => {
        timer = setTimeout(() => res(null), 15_000);
      }),
    ]);
    clearTimeout(timer);
    expect(exit, 'osapi start still runs 15 s after its nats-server died').not.toBeNull();
    expect(exit?.code).not.toBe(0);
    expect(s.stderr()).not.toContain(STACK_LINE);
  }, 25_000);
});
