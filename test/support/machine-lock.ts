// A lock every checkout's tests on this machine share, by name: for a test
// that changes something there is one of per machine (dpkg's database, the
// system trust store), two test runs at once take turns instead of meeting
// each other's change half way. Held by `flock` in a child process until
// released; waits its turn.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const LOCK_DIR = '/run/lock';

/** Holds the machine-wide lock `name` (a file under /run/lock) until the returned function is called. */
export async function holdMachineLock(name: string): Promise<() => Promise<void>> {
  mkdirSync(LOCK_DIR, { recursive: true });
  const path = `${LOCK_DIR}/osapi-tests-${name}.lock`;
  // flock runs the shell once the lock is held; the shell says so, then waits on stdin.
  const child = spawn('flock', ['-x', path, 'sh', '-c', 'echo held; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('held')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ended (${code}) before holding ${path}`)));
  });
  return async () => {
    child.stdin?.end();
    await exited;
  };
}
