// Ends a run whose program could not be started, naming the cause. ENOENT and EACCES do not say
// whether the program or the working directory is at fault, so the directory is checked here: the
// only check of it, made once spawn has failed, so a run that starts pays nothing for it.
import { getSystemErrorMap } from 'node:util';
import { checkCwd, type EarlyEnd } from './bad-cwd.js';

export async function describeSpawnError(
  err: NodeJS.ErrnoException & { code: string },
  program: string,
  cwd: string,
): Promise<EarlyEnd> {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return (
        (await checkCwd(cwd)) ?? {
          end: { kind: 'notFound' },
          error: `program not found: ${program}`,
        }
      );
    case 'EACCES':
      return (
        (await checkCwd(cwd)) ?? {
          end: { kind: 'permissionDenied' },
          error: `permission denied: ${program} is not executable`,
        }
      );
    default: {
      // EAGAIN, EMFILE, E2BIG...: the host refused to start any process; say why in words.
      const description =
        err.errno === undefined ? undefined : getSystemErrorMap().get(err.errno)?.[1];
      return {
        end: { kind: 'spawnFailed', code: err.code },
        error: `could not start ${program}: ${description ? `${description} (${err.code})` : err.code}`,
      };
    }
  }
}
