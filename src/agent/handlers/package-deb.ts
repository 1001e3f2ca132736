// A .deb file named by a job, taken so that what is checked is what is
// installed. Checking the path and then handing the same path to apt would
// let anyone who can write the file's directory swap the file in between,
// and its maintainer scripts run as root. So the path is opened once,
// without following a symbolic link, and copied through that descriptor into
// a new directory only root can enter; the copy is inspected and installed,
// and removed afterwards.

import { constants } from 'node:fs';
import { chmod, type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorText } from '../../exec/errno.js';

/** The largest .deb taken: it is copied whole into the temporary directory. */
export const MAX_DEB_BYTES = 2 * 1024 ** 3;

/** Where the copies go: one directory each, `osapi-deb-<random>`, under the system's temporary directory. */
export const STAGED_DEB_PREFIX = 'osapi-deb-';

const CHUNK_BYTES = 1024 * 1024;

export interface StagedDeb {
  /** The copy: a regular file in a directory of mode 0700 owned by the agent's user. */
  file: string;
  /** Removes the copy and its directory; never throws. */
  remove(): Promise<void>;
}

export type Staged = { ok: true; deb: StagedDeb } | { ok: false; error: string };

/** Why `path` could not be opened, as a sentence. */
function openProblem(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') {
    return `${path} is a symbolic link: give the path of the file itself (a link can be pointed elsewhere between the check and the install)`;
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') return `there is no file ${path} on this host`;
  if (code === 'EACCES' || code === 'EPERM') return `${path} cannot be read by the agent (${code})`;
  return `${path} cannot be opened: ${errorText(err)}`;
}

/** Every byte of `buf` up to `length`, written at the file's position. */
async function writeAll(out: FileHandle, buf: Buffer, length: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await out.write(buf, done, length - done);
    done += bytesWritten;
  }
}

/** Copies what `src` reads into `out`, refusing more than the bound (a file that grows after fstat). */
async function copyBounded(
  src: FileHandle,
  out: FileHandle,
  path: string,
  signal: AbortSignal,
): Promise<string | null> {
  const buf = Buffer.alloc(CHUNK_BYTES);
  let copied = 0;
  for (;;) {
    if (signal.aborted) return 'the agent stopped before changing anything';
    const { bytesRead } = await src.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return null;
    copied += bytesRead;
    if (copied > MAX_DEB_BYTES)
      return `${path} grew past 2 GiB while it was read; nothing was installed`;
    await writeAll(out, buf, bytesRead);
  }
}

/**
 * Opens `path` (no symbolic link, a regular file of at most 2 GiB) and copies
 * it into a fresh directory of mode 0700; the caller installs the copy and
 * removes it.
 */
export async function stageDeb(path: string, signal: AbortSignal): Promise<Staged> {
  let src: FileHandle;
  try {
    // O_NONBLOCK: opening a named pipe would otherwise wait for a writer; it
    // changes nothing for a regular file.
    src = await open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch (err) {
    return { ok: false, error: openProblem(path, err) };
  }
  let dir: string | undefined;
  try {
    const st = await src.stat();
    if (!st.isFile()) return { ok: false, error: `${path} is not a regular file` };
    if (st.size > MAX_DEB_BYTES) {
      return {
        ok: false,
        error: `${path} is ${st.size} bytes, more than the 2 GiB a .deb may be here`,
      };
    }
    dir = await mkdtemp(join(tmpdir(), STAGED_DEB_PREFIX));
    await chmod(dir, 0o700);
    const file = join(dir, 'package.deb');
    const out = await open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    let problem: string | null;
    try {
      problem = await copyBounded(src, out, path, signal);
    } finally {
      await out.close();
    }
    if (problem) return { ok: false, error: problem };
    const staged = dir;
    dir = undefined;
    return { ok: true, deb: { file, remove: () => removeDir(staged) } };
  } catch (err) {
    return {
      ok: false,
      error: `${path} could not be copied for the install: ${errorText(err)}`,
    };
  } finally {
    await src.close();
    // A copy that did not finish is removed here; one handed out, by its owner.
    if (dir !== undefined) await removeDir(dir);
  }
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
