// Time synchronisation on the agent, through chrony: the status from
// `chronyc -n -c tracking` and `chronyc -n -c sources` (CSV, addresses not
// names), the servers this system configures in one sources file
// (agent.ntp.sources_file, in chrony's sourcedir) that chrony re-reads on
// `chronyc reload sources`. A host without chronyc is `skipped`.

import { readFile, unlink } from 'node:fs/promises';
import type { NtpStatus } from '../../contract/ntp.js';
import { errorText } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, replaceFile, runsAsRoot, runTool, type ToolRun } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_SOURCES_FILE = '/etc/chrony/sources.d/osapi.sources';
export const NTP_MARKER = '# Managed by OSAPI';
const HEADER = `${NTP_MARKER}: ntp.update replaces this file, ntp.delete removes it.\n`;
const NTP_QUEUE = 'chrony sources';
const CHRONYC_TIMEOUT_MS = 20_000;

type NtpOp = 'ntp.get' | 'ntp.create' | 'ntp.update' | 'ntp.delete';

function sourcesFileOf(ctx: HandlerContext): string {
  return ctx.host?.ntpSourcesFile ?? DEFAULT_SOURCES_FILE;
}

const UNSUPPORTED = { unsupported: 'chrony is not installed on this host (no chronyc)' };

function chronyc(ctx: HandlerContext, args: string[]): Promise<ToolRun> {
  return runTool(ctx.host?.chronyc ?? 'chronyc', args, {
    signal: ctx.signal,
    timeoutMs: CHRONYC_TIMEOUT_MS,
  });
}

/** The tracking report's fields: chronyc -c prints one CSV line. */
export function parseTracking(stdout: string): Omit<NtpStatus, 'servers' | 'sources'> | null {
  const f = stdout.trim().split('\n')[0]?.split(',') ?? [];
  if (f.length < 14) return null;
  const stratum = Number(f[2]);
  return {
    synchronized: f[13] !== 'Not synchronised',
    stratum: Number.isInteger(stratum) ? stratum : 0,
    offset: f[5] ?? '',
    current_source: f[1] ?? '',
  };
}

export function parseSources(stdout: string): NtpStatus['sources'] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.split(','))
    .filter((f) => f.length >= 4)
    .map((f) => ({
      mode: f[0] ?? '',
      state: f[1] ?? '',
      address: f[2] ?? '',
      stratum: Number.isInteger(Number(f[3])) ? Number(f[3]) : 0,
    }));
}

/** The servers of the sources file, or null when the file is not this system's. */
export function parseSourcesFile(text: string): string[] | null {
  if (!text.startsWith(NTP_MARKER)) return null;
  return text
    .split('\n')
    .map((l) => /^server\s+(\S+)/.exec(l.trim())?.[1])
    .filter((s): s is string => s !== undefined);
}

export function sourcesFileText(servers: readonly string[]): string {
  return HEADER + servers.map((s) => `server ${s} iburst\n`).join('');
}

type SourcesFile =
  | { kind: 'absent' }
  | { kind: 'ours'; text: string; servers: string[] }
  | { kind: 'other' };

async function readSourcesFile(path: string): Promise<SourcesFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  const servers = parseSourcesFile(text);
  return servers ? { kind: 'ours', text, servers } : { kind: 'other' };
}

const NOT_OURS = (path: string) =>
  `${path} was not written by this system; it is left as it is: set agent.ntp.sources_file to a file of its own`;

/** chronyc's failure as a sentence; null when it ran. */
function toolError(run: ToolRun): string | null {
  if (run.kind === 'ok') return null;
  return run.kind === 'missing' ? 'chronyc disappeared' : run.error;
}

export const ntpGetHandler: JobHandler = nodeHandler('ntp.get', async (_data, ctx) => {
  const tracking = await chronyc(ctx, ['-n', '-c', 'tracking']);
  if (tracking.kind === 'missing') return UNSUPPORTED;
  if (tracking.kind === 'failed') return failed(tracking.error);
  const status = parseTracking(tracking.stdout);
  if (!status)
    return failed(
      `chronyc tracking answered what this agent cannot read: ${tracking.stdout.slice(0, 200)}`,
    );
  const sources = await chronyc(ctx, ['-n', '-c', 'sources']);
  if (sources.kind !== 'ok') return failed(toolError(sources) as string);
  const file = await readSourcesFile(sourcesFileOf(ctx));
  return {
    ok: true,
    result: {
      ...status,
      servers: file.kind === 'ours' ? file.servers : [],
      sources: parseSources(sources.stdout),
    },
  };
});

/** Writes (or removes) the file, has chrony re-read it, and puts the old file back when chrony fails. */
async function applySources(
  ctx: HandlerContext,
  path: string,
  wanted: string | null,
  previous: string | null,
): Promise<NodeOutcome<'ntp.create'>> {
  try {
    if (wanted === null) await unlink(path);
    else await replaceFile(path, wanted, { mode: 0o644 });
  } catch (err) {
    return failed(`cannot write ${path}: ${errorText(err)}; nothing changed`);
  }
  const reload = toolError(await chronyc(ctx, ['reload', 'sources']));
  if (!reload) return { ok: true, result: { changed: true } };
  try {
    if (previous === null) await unlink(path);
    else await replaceFile(path, previous, { mode: 0o644 });
  } catch (err) {
    return failed(`${reload}; putting ${path} back failed too (${errorText(err)}): fix it by hand`);
  }
  return failed(`${reload}; ${path} was put back, so nothing changed`);
}

function ntpChange<T extends NtpOp>(
  type: T,
  what: (
    file: SourcesFile,
    data: { servers?: string[] },
    path: string,
  ) => { text: string | null } | { done: NodeOutcome<T> },
): JobHandler {
  return nodeHandler(type, (data, ctx) =>
    serializedOn(NTP_QUEUE, async (): Promise<NodeOutcome<T>> => {
      const probe = await chronyc(ctx, ['-n', '-c', 'tracking']);
      if (probe.kind === 'missing') return UNSUPPORTED;
      if (!runsAsRoot()) return needsRoot('configuring NTP servers');
      const path = sourcesFileOf(ctx);
      const file = await readSourcesFile(path);
      if (file.kind === 'other') return failed(NOT_OURS(path));
      const plan = what(file, data as { servers?: string[] }, path);
      if ('done' in plan) return plan.done;
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      return (await applySources(
        ctx,
        path,
        plan.text,
        file.kind === 'ours' ? file.text : null,
      )) as NodeOutcome<T>;
    }),
  );
}

const unchanged = { done: { ok: true, result: { changed: false } } } as const;

export const ntpCreateHandler = ntpChange('ntp.create', (file, data, path) => {
  const text = sourcesFileText(data.servers ?? []);
  if (file.kind === 'absent') return { text };
  if (file.kind === 'ours' && file.text === text) return unchanged;
  return { done: failed(`${path} already configures other servers; ntp.update replaces them`) };
});

export const ntpUpdateHandler = ntpChange('ntp.update', (file, data, path) => {
  const text = sourcesFileText(data.servers ?? []);
  if (file.kind === 'absent')
    return { done: failed(`${path} does not exist; ntp.create writes it`) };
  if (file.kind === 'ours' && file.text === text) return unchanged;
  return { text };
});

export const ntpDeleteHandler = ntpChange('ntp.delete', (file) => {
  if (file.kind === 'absent') return unchanged;
  return { text: null };
});
