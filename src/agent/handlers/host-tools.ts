// What the handlers of the managed domains (services, packages, users, files)
// share: running a host tool with an argument list (never a shell line), a
// file replaced whole by rename, and the error that names the privilege a
// change needs when the agent does not run as root.
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { access, type FileHandle, lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import { runCommand } from '../../exec/index.js';
import type { HandlerContext } from './types.js';

/** How a host tool's run ended, as a handler reads it. */
export type ToolRun =
  /** The tool is not installed: the host cannot do the operation (`skipped`). */
  | { kind: 'missing'; tool: string }
  /** It ran and exited non-zero, or could not finish: `error` names the tool and why. */
  | { kind: 'failed'; exitCode: number; stdout: string; stderr: string; error: string }
  | { kind: 'ok'; stdout: string; stderr: string };

export interface ToolOptions {
  signal: AbortSignal;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Written to the tool's standard input (a password for chpasswd), never to its arguments. */
  stdin?: string;
  /** Replaces the environment; default: this process's, with LC_ALL=C so output parses the same everywhere. */
  env?: Record<string, string>;
  /** Cap per output stream; default 4 MiB (a package list is large). */
  maxOutputBytes?: number;
}

/**
 * Runs `tool args…` directly (no shell: an argument is one argument whatever
 * it holds). Missing tools are told apart from failures, so a host without
 * systemd or apt answers `skipped`, not `failed`.
 */
export async function runTool(
  tool: string,
  args: readonly string[],
  opts: ToolOptions,
): Promise<ToolRun> {
  const run = await runCommand({
    mode: 'exec',
    command: tool,
    args: [...args],
    timeoutMs: opts.timeoutMs ?? 30_000,
    maxOutputBytes: opts.maxOutputBytes ?? 4 * 1024 * 1024,
    signal: opts.signal,
    env: opts.env ?? { ...stringEnv(process.env), LC_ALL: 'C' },
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
  });
  if (run.end.kind === 'notFound') return { kind: 'missing', tool };
  if (run.end.kind === 'exited' && run.exitCode === 0) {
    return { kind: 'ok', stdout: run.stdout, stderr: run.stderr };
  }
  const why =
    run.error ?? (lastLines(run.stderr) || lastLines(run.stdout) || `exit code ${run.exitCode}`);
  return {
    kind: 'failed',
    exitCode: run.exitCode,
    stdout: run.stdout,
    stderr: run.stderr,
    error: `${tool} failed: ${why}`,
  };
}

/** The environment's set variables, as a child process takes them. */
export function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** The last few lines of a tool's message: where it says what went wrong. */
function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').trim();
}

/**
 * Whether `tool` can be run, asked without running it: a path that is
 * executable, or a name found so on PATH.
 */
export async function toolRunnable(tool: string): Promise<boolean> {
  const candidates = tool.includes('/')
    ? [tool]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, tool));
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return true;
    } catch {
      // Not here: the next one.
    }
  }
  return false;
}

/** Present while systemd manages the host (what sd_booted asks). */
export const SYSTEMD_RUN_DIR = '/run/systemd/system';

/** Whether systemd manages this host (HostSettings.systemdRunDir in tests). */
export async function systemdRuns(ctx: HandlerContext): Promise<boolean> {
  return (await lstatIfPresent(ctx.host?.systemdRunDir ?? SYSTEMD_RUN_DIR))?.isDirectory() === true;
}

/** Whether this agent may change what only root may change. */
export function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The error of a change this agent may not make: it names the privilege, and
 * where to read how to give it (docs/operations.md, "Privileges").
 */
export function needsRoot(what: string): { ok: false; error: string } {
  return {
    ok: false,
    error: `${what} needs root: this agent runs as uid ${process.getuid?.() ?? '?'}; run the agent as root (docs/operations.md, "Privileges")`,
  };
}

export interface FileOwnership {
  /** File mode bits, e.g. 0o644. */
  mode?: number;
  uid?: number;
  gid?: number;
}

/**
 * Writes `content` to `path` through a temp file in the same directory, then
 * a rename: a reader sees the old file or the new one, never half of one, and
 * a failure leaves the old file as it was. Mode and owner are set on the temp
 * file before it takes the name.
 */
export async function replaceFile(
  path: string,
  content: string | Uint8Array,
  own: FileOwnership = {},
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.osapi-${randomBytes(6).toString('hex')}`);
  const handle = await open(tmp, 'wx', own.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(content);
      // open's mode is filtered by the umask: chmod says it exactly. Both go
      // through the open file, never the name: in a directory another user
      // owns (a home's .ssh), the name could meanwhile be a link to anywhere.
      await handle.chmod(own.mode ?? 0o644);
      if (own.uid !== undefined || own.gid !== undefined) {
        await handle.chown(own.uid ?? -1, own.gid ?? -1);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Nothing there: the error of a path that does not exist (or runs through a non-directory). */
function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A file's bytes, or null when there is no such file. */
export async function readFileIfPresent(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw err;
  }
}

/** lstat (a link is not followed), or null when there is nothing of that name. */
export async function lstatIfPresent(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw err;
  }
}

/** What a name holds, as a handler that owns some files of a directory reads it. */
export type OwnedFile =
  | { kind: 'absent' }
  /** A link, a directory, a device...: never one this system wrote. */
  | { kind: 'other' }
  | { kind: 'file'; bytes: Buffer };

/** The bytes of a regular file at `path`, or what is there instead. */
export async function readOwnedFile(path: string): Promise<OwnedFile> {
  const st = await lstatIfPresent(path);
  if (!st) return { kind: 'absent' };
  if (!st.isFile()) return { kind: 'other' };
  return { kind: 'file', bytes: await readFile(path) };
}

/** Why a directory of a path could not be opened: a sentence naming it. */
export class PathError extends Error {
  override name = 'PathError';
}

/** The path of `name` inside an opened directory, never resolving the directory's path again. */
export function insideDir(dir: FileHandle, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

/**
 * Opens the directory an absolute, normalised path's file is in, one
 * component at a time from `/`, following no symbolic link: what is then
 * done inside it (through insideDir) happens in that very directory, even if
 * someone who owns a directory on the way swaps it for a link meanwhile. A
 * link on the way is refused, naming it (`/var/run` is one on Debian: give
 * `/run`).
 */
export async function openParentDir(path: string): Promise<FileHandle> {
  const parts = path.split('/').filter(Boolean).slice(0, -1);
  let dir = await open('/', constants.O_RDONLY | constants.O_DIRECTORY);
  let walked = '';
  for (const part of parts) {
    walked += `/${part}`;
    let next: FileHandle;
    try {
      next = await open(
        insideDir(dir, part),
        constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
      );
    } catch (err) {
      // O_DIRECTORY with O_NOFOLLOW on a link fails as ENOTDIR: lstat says which it was.
      const link = await lstat(insideDir(dir, part)).then(
        (st) => st.isSymbolicLink(),
        () => false,
      );
      await dir.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new PathError(`${walked} does not exist`);
      if (link || code === 'ELOOP') {
        throw new PathError(`${walked} is a symbolic link; give the path it points to`);
      }
      if (code === 'ENOTDIR') throw new PathError(`${walked} is not a directory`);
      throw new PathError(`cannot open ${walked}: ${code ?? String(err)}`);
    }
    await dir.close();
    dir = next;
  }
  return dir;
}
