// Tests that run this checkout's code as `nobody` (an agent that is not
// root) need root and a checkout `nobody` can read: not so under a home
// directory of mode 0700 (/root, and new users' homes on Debian 12). There
// they are skipped, with a line saying why, rather than failing after a wait.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const NOBODY = 65534;

function checkoutReadableByNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = resolve('node_modules', 'tsx', 'package.json');
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `require('node:fs').accessSync(${JSON.stringify(probe)}, require('node:fs').constants.R_OK)`,
    ],
    { uid: NOBODY, gid: NOBODY, stdio: 'ignore', timeout: 30_000 },
  );
  if (r.status !== 0) {
    process.stderr.write(
      `note: tests that run this checkout's code as nobody are skipped: nobody cannot read ${resolve('.')} (a directory above it is closed to others)\n`,
    );
  }
  return r.status === 0;
}

/** Root, with a checkout `nobody` can read and run. */
export const runsAsNobody = checkoutReadableByNobody();
