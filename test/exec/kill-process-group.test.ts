import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { killProcessGroup } from '../../src/exec/index.js';
import { isAlive, killQuietly, waitUntil } from './helpers.js';

describe('killProcessGroup', () => {
  it('signals every process of the group', async () => {
    const child = spawn('sh', ['-c', 'sleep 300 & echo $!; sleep 300'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const leader = child.pid ?? 0;
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const background = Number(line.toString().trim());
    try {
      expect(killProcessGroup(leader, 'SIGKILL')).toBe(true);
      await once(child, 'exit');
      await waitUntil(() => !isAlive(background), 'the background sleep is dead');
    } finally {
      killQuietly(background);
      killQuietly(leader);
    }
  });

  it('ignores a group that is already gone', async () => {
    const child = spawn('true', [], { detached: true, stdio: 'ignore' });
    await once(child, 'exit');
    expect(killProcessGroup(child.pid ?? 0, 'SIGTERM')).toBe(false);
  });

  it.each([0, 1, -5, 1.5, Number.NaN])(
    'refuses pid %s, which would reach other processes',
    (pid) => {
      expect(() => killProcessGroup(pid, 'SIGTERM')).toThrow(RangeError);
    },
  );
});
