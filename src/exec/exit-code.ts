// Gives every end one shell-style exit code, so a caller that only shows a number still tells a
// timeout (124) from a missing program (127) the way shells and coreutils' timeout do.
import { constants } from 'node:os';
import type { RunEnd } from './types.js';

export const EXIT_TIMED_OUT = 124;
// 125 when a setting of the run (cwd, user) does not fit this host, as coreutils' env and chroot do.
export const EXIT_BAD_CWD = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;
export const EXIT_CANCELLED = 130;

export function exitCodeFor(end: RunEnd): number {
  switch (end.kind) {
    case 'exited':
      return end.exitCode;
    case 'signaled': {
      const signo = (constants.signals as Record<string, number | undefined>)[end.signal];
      return 128 + (signo ?? 0);
    }
    case 'timedOut':
      return EXIT_TIMED_OUT;
    case 'cancelled':
      return EXIT_CANCELLED;
    case 'notFound':
      return EXIT_NOT_FOUND;
    case 'permissionDenied':
    case 'spawnFailed':
    case 'userRefused':
      return EXIT_CANNOT_EXECUTE;
    case 'badCwd':
    case 'unknownUser':
      return EXIT_BAD_CWD;
  }
}
