// Finds the server's JWT signing key on disk, creating a random one on first start. The key is a
// secret: it is only ever returned, never put in an error message or a log line.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const KEY_BYTES = 48;
// Another process may have created the file with 'wx' but not written it yet; wait up to 0.5 s.
const EMPTY_RETRIES = 20;
const EMPTY_RETRY_MS = 25;

/** The signing key file could not be read, created, or is unsafe. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

// Reads through one descriptor, so the mode checked is that of the file actually read.
// Returns '' for an empty file so the caller can tell "still being written" from a bad key.
async function readKeyFile(path: string): Promise<string> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new SigningKeyError(`cannot open signing key file ${path}: ${errCode(err) ?? 'error'}`, {
      cause: err,
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SigningKeyError(`signing key file ${path} is not a regular file`);
    // POSIX mode bits mean nothing on Windows.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new SigningKeyError(
        `signing key file ${path} is accessible by group or others (mode ${mode}); run: chmod 600 ${path}`,
      );
    }
    return (await fh.readFile('utf8')).trim();
  } catch (err) {
    if (err instanceof SigningKeyError) throw err;
    throw new SigningKeyError(`cannot read signing key file ${path}: ${errCode(err) ?? 'error'}`, {
      cause: err,
    });
  } finally {
    await fh.close();
  }
}

// An empty file may be one another process has just created and is about to write, so wait
// briefly before calling it a fault.
async function readExisting(path: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const key = await readKeyFile(path);
    if (key !== '') return key;
    if (attempt >= EMPTY_RETRIES) {
      throw new SigningKeyError(
        `signing key file ${path} is empty; delete it to have a new key generated, or write a key into it`,
      );
    }
    await sleep(EMPTY_RETRY_MS);
  }
}

/**
 * Returns the signing key stored at `path`, creating the file (0600, parent dir 0700) with a
 * random 48-byte base64url key if it does not exist. Safe when several processes start at once:
 * creation is exclusive, and the loser reads the winner's key.
 */
export async function loadOrCreateSigningKey(path: string): Promise<string> {
  try {
    return await readExisting(path);
  } catch (err) {
    if (!(err instanceof SigningKeyError && errCode(err.cause) === 'ENOENT')) throw err;
  }

  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SigningKeyError(
      `cannot create directory for signing key file ${path}: ${errCode(err) ?? 'error'}`,
      { cause: err },
    );
  }

  let fh: FileHandle;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (err) {
    // Someone else created it between our read and our create: use theirs.
    if (errCode(err) === 'EEXIST') return readExisting(path);
    throw new SigningKeyError(
      `cannot create signing key file ${path}: ${errCode(err) ?? 'error'}`,
      {
        cause: err,
      },
    );
  }

  const key = randomBytes(KEY_BYTES).toString('base64url');
  try {
    await fh.writeFile(`${key}\n`, 'utf8');
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    // Leave no empty file behind: it would make every later start refuse.
    await unlink(path).catch(() => {});
    throw new SigningKeyError(`cannot write signing key file ${path}: ${errCode(err) ?? 'error'}`, {
      cause: err,
    });
  }
  return key;
}
