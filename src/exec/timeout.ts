// Ends a run that takes too long. The timer only decides when; stopping the group is terminate.ts.
import type { RunEnd } from './types.js';

export function startTimeout(timeoutMs: number, onTimeout: () => void): () => void {
  const timer = setTimeout(onTimeout, timeoutMs);
  return () => clearTimeout(timer);
}

export function timedOutEnd(timeoutMs: number): { end: RunEnd; error: string } {
  return {
    end: { kind: 'timedOut', timeoutMs },
    error: `timed out after ${timeoutMs / 1000} s; the process group was killed`,
  };
}
