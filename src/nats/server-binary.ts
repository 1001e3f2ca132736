// Finds the nats-server program. Debian installs it in /usr/sbin, which is
// not on a normal user's PATH, so look there too before giving up.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export class NatsServerMissingError extends Error {
  override name = 'NatsServerMissingError';
  constructor() {
    super(
      'nats-server was not found on PATH or in /usr/sbin. Install it: the Debian package "nats-server" (apt-get install nats-server), or the nats-server binary for this platform from https://github.com/nats-io/nats-server/releases put in a directory on PATH; in a checkout, `npm run setup` installs it.',
    );
  }
}

function findExecutable(name: string, env: NodeJS.ProcessEnv): string | null {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

/** setpriv, when present, to tie the server's life to ours (see server.ts). */
export function findSetpriv(env: NodeJS.ProcessEnv = process.env): string | null {
  return process.platform === 'linux' ? findExecutable('setpriv', env) : null;
}

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const found = findExecutable('nats-server', env);
  if (!found) throw new NatsServerMissingError();
  return found;
}
