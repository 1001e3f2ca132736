// user.sshkey.list, user.sshkey.add and user.sshkey.remove: the keys of a
// user's ~/.ssh/authorized_keys (the home from /etc/passwd).
//
// The home belongs to the user, who may put a link where .ssh or
// authorized_keys is expected, to make a root agent read or write another
// file (/etc/shadow, root's own keys). So neither is ever followed: each is
// looked at with lstat (a link is refused, naming it), then opened without
// following links, and the file is read and written through the directory
// already opened (/proc/self/fd/N/...), so a name swapped in between is
// never reached. The file is replaced whole (temp file, then rename), with
// its mode and owner set on the open temp file; a new one is 0600 and the
// user's, in a .ssh of 0700 made the user's the same way.
//
// The home, .ssh and authorized_keys must each be the user's own (root's
// only for root): a home owned by someone else (a directory another user
// made, /root given as a user's home, or a name in a directory another
// user controls, swapped for a link to /root) would otherwise let that
// owner, or this user, steer keys into a file sshd reads for another
// account. authorized_keys with a second hard link is refused too: the
// same file would be another account's keys as well.
import { constants, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import type { OperationData } from '../../contract/operations.js';
import {
  type AuthorizedKeyLine,
  keyLine,
  parseAuthorizedKeyLine,
  parseAuthorizedKeys,
  parseKeyToAdd,
} from '../../job/ssh-keys.js';
import {
  type AccountDeps,
  findUser,
  HOST_ACCOUNT_DEPS,
  oneAccountChangeAtATime,
  type PasswdEntry,
  readAccounts,
} from './accounts.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { insideDir, lstatIfPresent, needsRoot, replaceFile } from './host-tools.js';
import type { JobHandler } from './types.js';

type Mutation = NodeOutcome<'user.sshkey.add'>;

/** An authorized_keys file larger than this is not read: no one has that many keys. */
export const AUTHORIZED_KEYS_MAX_BYTES = 1024 * 1024;

class KeyFileProblem extends Error {}

/** Refuses an owner other than the user (root, for root alike). */
function checkOwner(st: Stats, shown: string, user: PasswdEntry) {
  if (st.uid !== user.uid) {
    throw new KeyFileProblem(
      `${shown} belongs to uid ${st.uid}, not to ${user.name} (uid ${user.uid}); the agent reads and writes keys only in a home, .ssh and authorized_keys the user owns: chown it to ${user.name}, or give ${user.name} a home of its own`,
    );
  }
}

/** Refuses a link, anything not of the kind expected, and an owner other than the user. */
function checkEntry(st: Stats, shown: string, kind: 'directory' | 'file', user: PasswdEntry) {
  if (st.isSymbolicLink()) {
    throw new KeyFileProblem(
      `${shown} is a symbolic link; the agent does not follow links in a user's home (it could point anywhere): replace it by a real ${kind}`,
    );
  }
  if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) {
    throw new KeyFileProblem(`${shown} is not a ${kind}`);
  }
  checkOwner(st, shown, user);
  if (kind === 'file' && st.nlink > 1) {
    throw new KeyFileProblem(
      `${shown} has ${st.nlink} hard links: the same file is known by another name, perhaps another account's keys; the agent does not use it. Replace it by a file of its own`,
    );
  }
}

/** The user's .ssh, opened, and authorized_keys in it as it is (null parts: not there). */
interface KeyFile {
  home: FileHandle;
  ssh: FileHandle | null;
  /** The file's status, null when there is none. */
  stat: Stats | null;
  text: string;
  close(): Promise<void>;
}

/**
 * The user's home, opened, once its owner is seen to be the user: checked
 * on what was opened, so a name swapped for a link meanwhile is refused too.
 */
async function openHome(user: PasswdEntry): Promise<FileHandle | null> {
  let home: FileHandle;
  try {
    home = await open(user.home, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new KeyFileProblem(`the home ${user.home} is not a directory`);
    throw err;
  }
  try {
    checkOwner(await home.stat(), `the home ${user.home}`, user);
  } catch (err) {
    await home.close();
    throw err;
  }
  return home;
}

async function openSshDir(home: FileHandle, user: PasswdEntry): Promise<FileHandle | null> {
  const shown = `${user.home.replace(/\/$/, '')}/.ssh`;
  const st = await lstatIfPresent(insideDir(home, '.ssh'));
  if (!st) return null;
  checkEntry(st, shown, 'directory', user);
  let dir: FileHandle;
  try {
    dir = await open(
      insideDir(home, '.ssh'),
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      throw new KeyFileProblem(`${shown} changed while it was read (it is now a link); try again`);
    }
    throw err;
  }
  try {
    checkEntry(await dir.stat(), shown, 'directory', user);
  } catch (err) {
    await dir.close();
    throw err;
  }
  return dir;
}

async function readKeyFile(ssh: FileHandle, shown: string, user: PasswdEntry) {
  const path = insideDir(ssh, 'authorized_keys');
  const st = await lstatIfPresent(path);
  if (!st) return { stat: null, text: '' };
  checkEntry(st, shown, 'file', user);
  let file: FileHandle;
  try {
    // No link followed, and no wait on a pipe put there in the meantime.
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new KeyFileProblem(`${shown} changed while it was read (it is now a link); try again`);
    }
    throw err;
  }
  try {
    const now = await file.stat();
    checkEntry(now, shown, 'file', user);
    if (now.size > AUTHORIZED_KEYS_MAX_BYTES) {
      throw new KeyFileProblem(
        `${shown} is larger than ${AUTHORIZED_KEYS_MAX_BYTES} bytes; the agent does not read it`,
      );
    }
    return { stat: now, text: (await file.readFile()).toString('utf8') };
  } finally {
    await file.close();
  }
}

/** The user's authorized_keys as it is; `home` null when the user has no home directory. */
async function openKeyFile(user: PasswdEntry): Promise<KeyFile | null> {
  const home = await openHome(user);
  if (!home) return null;
  let ssh: FileHandle | null = null;
  try {
    ssh = await openSshDir(home, user);
    const file = ssh ? await readKeyFile(ssh, shownFile(user), user) : { stat: null, text: '' };
    const opened = ssh;
    return {
      home,
      ssh,
      ...file,
      close: async () => {
        await opened?.close();
        await home.close();
      },
    };
  } catch (err) {
    await ssh?.close();
    await home.close();
    throw err;
  }
}

const shownFile = (user: PasswdEntry) => `${user.home.replace(/\/$/, '')}/.ssh/authorized_keys`;

/** Makes .ssh (0700, the user's) and opens it, when the home has none yet. */
async function makeSshDir(home: FileHandle, user: PasswdEntry): Promise<FileHandle> {
  const shown = `${user.home.replace(/\/$/, '')}/.ssh`;
  await mkdir(insideDir(home, '.ssh'), 0o700);
  let dir: FileHandle;
  try {
    dir = await open(
      insideDir(home, '.ssh'),
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') {
      throw new KeyFileProblem(`${shown} changed as it was made; try again`);
    }
    throw err;
  }
  try {
    // Root's as made here, or the user's if the user put one there meanwhile: nobody else's.
    const st = await dir.stat();
    if (st.uid !== 0) checkOwner(st, shown, user);
    // Through the open directory: the name could be a link by now, the handle cannot.
    await dir.chown(user.uid, user.gid);
    await dir.chmod(0o700);
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/** Writes the file whole; an existing one keeps its mode and owner, a new one is 0600 and the user's. */
async function writeKeyFile(file: KeyFile, user: PasswdEntry, text: string): Promise<void> {
  const ssh = file.ssh ?? (await makeSshDir(file.home, user));
  try {
    await replaceFile(insideDir(ssh, 'authorized_keys'), text, {
      mode: file.stat ? file.stat.mode & 0o7777 : 0o600,
      uid: file.stat ? file.stat.uid : user.uid,
      gid: file.stat ? file.stat.gid : user.gid,
    });
  } finally {
    if (ssh !== file.ssh) await ssh.close();
  }
}

/** Runs `use` on the user's key file; a missing user or a refused file is a failure. */
async function withKeyFile<O>(
  name: string,
  deps: AccountDeps,
  use: (user: PasswdEntry, file: KeyFile | null) => Promise<O | { ok: false; error: string }>,
): Promise<O | { ok: false; error: string }> {
  const accounts = await readAccounts(deps.paths);
  const user = findUser(accounts, name);
  if (!user) return failed(`user ${name} does not exist on this host`);
  let file: KeyFile | null;
  try {
    file = await openKeyFile(user);
  } catch (err) {
    if (err instanceof KeyFileProblem) return failed(err.message);
    throw err;
  }
  try {
    return await use(user, file);
  } catch (err) {
    if (err instanceof KeyFileProblem) return failed(err.message);
    throw err;
  } finally {
    await file?.close();
  }
}

export function makeSshKeyListHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.sshkey.list', (data) =>
    withKeyFile(
      data.name,
      deps,
      async (_user, file): Promise<NodeOutcome<'user.sshkey.list'>> => ({
        ok: true,
        result: {
          keys: parseAuthorizedKeys(file?.text ?? '').map((k: AuthorizedKeyLine) => ({
            type: k.type,
            fingerprint: k.fingerprint,
            comment: k.comment,
          })),
        },
      }),
    ),
  );
}

function addKey(data: OperationData<'user.sshkey.add'>, deps: AccountDeps, signal: AbortSignal) {
  const key = parseKeyToAdd(data.key);
  // The data was checked (checked.ts); this is only for the type's sake.
  if (!key) return Promise.resolve<Mutation>(failed('the key is not one public key'));
  return withKeyFile(data.name, deps, async (user, file): Promise<Mutation> => {
    const done = (changed: boolean): Mutation => ({
      ok: true,
      result: { changed, fingerprint: key.fingerprint },
    });
    if (!file) return failed(`the home ${user.home} of ${user.name} does not exist`);
    if (parseAuthorizedKeys(file.text).some((k) => k.fingerprint === key.fingerprint)) {
      return done(false);
    }
    if (!deps.runsAsRoot()) return needsRoot(`adding a key to ${shownFile(user)}`);
    if (signal.aborted) return failed('the agent stopped before changing anything');
    const before = file.text === '' || file.text.endsWith('\n') ? file.text : `${file.text}\n`;
    await writeKeyFile(file, user, `${before}${keyLine(key)}\n`);
    return done(true);
  });
}

function removeKey(
  data: OperationData<'user.sshkey.remove'>,
  deps: AccountDeps,
  signal: AbortSignal,
) {
  return withKeyFile(
    data.name,
    deps,
    async (user, file): Promise<NodeOutcome<'user.sshkey.remove'>> => {
      const done = (changed: boolean): NodeOutcome<'user.sshkey.remove'> => ({
        ok: true,
        result: { changed, fingerprint: data.fingerprint },
      });
      if (!file?.stat) return done(false);
      // Every line of that key goes, with options or without; every other line stays as it was.
      const lines = file.text.split('\n');
      const kept = lines.filter((l) => parseAuthorizedKeyLine(l)?.fingerprint !== data.fingerprint);
      if (kept.length === lines.length) return done(false);
      if (!deps.runsAsRoot()) return needsRoot(`removing a key from ${shownFile(user)}`);
      if (signal.aborted) return failed('the agent stopped before changing anything');
      await writeKeyFile(file, user, kept.join('\n'));
      return done(true);
    },
  );
}

export function makeSshKeyAddHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.sshkey.add', (data, ctx) =>
    oneAccountChangeAtATime(() => addKey(data, deps, ctx.signal)),
  );
}

export function makeSshKeyRemoveHandler(deps: AccountDeps = HOST_ACCOUNT_DEPS): JobHandler {
  return nodeHandler('user.sshkey.remove', (data, ctx) =>
    oneAccountChangeAtATime(() => removeKey(data, deps, ctx.signal)),
  );
}

export const sshKeyListHandler = makeSshKeyListHandler();
export const sshKeyAddHandler = makeSshKeyAddHandler();
export const sshKeyRemoveHandler = makeSshKeyRemoveHandler();
