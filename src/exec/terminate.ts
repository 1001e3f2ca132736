// Stops a running job politely, then firmly: SIGTERM lets every process of the group clean up, and
// SIGKILL after the grace makes sure none of them outlives the run.
import { isProcessGroupAlive, signalGroupQuietly } from './kill-process-group.js';

export interface Termination {
  /** True until the grace is over and SIGKILL was sent. */
  readonly pending: boolean;
  cancel(): void;
}

export function terminateGroup(pid: number, graceMs: number, onKilled: () => void): Termination {
  signalGroupQuietly(pid, 'SIGTERM');
  let pending = true;
  const timer = setTimeout(() => {
    pending = false;
    if (isProcessGroupAlive(pid)) signalGroupQuietly(pid, 'SIGKILL');
    onKilled();
  }, graceMs);
  return {
    get pending() {
      return pending;
    },
    cancel() {
      pending = false;
      clearTimeout(timer);
    },
  };
}
