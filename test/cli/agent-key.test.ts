// `osapi agent key fingerprint`: the agent's key is made once, 0600, and
// processes starting together on one state dir all read the same whole key.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { childEnv, cleanup, runOsapi, tempDir } from './helpers.js';

afterAll(cleanup);

describe('osapi agent key fingerprint', () => {
  test('six at once on a fresh state dir make one key and print the same fingerprint', async () => {
    const state = tempDir('osapi-cli-key-');
    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        runOsapi(['agent', 'key', 'fingerprint'], { env: childEnv(state) }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const prints = new Set(runs.map((r) => r.stdout.trim()));
    expect(prints.size).toBe(1);
    expect([...prints][0]).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(statSync(join(state, 'agent.key')).mode & 0o777).toBe(0o600);
    const again = await runOsapi(['-j', 'agent', 'key', 'fingerprint'], { env: childEnv(state) });
    expect(JSON.parse(again.stdout).fingerprint).toBe([...prints][0]);
  });
});
