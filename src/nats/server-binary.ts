// Finds the nats-server program. Debian installs it in /usr/sbin, which is
// not on a normal user's PATH, so look there too before giving up.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export class NatsServerMissingError extends Error {
  override name = 'NatsServerMissingError';
  constructor() {
    super(
      'nats-server was not found on PATH or in /usr/sbin. Install the Debian package "nats-server" (apt-get install nats-server), or run `npm run setup`.',
    );
  }
}

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new NatsServerMissingError();
}
