import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/exec/exit-code.js';
import type { RunEnd } from '../../src/exec/index.js';

describe('exitCodeFor', () => {
  it.each<[RunEnd, number]>([
    [{ kind: 'exited', exitCode: 0 }, 0],
    [{ kind: 'exited', exitCode: 3 }, 3],
    [{ kind: 'signaled', signal: 'SIGKILL' }, 137],
    [{ kind: 'signaled', signal: 'SIGTERM' }, 143],
    [{ kind: 'timedOut', timeoutMs: 5000 }, 124],
    [{ kind: 'cancelled' }, 130],
    [{ kind: 'notFound' }, 127],
    [{ kind: 'permissionDenied' }, 126],
    [{ kind: 'badCwd', cwd: '/nope' }, 125],
    [{ kind: 'spawnFailed', code: 'EAGAIN' }, 126],
  ])('maps %j to %i', (end, code) => {
    expect(exitCodeFor(end)).toBe(code);
  });
});
