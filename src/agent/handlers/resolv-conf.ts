// Writing the resolver file for network.dns.update: the new text keeps every
// line but the ones it replaces, and it reaches the file by rename only, so a
// reader (every name lookup on the host) sees the old file or the new one,
// never a half-written one. The previous file is kept beside it.
import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The previous file is kept as `<file>.osapi-prev`, replaced at each change. */
export const PREVIOUS_SUFFIX = '.osapi-prev';

export interface ResolvConfChange {
  /** Absent: the nameserver lines stay as they are. */
  servers?: string[];
  /** Absent: the search (and domain) lines stay as they are; [] removes them. */
  search_domains?: string[];
}

/** The directive a line holds (`nameserver`, `search`, `options`…), '' for a comment or a blank. */
function directive(line: string): string {
  return (
    line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/)[0] ?? ''
  );
}

/**
 * The file's text with the given lists in place of its nameserver and
 * search/domain lines: the new lines go where the first old one was (a new
 * search line before the first nameserver, else at the end); comments,
 * options and anything else stay as they were, in order.
 */
export function rewriteResolvConf(text: string, change: ResolvConfChange): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  type Slot = { slot: 'servers' | 'search' };
  const out: Array<string | Slot> = [];
  let serversSlot = false;
  let searchSlot = false;
  for (const line of lines) {
    const key = directive(line);
    if (change.servers && key === 'nameserver') {
      if (!serversSlot) out.push({ slot: 'servers' });
      serversSlot = true;
    } else if (change.search_domains && (key === 'search' || key === 'domain')) {
      // `domain` and `search` exclude each other (the last one wins): one search line replaces both.
      if (!searchSlot) out.push({ slot: 'search' });
      searchSlot = true;
    } else {
      out.push(line);
    }
  }
  if (change.servers && !serversSlot) out.push({ slot: 'servers' });
  if (change.search_domains && !searchSlot) {
    const firstServer = out.findIndex(
      (l) => typeof l !== 'string' || directive(l) === 'nameserver',
    );
    out.splice(firstServer < 0 ? out.length : firstServer, 0, { slot: 'search' });
  }
  const expanded = out.flatMap((l) => {
    if (typeof l === 'string') return [l];
    if (l.slot === 'servers') return (change.servers ?? []).map((s) => `nameserver ${s}`);
    const domains = change.search_domains ?? [];
    return domains.length > 0 ? [`search ${domains.join(' ')}`] : [];
  });
  return expanded.length > 0 ? `${expanded.join('\n')}\n` : '';
}

// One write at a time per file within this agent: two jobs changing the same
// file at once would each start from the old text and one change would be lost.
const queues = new Map<string, Promise<unknown>>();

export function serializedOn<T>(key: string, run: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const mine = before.then(run, run);
  const tail = mine.catch(() => {});
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return mine;
}

export interface ResolvConfFile {
  /** The file written: the configured path, or the file a symlink there points to. */
  real: string;
  bytes: Buffer;
}

/**
 * Reads through a symlink: /etc/resolv.conf is often one (to resolvconf's or
 * NetworkManager's file), and replacing the link by a file would take the
 * host's resolver out of the hands of whatever manages it.
 */
export async function readResolvConf(path: string): Promise<ResolvConfFile> {
  const real = await realpath(path);
  return { real, bytes: await readFile(real) };
}

/**
 * Writes `data` to a new file beside `target`, with its mode and owner, syncs
 * it and renames it over `target`. On any failure the temp file is removed
 * and `target` is as it was.
 */
async function replaceFile(
  target: string,
  data: Buffer | string,
  like: { mode: number; uid: number; gid: number },
): Promise<void> {
  const tmp = join(
    dirname(target),
    `.${basename(target)}.osapi-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const mode = like.mode & 0o7777;
  try {
    // `wx`: never follow or reuse something already there under that name.
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      // The umask may have narrowed the mode given to open.
      await fh.chmod(mode);
      if (process.getuid?.() === 0 && (like.uid !== 0 || like.gid !== 0)) {
        await fh.chown(like.uid, like.gid);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Makes the renames durable: they live in the directory, which has its own data. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (!fh) return;
  // Some filesystems refuse to sync a directory; the renames are done all the same.
  await fh.sync().catch(() => {});
  await fh.close();
}

/**
 * Replaces the file with `next`, keeping what it held (`previous`) as
 * `<file>.osapi-prev`; returns the path of that copy. The copy is written
 * first, so it exists whenever the new file does.
 */
export async function replaceResolvConf(
  file: ResolvConfFile,
  next: string,
): Promise<{ previous: string }> {
  const st = await stat(file.real);
  const previous = `${file.real}${PREVIOUS_SUFFIX}`;
  await replaceFile(previous, file.bytes, st);
  await replaceFile(file.real, next, st);
  await syncDir(dirname(file.real));
  return { previous };
}
