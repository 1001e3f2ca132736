// Client-side NATS credentials: turns an `auth` config section into nats.js
// connect options (user/pass, or an nkey authenticator from a seed file) and
// describes the identity for messages without ever showing a secret.
import { type FileHandle, open } from 'node:fs/promises';
import { type Authenticator, nkeyAuthenticator, nkeys } from '@nats-io/transport-node';

export interface NatsAuthSettings {
  type: 'none' | 'user_pass' | 'nkey';
  username?: string;
  password?: string;
  nkey_seed_file?: string;
}

/** Bad or unusable credentials in the config: retrying cannot fix them. */
export class NatsAuthError extends Error {
  override name = 'NatsAuthError';
}

export interface NatsAuthOptions {
  /** Spread into nats.js connect options. */
  options: { user?: string; pass?: string; authenticator?: Authenticator };
  /** Who we present ourselves as, safe to print: `user "x"`, `nkey Uxxx`, or `no credentials`. */
  identity: string;
}

/** The connect options for one client's `auth` section; reads and checks the seed file. */
export async function natsAuthOptions(
  auth: NatsAuthSettings,
  client: string,
): Promise<NatsAuthOptions> {
  switch (auth.type) {
    case 'none':
      return { options: {}, identity: 'no credentials' };
    case 'user_pass': {
      if (!auth.username || !auth.password) {
        throw new NatsAuthError(
          `NATS auth for ${client} is user_pass but the ${auth.username ? 'password' : 'username'} is empty: set both auth.username and auth.password`,
        );
      }
      return {
        options: { user: auth.username, pass: auth.password },
        identity: `user "${auth.username}"`,
      };
    }
    case 'nkey': {
      if (!auth.nkey_seed_file) {
        throw new NatsAuthError(
          `NATS auth for ${client} is nkey but auth.nkey_seed_file is empty: set it to the path of the user's seed file`,
        );
      }
      const seed = await readNkeySeed(auth.nkey_seed_file);
      return {
        options: { authenticator: nkeyAuthenticator(seed) },
        identity: `nkey ${nkeyPublicKey(seed, auth.nkey_seed_file)}`,
      };
    }
  }
}

/** The public key (U…) of a user seed; the error names the file, never the seed. */
export function nkeyPublicKey(seed: Uint8Array, file: string): string {
  try {
    return nkeys.fromSeed(seed).getPublicKey();
  } catch {
    throw new NatsAuthError(
      `nkey seed file ${file} does not hold a valid nkey seed (expected one line starting with SU)`,
    );
  }
}

/**
 * Reads a user nkey seed (`SU…`). Like the signing key, a seed readable by
 * group or others is refused: it is a password. Mode and content are checked
 * through one descriptor, so the file checked is the file read.
 */
export async function readNkeySeed(path: string): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new NatsAuthError(`cannot open nkey seed file ${path}: ${errCode(err)}`, { cause: err });
  }
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NatsAuthError(`nkey seed file ${path} is not a regular file`);
    // POSIX mode bits mean nothing on Windows.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new NatsAuthError(
        `nkey seed file ${path} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`,
      );
    }
    text = await fh.readFile('utf8');
  } catch (err) {
    if (err instanceof NatsAuthError) throw err;
    throw new NatsAuthError(`cannot read nkey seed file ${path}: ${errCode(err)}`, { cause: err });
  } finally {
    await fh.close();
  }
  // nsc writes the bare seed; tolerate surrounding blank lines and comments.
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('SU'));
  if (!line) {
    throw new NatsAuthError(
      `nkey seed file ${path} holds no user seed (expected a line starting with SU)`,
    );
  }
  const seed = new TextEncoder().encode(line);
  nkeyPublicKey(seed, path);
  return seed;
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** A new NATS user nkey pair: its seed (secret) and its public key. */
export function newUserNkey(): { seed: string; publicKey: string } {
  const kp = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}
