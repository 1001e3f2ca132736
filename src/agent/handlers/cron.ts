// Cron entries on the agent. An entry with a schedule is one file in the
// cron directory (agent.cron.dir, /etc/cron.d by default), named
// osapi-<name>, whose first line marks it as this system's. An entry with an
// interval is a script of that name in /etc/cron.<interval>
// (agent.cron.periodic_dir), which cron's run-parts runs as root, marked on
// its second line (the first is its interpreter). cron reads the file and
// runs its command; the agent never runs it. The command is a stored
// object's content (raw or a rendered template): one line, written as it is.
// list and get show only marked files, and update and delete touch only
// those: an entry written by hand or by a package is never changed.

import { readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
export const DEFAULT_CRON_PERIODIC_DIR = '/etc';

/** run-parts' interpreter line: it runs the script as a program. */
const SCRIPT_SHEBANG = '#!/bin/sh';
/** run-parts runs only an executable file; cron wants it root's and written by root alone. */
const SCRIPT_MODE = 0o755;

/** The first line of every entry this system writes; the mark list, update and delete look for. */
export const CRON_MARKER = '# Managed by OSAPI';
const HEADER_NOTE = 'cron.update replaces this file, cron.delete removes it.';

/** Longest command line taken: cron's own line limit is larger, a command this long is a script. */
export const CRON_COMMAND_MAX_BYTES = 4096;

/** Changes to cron's files (the cron directory, the run-parts directories), one at a time on this agent. */
const CRON_QUEUE = 'cron entries';

function cronDirOf(ctx: HandlerContext): string {
  return ctx.host?.cronDir ?? DEFAULT_CRON_DIR;
}

/** The run-parts directory an interval's scripts are in: /etc/cron.daily for daily. */
function intervalDirOf(ctx: HandlerContext, interval: CronInterval): string {
  return join(ctx.host?.cronPeriodicDir ?? DEFAULT_CRON_PERIODIC_DIR, `cron.${interval}`);
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

/** The script run-parts runs for an entry with an interval: interpreter, marker line, the command. */
export function scriptText(e: { object: string; interval: CronInterval; command: string }): string {
  return `${SCRIPT_SHEBANG}\n${CRON_MARKER}: ${HEADER_NOTE} object=${e.object} interval=${e.interval}\n${e.command}\n`;
}

/**
 * An interval entry's fields read back from its script, or null when this
 * system did not write it; the interval is the directory's, and run-parts
 * runs it as root.
 */
export function parseScript(text: string, interval: CronInterval): EntryFields | null {
  const [shebang, header, command, end, ...more] = text.split('\n');
  if (shebang !== SCRIPT_SHEBANG || !header?.startsWith(CRON_MARKER)) return null;
  if (command === undefined || command === '' || end !== '' || more.length > 0) return null;
  const object = /\bobject=(\S+)/.exec(header)?.[1] ?? '';
  return { object, schedule: `@${interval}`, interval, user: 'root', command };
}

/** The file's text for an entry's fields: a script for an interval, else a line of the cron directory. */
function fileText(e: EntryFields, place: Place): string {
  return place.interval
    ? scriptText({ object: e.object, interval: place.interval, command: e.command })
    : entryText(e);
}

/** One file an entry of a name may be: in the cron directory, or a script of an interval. */
interface Place {
  path: string;
  /** Set for a script in /etc/cron.<interval>. */
  interval?: CronInterval;
}

/** Every place an entry of this name may be, the cron directory first. */
function placesOf(ctx: HandlerContext, dir: string, name: string): Place[] {
  const file = `${CRON_FILE_PREFIX}${name}`;
  return [
    { path: join(dir, file) },
    ...CRON_INTERVALS.map((interval) => ({
      path: join(intervalDirOf(ctx, interval), file),
      interval,
    })),
  ];
}

/** Where an entry asked to run by `interval`, or by a schedule, is written. */
function placeFor(ctx: HandlerContext, dir: string, name: string, interval?: CronInterval): Place {
  return placesOf(ctx, dir, name).find((p) => p.interval === interval) as Place;
}

type EntryFile =
  | { kind: 'absent' }
  /** A link, a directory, ...: never ours. */
  | { kind: 'other' }
  | { kind: 'file'; text: string; fields: EntryFields | null };

async function readEntryFile(place: Place): Promise<EntryFile> {
  const owned = await readOwnedFile(place.path);
  if (owned.kind !== 'file') return owned;
  const text = owned.bytes.toString('utf8');
  const fields = place.interval ? parseScript(text, place.interval) : parseEntry(text);
  return { kind: 'file', text, fields };
}

/** A file of an entry this system wrote, where it was found. */
interface OwnFile {
  place: Place;
  text: string;
  fields: EntryFields;
}

/**
 * The files of an entry's name in any of its places (normally one; two
 * after a move cut short), and the first file of that name this system did
 * not write, which nothing may change.
 */
async function findEntry(
  ctx: HandlerContext,
  dir: string,
  name: string,
): Promise<{ ours: OwnFile[]; foreign: Place | null }> {
  const ours: OwnFile[] = [];
  let foreign: Place | null = null;
  for (const place of placesOf(ctx, dir, name)) {
    const read = await readEntryFile(place);
    if (read.kind === 'file' && read.fields)
      ours.push({ place, text: read.text, fields: read.fields });
    else if (read.kind !== 'absent') foreign ??= place;
  }
  return { ours, foreign };
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

/**
 * Writes the entry's file as cron wants it: root's, not writable by others;
 * a script executable, as run-parts runs nothing else. Its directory must be
 * there already: the agent makes none of cron's directories.
 */
async function writeEntry(place: Place, text: string): Promise<string | null> {
  const dir = dirname(place.path);
  if (place.interval && !(await stat(dir).catch(() => null))?.isDirectory()) {
    return `this host has no ${dir}, where run-parts runs ${place.interval} scripts from: install cron, set agent.cron.periodic_dir, or give a schedule instead of interval`;
  }
  try {
    await replaceFile(place.path, text, {
      mode: place.interval ? SCRIPT_MODE : 0o644,
      uid: 0,
      gid: 0,
    });
    return null;
  } catch (err) {
    return `cannot write ${place.path}: ${errorText(err)}`;
  }
}

/** Why an entry cannot run by interval as this user, or null: run-parts runs scripts as root. */
function intervalUserProblem(name: string, interval: CronInterval | undefined, user: string) {
  if (!interval || user === 'root') return null;
  return `cron entry ${name}: an entry with interval runs as root (run-parts runs /etc/cron.${interval} as root), not as ${user}; give a schedule (e.g. @${interval}) to run it as ${user}`;
}

export const cronListHandler: JobHandler = nodeHandler('cron.list', (_data, ctx) =>
  onCron<'cron.list'>(ctx, async (dir) => {
    const entries: CronEntry[] = [];
    const places: Place[] = [
      { path: dir },
      ...CRON_INTERVALS.map((interval) => ({ path: intervalDirOf(ctx, interval), interval })),
    ];
    for (const at of places) {
      // A host may lack a run-parts directory (cron.hourly, say): it then has no entries there.
      const files = at.interval ? await readdir(at.path).catch(() => []) : await readdir(at.path);
      for (const file of files.sort()) {
        if (!file.startsWith(CRON_FILE_PREFIX)) continue;
        const place = { ...at, path: join(at.path, file) };
        const read = await readEntryFile(place).catch(() => ({ kind: 'other' }) as const);
        if (read.kind !== 'file' || !read.fields) continue;
        entries.push(entryOf(file.slice(CRON_FILE_PREFIX.length), place.path, read.fields));
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { ok: true, result: { entries } };
  }),
);

export const cronGetHandler: JobHandler = nodeHandler('cron.get', (data, ctx) =>
  onCron<'cron.get'>(ctx, async (dir) => {
    const { ours, foreign } = await findEntry(ctx, dir, data.name);
    const [first] = ours;
    if (first) return { ok: true, result: entryOf(data.name, first.place.path, first.fields) };
    if (foreign) return failed(NOT_OURS(data.name, foreign.path));
    return failed(`no cron entry named ${data.name} (${join(dir, CRON_FILE_PREFIX + data.name)})`);
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
      const user = data.user ?? 'root';
      const asRoot = intervalUserProblem(data.name, data.interval, user);
      if (asRoot) return failed(asRoot);
      const noUser = await userProblem(user);
      if (noUser) return failed(noUser);
      const got = await commandOf(data, ctx);
      if ('error' in got) return failed(got.error);
      const target = placeFor(ctx, dir, data.name, data.interval);
      const text = fileText(
        { object: data.object, user, command: got.command, ...scheduleOf(data) },
        target,
      );
      const { ours, foreign } = await findEntry(ctx, dir, data.name);
      if (foreign) return failed(NOT_OURS(data.name, foreign.path));
      const [existing, ...more] = ours;
      if (existing) {
        if (more.length === 0 && existing.place.path === target.path && existing.text === text) {
          return { ok: true, result: { name: data.name, changed: false } };
        }
        return failed(
          `cron entry ${data.name} already exists with other content (${existing.place.path}); cron.update changes it`,
        );
      }
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      const error = await writeEntry(target, text);
      return error ? failed(error) : { ok: true, result: { name: data.name, changed: true } };
    }),
  ),
);

/**
 * Removes an entry's other marked files once its file is where it belongs:
 * the new file is written first, so a failure leaves the entry running.
 */
async function removeOthers(ours: OwnFile[], keep: Place): Promise<string | null> {
  for (const f of ours) {
    if (f.place.path === keep.path) continue;
    try {
      await unlink(f.place.path);
    } catch (err) {
      return `wrote ${keep.path}, but cannot remove the entry's former file ${f.place.path}: ${errorText(err)}; cron.delete removes both`;
    }
  }
  return null;
}

export const cronUpdateHandler: JobHandler = nodeHandler('cron.update', (data, ctx) =>
  serializedOn(CRON_QUEUE, () =>
    onCron<'cron.update'>(ctx, async (dir) => {
      if (!runsAsRoot()) return needsRoot('writing a cron entry');
      const { ours, foreign } = await findEntry(ctx, dir, data.name);
      if (foreign) return failed(NOT_OURS(data.name, foreign.path));
      const [current] = ours;
      if (!current) {
        return failed(
          `no cron entry named ${data.name} (${join(dir, CRON_FILE_PREFIX + data.name)}); cron.create writes one`,
        );
      }
      const now = current.fields;
      const user = data.user ?? now.user;
      const when =
        data.schedule !== undefined || data.interval !== undefined
          ? scheduleOf(data)
          : { schedule: now.schedule, ...(now.interval ? { interval: now.interval } : {}) };
      const asRoot = intervalUserProblem(data.name, when.interval, user);
      if (asRoot) return failed(asRoot);
      const noUser = await userProblem(user);
      if (noUser) return failed(noUser);
      let command = now.command;
      if (data.object !== undefined) {
        const got = await commandOf({ ...data, object: data.object }, ctx);
        if ('error' in got) return failed(got.error);
        command = got.command;
      }
      const target = placeFor(ctx, dir, data.name, when.interval);
      const text = fileText({ object: data.object ?? now.object, user, command, ...when }, target);
      const there = ours.find((f) => f.place.path === target.path);
      if (ours.length === 1 && there?.text === text) {
        return { ok: true, result: { name: data.name, changed: false } };
      }
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      if (there?.text !== text) {
        const error = await writeEntry(target, text);
        if (error) return failed(error);
      }
      const error = await removeOthers(ours, target);
      return error ? failed(error) : { ok: true, result: { name: data.name, changed: true } };
    }),
  ),
);

export const cronDeleteHandler: JobHandler = nodeHandler('cron.delete', (data, ctx) =>
  serializedOn(CRON_QUEUE, () =>
    onCron<'cron.delete'>(ctx, async (dir) => {
      if (!runsAsRoot()) return needsRoot('removing a cron entry');
      const { ours, foreign } = await findEntry(ctx, dir, data.name);
      if (foreign) return failed(NOT_OURS(data.name, foreign.path));
      for (const f of ours) {
        try {
          await unlink(f.place.path);
        } catch (err) {
          return failed(`cannot remove ${f.place.path}: ${errorText(err)}`);
        }
      }
      return { ok: true, result: { name: data.name, changed: ours.length > 0 } };
    }),
  ),
);
