// Whether this checkout has the agent's posix_spawn module, and whether it
// should: setup builds it wherever a C compiler is (scripts/build-native.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpawn, NATIVE_SPAWN_PATH } from '../../src/exec/direct-spawn.js';
import { PACKAGE_ROOT } from '../../src/package-root.js';

/** dist/native/direct-spawn.node is there. */
export const NATIVE_SPAWN_BUILT = existsSync(join(PACKAGE_ROOT, NATIVE_SPAWN_PATH));

/** A C compiler is on PATH (`CC`, else `cc`), so setup and `npm pack` build the module. */
export const C_COMPILER =
  spawnSync('sh', ['-c', 'command -v "$1"', 'sh', process.env.CC || 'cc']).status === 0;

/** How an agent of this checkout starts its commands. */
export const EXPECTED_COMMAND_SPAWN: CommandSpawn = NATIVE_SPAWN_BUILT ? 'posix_spawn' : 'fork';
