// Ends a run on the caller's request: an aborted signal stops the group the same way a timeout does.
import type { RunEnd } from './types.js';

export function onCancel(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (signal === undefined) return () => {};
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

export function cancelledEnd(started: boolean): { end: RunEnd; error: string } {
  return {
    end: { kind: 'cancelled' },
    error: started
      ? 'cancelled; the process group was killed'
      : 'cancelled before the process started',
  };
}
