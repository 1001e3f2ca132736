// The runner's whole suite again, with commands started by Node's spawn: the
// suite's own file starts them with posix_spawn where dist/native has the
// module (src/exec/direct-spawn.ts), so both ways are held to one behaviour.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnMode, useDirectSpawn } from '../../src/exec/direct-spawn.js';

beforeAll(() => useDirectSpawn(false));
afterAll(() => useDirectSpawn(true));

it("starts commands with Node's spawn in this file", () => {
  expect(spawnMode()).toBe('fork');
});

await import('./run-command.test.js');
await import('./stdin-user.test.js');
