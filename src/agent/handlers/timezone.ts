// timezone.get and timezone.update: the host's timezone, through timedatectl
// where systemd runs, else through the files it keeps: /etc/localtime, a
// symlink into the tz database, and /etc/timezone, the name as text. A name
// is taken only when it names a zone file (TZif) of the host's own tz
// database. An update already in place answers `changed: false` and writes
// nothing, so a repeat is harmless.

import { randomBytes } from 'node:crypto';
import { open, readlink, realpath, rename, symlink, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { TIMEZONE_PATTERN } from '../../contract/timezone.js';
import { errorText } from '../../exec/errno.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  needsRoot,
  readFileIfPresent,
  replaceFile,
  runsAsRoot,
  runTool,
  systemdRuns,
} from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_LOCALTIME = '/etc/localtime';
export const DEFAULT_TIMEZONE_FILE = '/etc/timezone';
export const DEFAULT_ZONEINFO_DIR = '/usr/share/zoneinfo';

const TIMEZONE_RE = new RegExp(TIMEZONE_PATTERN);
/** One change at a time: a second must not read the files half way through the first. */
const TIMEZONE_QUEUE = 'timezone';

interface TimezonePaths {
  localtime: string;
  timezoneFile: string;
  zoneinfoDir: string;
}

function pathsOf(ctx: HandlerContext): TimezonePaths {
  const tz = ctx.host?.timezone;
  return {
    localtime: tz?.localtime ?? DEFAULT_LOCALTIME,
    timezoneFile: tz?.timezoneFile ?? DEFAULT_TIMEZONE_FILE,
    zoneinfoDir: tz?.zoneinfoDir ?? DEFAULT_ZONEINFO_DIR,
  };
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Why `name` is not a zone of the tz database in `dir`, or null: it must
 * resolve to a regular file inside the directory (a link in the database may
 * point to another zone of it, never out) that starts as a TZif file does.
 */
export async function zoneProblem(dir: string, name: string): Promise<string | null> {
  if (!TIMEZONE_RE.test(name)) return `${name} is not a tz database name`;
  const unknown = `unknown timezone ${name}: ${dir} holds no such zone`;
  let real: string;
  let realDir: string;
  try {
    realDir = await realpath(dir);
    real = await realpath(join(dir, name));
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return unknown;
    return `cannot read the tz database (${dir}): ${errorText(err)}`;
  }
  if (!real.startsWith(realDir + sep)) return unknown;
  try {
    const file = await open(real, 'r');
    try {
      if (!(await file.stat()).isFile()) return unknown;
      const head = Buffer.alloc(4);
      const { bytesRead } = await file.read(head, 0, 4, 0);
      if (bytesRead < 4 || head.toString('latin1') !== 'TZif') {
        return `${name} is not a zone: ${join(dir, name)} is not a tz data (TZif) file`;
      }
    } finally {
      await file.close();
    }
  } catch (err) {
    return `cannot read the zone file of ${name}: ${errorText(err)}`;
  }
  return null;
}

/** `+05:30`, `-03:00`, `+00:00`: the zone's offset from UTC at this moment; empty where it is unknown here. */
export function utcOffsetOf(timezone: string, at: Date = new Date()): string {
  try {
    const part = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      timeZoneName: 'longOffset',
    })
      .formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value;
    if (part === 'GMT') return '+00:00';
    const m = /^GMT([+-]\d{2}:\d{2})$/.exec(part ?? '');
    return m?.[1] ?? '';
  } catch {
    return '';
  }
}

/** Where the link at `path` points, absolute; null when there is no file, undefined when it is not a link. */
async function linkTargetOf(path: string): Promise<string | null | undefined> {
  try {
    return resolve(dirname(path), await readlink(path));
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return null;
    if (codeOf(err) === 'EINVAL') return undefined;
    throw err;
  }
}

async function readTextIfPresent(path: string): Promise<string | null> {
  return (await readFileIfPresent(path))?.toString('utf8') ?? null;
}

/** The first line of /etc/timezone, when it is a name. */
function nameInFile(text: string | null): string | null {
  const first = text?.split('\n')[0]?.trim() ?? '';
  return TIMEZONE_RE.test(first) ? first : null;
}

/** The zone name a path inside the tz database stands for, or null when it is outside. */
async function zoneNameOf(dir: string, target: string): Promise<string | null> {
  const dirs = [resolve(dir)];
  const real = await realpath(dir).catch(() => null);
  if (real && real !== dirs[0]) dirs.push(real);
  for (const d of dirs) {
    const rel = relative(d, target);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return null;
}

/** The timezone as the files say: the link's zone, else /etc/timezone's name, else UTC where there is no /etc/localtime. */
async function timezoneFromFiles(paths: TimezonePaths): Promise<string> {
  const target = await linkTargetOf(paths.localtime);
  if (target) {
    const name = await zoneNameOf(paths.zoneinfoDir, target);
    if (name) return name;
  }
  const named = nameInFile(await readTextIfPresent(paths.timezoneFile));
  if (named) return named;
  // Without /etc/localtime the C library takes UTC.
  if (target === null) return 'UTC';
  throw new Error(
    `${paths.localtime} is not a link into ${paths.zoneinfoDir} and ${paths.timezoneFile} names no zone`,
  );
}

/** timedatectl's answer; null where it is not installed. */
async function timedatectl(
  ctx: HandlerContext,
  args: readonly string[],
): Promise<{ ok: true; stdout: string } | { ok: false; error: string } | null> {
  const run = await runTool(ctx.host?.timedatectl ?? 'timedatectl', args, { signal: ctx.signal });
  if (run.kind === 'missing') return null;
  if (run.kind === 'failed') return { ok: false, error: run.error };
  return { ok: true, stdout: run.stdout };
}

export const timezoneGetHandler: JobHandler = nodeHandler('timezone.get', async (_data, ctx) => {
  let timezone: string;
  const viaSystemd = (await systemdRuns(ctx))
    ? await timedatectl(ctx, ['show', '--property=Timezone', '--value'])
    : null;
  if (viaSystemd && !viaSystemd.ok) return viaSystemd;
  if (viaSystemd?.ok) {
    timezone = viaSystemd.stdout.trim();
  } else {
    try {
      timezone = await timezoneFromFiles(pathsOf(ctx));
    } catch (err) {
      return { ok: false, error: `cannot tell the timezone: ${errorText(err)}` };
    }
  }
  return { ok: true, result: { timezone, utc_offset: utcOffsetOf(timezone) } };
});

/** Replaces the link at `path` by one to `target`, atomically: a new link under a temp name, renamed over it. */
async function replaceLink(path: string, target: string): Promise<void> {
  const tmp = join(dirname(path), `.localtime.osapi-${randomBytes(6).toString('hex')}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

type UpdateOutcome = NodeOutcome<'timezone.update'>;

async function updateFiles(paths: TimezonePaths, timezone: string): Promise<UpdateOutcome> {
  const zoneFile = join(paths.zoneinfoDir, timezone);
  const linkBefore = await linkTargetOf(paths.localtime);
  const textBefore = await readTextIfPresent(paths.timezoneFile);
  const linkOk = linkBefore === resolve(zoneFile);
  const fileOk = nameInFile(textBefore) === timezone;
  if (linkOk && fileOk) return { ok: true, result: { timezone, changed: false } };
  // The text first, as it can be put back exactly; the link is the last step.
  if (!fileOk) {
    try {
      await replaceFile(paths.timezoneFile, `${timezone}\n`);
    } catch (err) {
      return { ok: false, error: `cannot write ${paths.timezoneFile}: ${errorText(err)}` };
    }
  }
  if (!linkOk) {
    try {
      await replaceLink(paths.localtime, relative(dirname(resolve(paths.localtime)), zoneFile));
    } catch (err) {
      const why = `cannot replace ${paths.localtime}: ${errorText(err)}`;
      if (fileOk) return { ok: false, error: why };
      const back = await restoreText(paths.timezoneFile, textBefore);
      return back === null
        ? { ok: false, error: `${why}; ${paths.timezoneFile} was put back, so nothing changed` }
        : {
            ok: false,
            changed: true,
            error: `${why}; putting ${paths.timezoneFile} back failed too (${back}): it names ${timezone} while ${paths.localtime} is as it was`,
          };
    }
  }
  return { ok: true, result: { timezone, changed: true } };
}

/** Null when the file holds `text` again (or is gone again, when it had none); else why not. */
async function restoreText(path: string, text: string | null): Promise<string | null> {
  try {
    if (text === null) await unlink(path);
    else await replaceFile(path, text);
    return null;
  } catch (err) {
    return errorText(err);
  }
}

export const timezoneUpdateHandler: JobHandler = nodeHandler('timezone.update', (data, ctx) =>
  serializedOn(TIMEZONE_QUEUE, async (): Promise<UpdateOutcome> => {
    const paths = pathsOf(ctx);
    const problem = await zoneProblem(paths.zoneinfoDir, data.timezone);
    if (problem) return { ok: false, error: problem };
    if (!runsAsRoot()) return needsRoot('setting the timezone');
    if (ctx.signal.aborted)
      return { ok: false, error: 'the agent stopped before changing anything' };
    if (await systemdRuns(ctx)) {
      const now = await timedatectl(ctx, ['show', '--property=Timezone', '--value']);
      if (now && !now.ok) return now;
      if (now?.ok) {
        if (now.stdout.trim() === data.timezone) {
          return { ok: true, result: { timezone: data.timezone, changed: false } };
        }
        const set = await timedatectl(ctx, ['set-timezone', '--', data.timezone]);
        if (set && !set.ok) return set;
        if (set) return { ok: true, result: { timezone: data.timezone, changed: true } };
      }
      // timedatectl is not installed: the files are the place.
    }
    try {
      return await updateFiles(paths, data.timezone);
    } catch (err) {
      return { ok: false, error: `cannot set the timezone: ${errorText(err)}` };
    }
  }),
);
