// The log operations on the agent: entries of the system journal through
// `journalctl -o json`, the newest `lines` of them, filtered by time,
// priority, unit and a pattern on the message; and the journal's sources. A host where journald keeps
// no journal (nothing in /run/log/journal nor /var/log/journal) answers
// `skipped`.
import { readdirSync } from 'node:fs';
import {
  LOG_LINES_DEFAULT,
  LOG_MESSAGE_MAX_CHARS,
  type LogEntryInfo,
  type LogQueryData,
  logTimeMs,
  PRIORITIES,
} from '../../contract/log.js';
import { nodeHandler } from './checked.js';
import { runTool } from './host-tools.js';
import type { HandlerContext, JobHandler } from './types.js';

const JOURNAL_DIRS = ['/run/log/journal', '/var/log/journal'];
const TOOL_TIMEOUT_MS = 25_000;
/** At most LOG_LINES_MAX entries of a few KiB each; the journal's own fields make them larger. */
const OUTPUT_MAX_BYTES = 16 * 1024 * 1024;
const SOURCES_MAX = 10_000;
/** What journalctl says when it was built without PCRE2, or cannot load it, and is given --grep. */
const NO_PATTERNS = /without pattern matching support|pcre2/i;

const toolOf = (ctx: HandlerContext) => ctx.host?.journalctl ?? 'journalctl';

/** Whether the directory has anything in it: journald keeps its files in a subdirectory per machine id. */
function holdsAnything(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/**
 * A host where journald keeps no journal: the package's empty
 * /var/log/journal alone does not make one.
 */
function noJournal(ctx: HandlerContext): { unsupported: string } | null {
  const dirs = ctx.host?.journalDirs ?? JOURNAL_DIRS;
  if (dirs.some(holdsAnything)) return null;
  return {
    unsupported: `journald keeps no journal on this host (${dirs.join(' and ')} hold none): there are no entries to read`,
  };
}

/** A time as journalctl's `@<epoch seconds>`: one meaning whatever the host's time zone. */
export function timeArg(option: 'since' | 'until', value: string, now = Date.now()): string | null {
  const ms = logTimeMs(value, now);
  return ms === null ? null : `--${option}=@${Math.floor(ms / 1000)}`;
}

/** The priority's number (journalctl shows it and every more urgent one). */
function priorityArg(priority: string): string {
  const n = /^[0-7]$/.test(priority)
    ? Number(priority)
    : PRIORITIES.indexOf(priority as (typeof PRIORITIES)[number]);
  return `--priority=${n}`;
}

/** journalctl gives a field that is not valid UTF-8 as an array of bytes. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((b) => typeof b === 'number')) {
    return Buffer.from(value as number[]).toString('utf8');
  }
  return '';
}

/** One line of `journalctl -o json`, or null when it is not an entry. */
export function parseJournalLine(line: string): LogEntryInfo | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const e = raw as Record<string, unknown>;
  const micros = Number(text(e.__REALTIME_TIMESTAMP));
  if (!Number.isFinite(micros) || micros <= 0) return null;
  const priority = Number(text(e.PRIORITY));
  const message = text(e.MESSAGE);
  const pid = Number(text(e._PID));
  return {
    timestamp: new Date(Math.floor(micros / 1000)).toISOString(),
    unit: text(e._SYSTEMD_UNIT) || text(e.SYSLOG_IDENTIFIER),
    priority: PRIORITIES[priority] ?? 'info',
    message:
      message.length > LOG_MESSAGE_MAX_CHARS ? message.slice(0, LOG_MESSAGE_MAX_CHARS) : message,
    ...(Number.isInteger(pid) && pid > 0 ? { pid } : {}),
    hostname: text(e._HOSTNAME),
  };
}

async function readEntries(
  ctx: HandlerContext,
  filters: LogQueryData,
  unit?: string,
): Promise<
  | { ok: true; result: { entries: LogEntryInfo[] } }
  | { ok: false; error: string }
  | { unsupported: string }
> {
  const missing = noJournal(ctx);
  if (missing) return missing;
  const args = ['-o', 'json', '--no-pager', '-n', String(filters.lines ?? LOG_LINES_DEFAULT)];
  // One moment for both, so an age in since and one in until count back from the same time.
  const now = Date.now();
  for (const option of ['since', 'until'] as const) {
    const value = filters[option];
    if (value === undefined) continue;
    const arg = timeArg(option, value, now);
    if (arg === null) return { ok: false, error: `${option} "${value}" is not a time` };
    args.push(arg);
  }
  if (filters.priority !== undefined) args.push(priorityArg(filters.priority));
  // The pattern is one argument of its own: journalctl reads it whole, and no shell sees it.
  if (filters.grep !== undefined) args.push(`--grep=${filters.grep}`);
  if (unit !== undefined) args.push(`--unit=${unit}`);
  const run = await runTool(toolOf(ctx), args, {
    signal: ctx.signal,
    timeoutMs: TOOL_TIMEOUT_MS,
    maxOutputBytes: OUTPUT_MAX_BYTES,
  });
  if (run.kind === 'missing') {
    return { unsupported: `${run.tool} is not installed on this host: the journal cannot be read` };
  }
  if (run.kind === 'failed') {
    if (filters.grep !== undefined && NO_PATTERNS.test(run.stderr)) {
      return {
        ok: false,
        error: `${toolOf(ctx)} on this host was built without pattern matching (PCRE2), so grep cannot be used there: ask again without grep`,
      };
    }
    return { ok: false, error: run.error };
  }
  const entries = run.stdout
    .split('\n')
    .map(parseJournalLine)
    .filter((e): e is LogEntryInfo => e !== null);
  return { ok: true, result: { entries } };
}

export const logListHandler: JobHandler = nodeHandler('log.list', (data, ctx) =>
  readEntries(ctx, data),
);

export const logUnitHandler: JobHandler = nodeHandler('log.unit.list', (data, ctx) => {
  const { name, ...filters } = data;
  return readEntries(ctx, filters, name);
});

export const logSourceHandler: JobHandler = nodeHandler('log.source.list', async (_data, ctx) => {
  const missing = noJournal(ctx);
  if (missing) return missing;
  const run = await runTool(toolOf(ctx), ['--no-pager', '--field=SYSLOG_IDENTIFIER'], {
    signal: ctx.signal,
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  if (run.kind === 'missing') {
    return { unsupported: `${run.tool} is not installed on this host: the journal cannot be read` };
  }
  if (run.kind === 'failed') return { ok: false, error: run.error };
  const sources = [
    ...new Set(
      run.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ]
    .sort()
    .slice(0, SOURCES_MAX);
  return { ok: true, result: { sources } };
});
