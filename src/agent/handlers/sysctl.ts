// Kernel parameters on the agent: managed keys are persisted in one file
// (agent.sysctl.file, /etc/sysctl.d/90-osapi.conf by default, which
// systemd-sysctl or procps reads at boot) and applied at once by writing the
// parameter's file under /proc/sys (agent.sysctl.proc_dir). No tool runs:
// `sysctl -w` does nothing but write that file. A key is taken only when its
// file exists under proc_dir. Deleting a key removes it from the persisted
// file; the kernel keeps the live value until the next boot.

import { lstat, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SysctlEntry } from '../../contract/sysctl.js';
import { errorText } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, readFileIfPresent, replaceFile, runsAsRoot } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_SYSCTL_FILE = '/etc/sysctl.d/90-osapi.conf';
export const DEFAULT_PROC_DIR = '/proc/sys';

/** The first line of the file this system writes; without it the file is not touched. */
export const SYSCTL_MARKER = '# Managed by OSAPI';
const HEADER = `${SYSCTL_MARKER}: sysctl.create, sysctl.update and sysctl.delete rewrite this file.\n`;

const SYSCTL_QUEUE = 'sysctl file';

type SysctlOp = 'sysctl.list' | 'sysctl.get' | 'sysctl.create' | 'sysctl.update' | 'sysctl.delete';

interface Paths {
  file: string;
  procDir: string;
}

function pathsOf(ctx: HandlerContext): Paths {
  return {
    file: ctx.host?.sysctlFile ?? DEFAULT_SYSCTL_FILE,
    procDir: ctx.host?.sysctlProcDir ?? DEFAULT_PROC_DIR,
  };
}

/** `net.ipv4.ip_forward` → `<procDir>/net/ipv4/ip_forward`; the key passed its pattern, so no part is `..`. */
function procPathOf(procDir: string, key: string): string {
  return join(procDir, ...key.split('.'));
}

/** Whitespace as the kernel prints it for several fields: one tab between them, none around. */
export function normalValue(value: string): string {
  return value.trim().split(/\s+/).join('\t');
}

/** The persisted keys, in the file's order. */
export type Persisted = Map<string, string>;

/** The file's keys, or null when the file exists and this system did not write it. */
export function parseSysctlFile(text: string): Persisted | null {
  if (!text.startsWith(SYSCTL_MARKER)) return null;
  const keys: Persisted = new Map();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    keys.set(t.slice(0, eq).trim(), t.slice(eq + 1).trim());
  }
  return keys;
}

export function sysctlFileText(keys: Persisted): string {
  return HEADER + [...keys].map(([k, v]) => `${k} = ${v}\n`).join('');
}

async function readPersisted(file: string): Promise<Persisted | { error: string }> {
  let bytes: Buffer | null;
  try {
    bytes = await readFileIfPresent(file);
  } catch (err) {
    return { error: `cannot read ${file}: ${errorText(err)}` };
  }
  if (bytes === null) return new Map();
  return (
    parseSysctlFile(bytes.toString('utf8')) ?? {
      error: `${file} was not written by this system (no "${SYSCTL_MARKER}" first line); it is left as it is: set agent.sysctl.file to a file of its own`,
    }
  );
}

/** The live value, or why the key cannot be read. */
async function readLive(
  procDir: string,
  key: string,
): Promise<{ live: string } | { error: string }> {
  const path = procPathOf(procDir, key);
  try {
    const st = await lstat(path);
    if (!st.isFile())
      return { error: `${key} is not a parameter on this host (${path} is not a file)` };
    return { live: normalValue(await readFile(path, 'utf8')) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { error: `${key} is not a parameter on this host (no ${path})` };
    }
    return { error: `cannot read ${key} (${path}): ${code ?? errorText(err)}` };
  }
}

/** Sets the live value; the kernel may refuse it (EINVAL), and then nothing changed. */
async function writeLive(procDir: string, key: string, value: string): Promise<string | null> {
  const path = procPathOf(procDir, key);
  try {
    await writeFile(path, `${value}\n`);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINVAL') return `the kernel refused ${value} for ${key}: not a value it takes`;
    if (code === 'EACCES' || code === 'EPERM') {
      return `the kernel does not let ${key} be set here (${code}): it is read-only, or belongs to another namespace`;
    }
    return `cannot set ${key} (${path}): ${code ?? errorText(err)}`;
  }
}

/** Runs `work` where proc_dir exists; anywhere else the host is `skipped`. */
async function onSysctl<T extends SysctlOp>(
  ctx: HandlerContext,
  work: (paths: Paths) => Promise<NodeOutcome<T>>,
): Promise<NodeOutcome<T>> {
  const paths = pathsOf(ctx);
  const st = await lstat(paths.procDir).catch(() => null);
  if (!st?.isDirectory()) {
    return {
      unsupported: `this host has no ${paths.procDir}: its kernel parameters cannot be read`,
    };
  }
  return work(paths);
}

async function entryOf(procDir: string, key: string, persisted: Persisted): Promise<SysctlEntry> {
  const live = await readLive(procDir, key);
  const value = persisted.get(key);
  return {
    key,
    ...(value !== undefined ? { value } : {}),
    live: 'live' in live ? live.live : '',
    managed: value !== undefined,
  };
}

export const sysctlListHandler: JobHandler = nodeHandler('sysctl.list', (_data, ctx) =>
  onSysctl<'sysctl.list'>(ctx, async ({ file, procDir }) => {
    const persisted = await readPersisted(file);
    if ('error' in persisted) return failed(persisted.error as string);
    const entries: SysctlEntry[] = [];
    for (const key of persisted.keys()) entries.push(await entryOf(procDir, key, persisted));
    return { ok: true, result: { entries } };
  }),
);

export const sysctlGetHandler: JobHandler = nodeHandler('sysctl.get', (data, ctx) =>
  onSysctl<'sysctl.get'>(ctx, async ({ file, procDir }) => {
    const live = await readLive(procDir, data.key);
    if ('error' in live) return failed(live.error);
    const persisted = await readPersisted(file);
    if ('error' in persisted) return failed(persisted.error as string);
    return { ok: true, result: await entryOf(procDir, data.key, persisted) };
  }),
);

/**
 * Sets the key now and persists it: the live value first (the kernel judges
 * it), then the file; when the file cannot be written, the previous live
 * value is put back, so a failure leaves the host as it was.
 */
async function setKey(
  paths: Paths,
  key: string,
  value: string,
  mustBeManaged: boolean,
): Promise<NodeOutcome<'sysctl.create'>> {
  if (!runsAsRoot()) return needsRoot('setting a sysctl parameter');
  const before = await readLive(paths.procDir, key);
  if ('error' in before) return failed(before.error);
  const persisted = await readPersisted(paths.file);
  if ('error' in persisted) return failed(persisted.error as string);
  const present = persisted.get(key);
  if (mustBeManaged && present === undefined) {
    return failed(`${key} is not managed by this system on this host; sysctl.create sets it`);
  }
  if (!mustBeManaged && present !== undefined && present !== value) {
    return failed(`${key} is already managed here with ${present}; sysctl.update changes it`);
  }
  const wanted = normalValue(value);
  if (present === value && before.live === wanted)
    return { ok: true, result: { key, changed: false } };
  if (before.live !== wanted) {
    const refused = await writeLive(paths.procDir, key, value);
    if (refused) return failed(`${refused}; nothing changed`);
  }
  if (present !== value) {
    persisted.set(key, value);
    try {
      await replaceFile(paths.file, sysctlFileText(persisted), { mode: 0o644 });
    } catch (err) {
      const back = await writeLive(paths.procDir, key, before.live);
      return failed(
        `cannot write ${paths.file}: ${errorText(err)}; ${back ? `putting ${key} back to ${before.live} failed too (${back}): set it by hand` : `${key} was put back to ${before.live}, so nothing changed`}`,
      );
    }
  }
  return { ok: true, result: { key, changed: true } };
}

export const sysctlCreateHandler: JobHandler = nodeHandler('sysctl.create', (data, ctx) =>
  serializedOn(SYSCTL_QUEUE, () =>
    onSysctl<'sysctl.create'>(ctx, (paths) => setKey(paths, data.key, data.value, false)),
  ),
);

export const sysctlUpdateHandler: JobHandler = nodeHandler('sysctl.update', (data, ctx) =>
  serializedOn(SYSCTL_QUEUE, () =>
    onSysctl<'sysctl.update'>(ctx, (paths) => setKey(paths, data.key, data.value, true)),
  ),
);

export const sysctlDeleteHandler: JobHandler = nodeHandler('sysctl.delete', (data, ctx) =>
  serializedOn(SYSCTL_QUEUE, () =>
    onSysctl<'sysctl.delete'>(ctx, async ({ file }) => {
      if (!runsAsRoot()) return needsRoot('removing a persisted sysctl parameter');
      const persisted = await readPersisted(file);
      if ('error' in persisted) return failed(persisted.error as string);
      if (!persisted.delete(data.key))
        return { ok: true, result: { key: data.key, changed: false } };
      try {
        if (persisted.size === 0) await unlink(file);
        else await replaceFile(file, sysctlFileText(persisted), { mode: 0o644 });
      } catch (err) {
        return failed(`cannot write ${file}: ${errorText(err)}; nothing changed`);
      }
      return { ok: true, result: { key: data.key, changed: true } };
    }),
  ),
);
