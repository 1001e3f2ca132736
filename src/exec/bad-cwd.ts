// Ends a run before it starts when the working directory cannot be entered. Checking first gives a
// clear message; spawn itself would report ENOENT, the same errno as a missing program.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isErrnoError } from './errno.js';
import type { RunEnd } from './types.js';

export interface EarlyEnd {
  end: RunEnd;
  error: string;
}

/** Undefined when `cwd` is a directory we may enter. */
export async function checkCwd(cwd: string): Promise<EarlyEnd | undefined> {
  const end: RunEnd = { kind: 'badCwd', cwd };
  try {
    if (!(await stat(cwd)).isDirectory()) {
      return { end, error: `working directory is not a directory: ${cwd}` };
    }
    await access(cwd, constants.X_OK);
    return undefined;
  } catch (err) {
    // Invalid arguments (a NUL byte in the path) are the caller's bug, not the host's state.
    if (!isErrnoError(err)) throw err;
    switch (err.code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return { end, error: `working directory does not exist: ${cwd}` };
      case 'EACCES':
      case 'EPERM':
        return { end, error: `working directory is not accessible: ${cwd}` };
      default:
        return { end, error: `working directory cannot be used: ${cwd} (${err.code})` };
    }
  }
}
