// Ends a run the process ended itself (or that something outside the runner killed): the exit code is
// the command's result, so only a signal death carries an error message.
import type { RunEnd } from './types.js';

export function exitEnd(
  code: number | null,
  signal: NodeJS.Signals | null,
): { end: RunEnd; error?: string } {
  if (signal !== null) {
    return { end: { kind: 'signaled', signal }, error: `killed by signal ${signal}` };
  }
  // Node reports either a code or a signal; the fallback only keeps the types honest.
  return { end: { kind: 'exited', exitCode: code ?? 1 } };
}
