// Ends what a command leaves behind. A command's leftover background processes are stopped when it
// ends: otherwise they could hold the output pipes (and so the run) open forever, or live on unseen.
// A command that means to leave a daemon running starts it with setsid, out of the group.
import type { Readable } from 'node:stream';
import { signalGroupQuietly } from './kill-process-group.js';

/** After the main process exits, how long output already in the pipes may still arrive. */
export const DRAIN_MS = 100;
/**
 * After SIGKILL to the group, how long to wait for the pipes to close. Only a process that left the
 * group (setsid) can still hold them; its output no longer belongs to this run.
 */
export const ABANDON_PIPES_MS = 200;

/** Kills the rest of the group, then lets go of pipes still held from outside it. */
export function killLeftovers(pid: number, pipes: (Readable | null)[]): () => void {
  signalGroupQuietly(pid, 'SIGKILL');
  const timer = setTimeout(() => {
    for (const pipe of pipes) pipe?.destroy();
  }, ABANDON_PIPES_MS);
  return () => clearTimeout(timer);
}
