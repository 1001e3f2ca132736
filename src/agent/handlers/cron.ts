// Cron entries on the agent: one file per entry in the cron directory
// (agent.cron.dir, /etc/cron.d by default), named osapi-<name>, whose first
// line marks it as this system's. cron reads the file and runs its command;
// the agent never runs it. The command is a stored object's content (raw or
// a rendered template): one line, written as it is after the schedule and
// the user. list and get show only marked files, and update and delete touch
// only those: an entry written by hand or by a package is never changed.

import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CRON_FILE_PREFIX,
  CRON_INTERVALS,
  type CronEntry,
  type CronInterval,
} from '../../contract/cron.js';
import type { ContentType } from '../../contract/file.js';
import { errorText } from '../../exec/errno.js';
import { readUsers } from './accounts.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, readOwnedFile, replaceFile, runsAsRoot } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import { nestedFacts, renderTemplate, TemplateError } from './template.js';
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_CRON_DIR = '/etc/cron.d';

/** The first line of every entry this system writes; the mark list, update and delete look for. */
export const CRON_MARKER = '# Managed by OSAPI';
const HEADER_NOTE = 'cron.update replaces this file, cron.delete removes it.';

/** Longest command line taken: cron's own line limit is larger, a command this long is a script. */
export const CRON_COMMAND_MAX_BYTES = 4096;

/** Changes to the cron directory, one at a time on this agent. */
const CRON_QUEUE = 'cron entries';

function cronDirOf(ctx: HandlerContext): string {
  return ctx.host?.cronDir ?? DEFAULT_CRON_DIR;
}

/** What an entry's file says, as this system wrote it. */
interface EntryFields {
  object: string;
  schedule: string;
  interval?: CronInterval;
  user: string;
  command: string;
}

/** The file's text for an entry: the marker line (with what the line alone cannot say), then cron's line. */
export function entryText(e: EntryFields): string {
  const meta = `object=${e.object}${e.interval ? ` interval=${e.interval}` : ''}`;
  return `${CRON_MARKER}: ${HEADER_NOTE} ${meta}\n${e.schedule} ${e.user} ${e.command}\n`;
}

/** An entry's fields read back from its file's text, or null when this system did not write it. */
export function parseEntry(text: string): EntryFields | null {
  const [header, line] = text.split('\n');
  if (header === undefined || line === undefined || !header.startsWith(CRON_MARKER)) return null;
  const object = /\bobject=(\S+)/.exec(header)?.[1] ?? '';
  const interval = /\binterval=(\S+)/.exec(header)?.[1];
  const words = line.split(' ');
  const scheduleWords = line.startsWith('@') ? 1 : 5;
  if (words.length < scheduleWords + 2) return null;
  return {
    object,
    schedule: words.slice(0, scheduleWords).join(' '),
    ...(interval && (CRON_INTERVALS as readonly string[]).includes(interval)
      ? { interval: interval as CronInterval }
      : {}),
    user: words[scheduleWords] as string,
    command: words.slice(scheduleWords + 1).join(' '),
  };
}

type EntryFile =
  | { kind: 'absent' }
  /** A link, a directory, ...: never ours. */
  | { kind: 'other' }
  | { kind: 'file'; text: string; fields: EntryFields | null };

async function readEntryFile(path: string): Promise<EntryFile> {
  const owned = await readOwnedFile(path);
  if (owned.kind !== 'file') return owned;
  const text = owned.bytes.toString('utf8');
  return { kind: 'file', text, fields: parseEntry(text) };
}

function entryOf(name: string, path: string, f: EntryFields): CronEntry {
  return { name, source: path, ...f };
}

/** Runs `work` where the cron directory exists; anywhere else the host is `skipped`. */
async function onCron<
  T extends 'cron.list' | 'cron.get' | 'cron.create' | 'cron.update' | 'cron.delete',
>(ctx: HandlerContext, work: (dir: string) => Promise<NodeOutcome<T>>): Promise<NodeOutcome<T>> {
  const dir = cronDirOf(ctx);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) {
    return {
      unsupported: `this host has no cron directory ${dir}: install cron, or set agent.cron.dir`,
    };
  }
  return work(dir);
}

const NOT_OURS = (name: string, path: string) =>
  `cron entry ${name}: ${path} was not written by this system; it is left as it is`;

/** The command line the object holds: raw or rendered, one line, no NUL. */
async function commandOf(
  data: { object: string; object_sha256?: string; content_type?: ContentType; vars?: unknown },
  ctx: HandlerContext,
): Promise<{ command: string } | { error: string }> {
  if (!ctx.objects) {
    return { error: 'this agent cannot read the file store, so it cannot write a cron entry' };
  }
  let bytes: Uint8Array;
  try {
    bytes = await ctx.objects.read(data.object, data.object_sha256 ?? '', ctx.signal);
  } catch (err) {
    return { error: errorText(err) };
  }
  const bad = (why: string) => ({
    error: `object ${data.object} is not a cron command line: ${why}`,
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bad('it is not UTF-8 text');
  }
  if (data.content_type === 'template') {
    try {
      text = renderTemplate(text, {
        hostname: ctx.hostname,
        facts: nestedFacts(ctx.facts?.() ?? new Map()),
        vars: (data.vars as Record<string, unknown> | undefined) ?? {},
      });
    } catch (err) {
      if (err instanceof TemplateError) return { error: `${data.object}: ${err.message}` };
      throw err;
    }
  }
  // A file's last line ends in a newline; that one is not part of the command.
  const command = text.replace(/\r?\n$/, '');
  if (command.includes('\u0000')) return bad('it holds NUL bytes');
  if (/[\r\n]/.test(command)) return bad('it has more than one line; cron takes one');
  if (command.trim() === '') return bad('it is empty');
  if (Buffer.byteLength(command) > CRON_COMMAND_MAX_BYTES) {
    return bad(`it is over ${CRON_COMMAND_MAX_BYTES} bytes; put a longer job in a script`);
  }
  return { command };
}

/** Why cron could not run as `user` on this host, or null. */
async function userProblem(user: string): Promise<string | null> {
  const known = (await readUsers()).some((u) => u.name === user);
  return known ? null : `user ${user} does not exist on this host`;
}

/** Writes the entry's file as cron wants it: root's, not writable by others. */
async function writeEntry(path: string, text: string): Promise<string | null> {
  try {
    await replaceFile(path, text, { mode: 0o644, uid: 0, gid: 0 });
    return null;
  } catch (err) {
    return `cannot write ${path}: ${errorText(err)}`;
  }
}

export const cronListHandler: JobHandler = nodeHandler('cron.list', (_data, ctx) =>
  onCron<'cron.list'>(ctx, async (dir) => {
    const entries: CronEntry[] = [];
    for (const file of (await readdir(dir)).sort()) {
      if (!file.startsWith(CRON_FILE_PREFIX)) continue;
      const path = join(dir, file);
      const read = await readEntryFile(path).catch(() => ({ kind: 'other' }) as const);
      if (read.kind !== 'file' || !read.fields) continue;
      entries.push(entryOf(file.slice(CRON_FILE_PREFIX.length), path, read.fields));
    }
    return { ok: true, result: { entries } };
  }),
);

export const cronGetHandler: JobHandler = nodeHandler('cron.get', (data, ctx) =>
  onCron<'cron.get'>(ctx, async (dir) => {
    const path = join(dir, `${CRON_FILE_PREFIX}${data.name}`);
    const read = await readEntryFile(path);
    if (read.kind === 'absent') return failed(`no cron entry named ${data.name} (${path})`);
    if (read.kind !== 'file' || !read.fields) return failed(NOT_OURS(data.name, path));
    return { ok: true, result: { entry: entryOf(data.name, path, read.fields) } };
  }),
);

/** The schedule an entry's data asks for: its own, or its interval as cron's macro. */
function scheduleOf(data: { schedule?: string; interval?: CronInterval }): {
  schedule: string;
  interval?: CronInterval;
} {
  if (data.interval) return { schedule: `@${data.interval}`, interval: data.interval };
  return { schedule: data.schedule ?? '' };
}

export const cronCreateHandler: JobHandler = nodeHandler('cron.create', (data, ctx) =>
  serializedOn(CRON_QUEUE, () =>
    onCron<'cron.create'>(ctx, async (dir) => {
      if (!runsAsRoot()) return needsRoot('writing a cron entry');
      const path = join(dir, `${CRON_FILE_PREFIX}${data.name}`);
      const user = data.user ?? 'root';
      const noUser = await userProblem(user);
      if (noUser) return failed(noUser);
      const got = await commandOf(data, ctx);
      if ('error' in got) return failed(got.error);
      const text = entryText({
        object: data.object,
        user,
        command: got.command,
        ...scheduleOf(data),
      });
      const read = await readEntryFile(path);
      if (read.kind === 'other') return failed(NOT_OURS(data.name, path));
      if (read.kind === 'file') {
        if (!read.fields) return failed(NOT_OURS(data.name, path));
        if (read.text === text) return { ok: true, result: { name: data.name, changed: false } };
        return failed(
          `cron entry ${data.name} already exists with other content; cron.update changes it`,
        );
      }
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      const error = await writeEntry(path, text);
      return error ? failed(error) : { ok: true, result: { name: data.name, changed: true } };
    }),
  ),
);

export const cronUpdateHandler: JobHandler = nodeHandler('cron.update', (data, ctx) =>
  serializedOn(CRON_QUEUE, () =>
    onCron<'cron.update'>(ctx, async (dir) => {
      if (!runsAsRoot()) return needsRoot('writing a cron entry');
      const path = join(dir, `${CRON_FILE_PREFIX}${data.name}`);
      const read = await readEntryFile(path);
      if (read.kind === 'absent') {
        return failed(`no cron entry named ${data.name} (${path}); cron.create writes one`);
      }
      if (read.kind !== 'file' || !read.fields) return failed(NOT_OURS(data.name, path));
      const now = read.fields;
      const user = data.user ?? now.user;
      const noUser = await userProblem(user);
      if (noUser) return failed(noUser);
      let command = now.command;
      if (data.object !== undefined) {
        const got = await commandOf({ ...data, object: data.object }, ctx);
        if ('error' in got) return failed(got.error);
        command = got.command;
      }
      const when =
        data.schedule !== undefined || data.interval !== undefined
          ? scheduleOf(data)
          : { schedule: now.schedule, ...(now.interval ? { interval: now.interval } : {}) };
      const text = entryText({ object: data.object ?? now.object, user, command, ...when });
      if (read.text === text) return { ok: true, result: { name: data.name, changed: false } };
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      const error = await writeEntry(path, text);
      return error ? failed(error) : { ok: true, result: { name: data.name, changed: true } };
    }),
  ),
);

export const cronDeleteHandler: JobHandler = nodeHandler('cron.delete', (data, ctx) =>
  serializedOn(CRON_QUEUE, () =>
    onCron<'cron.delete'>(ctx, async (dir) => {
      if (!runsAsRoot()) return needsRoot('removing a cron entry');
      const path = join(dir, `${CRON_FILE_PREFIX}${data.name}`);
      const read = await readEntryFile(path);
      if (read.kind === 'absent') return { ok: true, result: { name: data.name, changed: false } };
      if (read.kind !== 'file' || !read.fields) return failed(NOT_OURS(data.name, path));
      try {
        await unlink(path);
      } catch (err) {
        return failed(`cannot remove ${path}: ${errorText(err)}`);
      }
      return { ok: true, result: { name: data.name, changed: true } };
    }),
  ),
);
