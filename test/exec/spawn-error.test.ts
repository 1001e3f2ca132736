import { constants } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSpawnError } from '../../src/exec/spawn-error.js';
import { makeTempDir } from './helpers.js';

// Spawn errors as Node reports them: libuv's negative errno, the errno name, and the syscall.
function spawnError(code: keyof typeof constants.errno, program: string) {
  return Object.assign(new Error(`spawn ${program} ${code}`), {
    errno: -constants.errno[code],
    code,
    syscall: `spawn ${program}`,
  });
}

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  temp = await makeTempDir();
});
afterAll(async () => {
  await temp.remove();
});

describe('describeSpawnError', () => {
  it('blames the program for ENOENT when the directory is fine', async () => {
    expect(await describeSpawnError(spawnError('ENOENT', 'foo'), 'foo', temp.path)).toEqual({
      end: { kind: 'notFound' },
      error: 'program not found: foo',
    });
  });

  it('blames the directory for ENOENT when it vanished after the first check', async () => {
    const cwd = join(temp.path, 'gone');
    expect(await describeSpawnError(spawnError('ENOENT', 'foo'), 'foo', cwd)).toEqual({
      end: { kind: 'badCwd', cwd },
      error: `working directory does not exist: ${cwd}`,
    });
  });

  it('reports EACCES on the program as permissionDenied', async () => {
    expect(await describeSpawnError(spawnError('EACCES', './x'), './x', temp.path)).toEqual({
      end: { kind: 'permissionDenied' },
      error: 'permission denied: ./x is not executable',
    });
  });

  it('reports a host that cannot start processes as spawnFailed, in words', async () => {
    const ending = await describeSpawnError(spawnError('EMFILE', 'foo'), 'foo', temp.path);
    expect(ending.end).toEqual({ kind: 'spawnFailed', code: 'EMFILE' });
    expect(ending.error).toBe('could not start foo: too many open files (EMFILE)');
  });
});
