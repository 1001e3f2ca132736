// Signals every process of a job at once: each command leads its own process group, so `-pid`
// also reaches whatever it forked, not only the program that was started.
import { hasErrnoCode } from './errno.js';

/**
 * Sends `signal` to the process group led by `pid`. A group that is already gone (ESRCH) is not an
 * error: the result says whether any process received the signal. Other errors (EPERM) are thrown.
 */
export function killProcessGroup(pid: number, signal: NodeJS.Signals | number): boolean {
  // kill(-0) signals our own group and kill(-1) every process we may signal: refuse both.
  if (!Number.isSafeInteger(pid) || pid <= 1) {
    throw new RangeError(`killProcessGroup: pid must be an integer above 1, got ${pid}`);
  }
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if (hasErrnoCode(err, 'ESRCH')) return false;
    throw err;
  }
}

/**
 * Signals the group from a timer, where a throw would crash the host process. EPERM means every
 * member left our reach (e.g. a setuid program); there is nothing more the runner can do then.
 */
export function signalGroupQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    killProcessGroup(pid, signal);
  } catch {
    // See above: nothing left to signal that we are allowed to.
  }
}

/** True while any process, zombies included, still belongs to the group. */
export function isProcessGroupAlive(pid: number): boolean {
  try {
    return killProcessGroup(pid, 0);
  } catch (err) {
    // EPERM: members exist, we just may not signal them.
    return hasErrnoCode(err, 'EPERM');
  }
}
