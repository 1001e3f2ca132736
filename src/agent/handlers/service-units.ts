// The unit files of services this system manages: service.create writes one
// into the unit directory (agent.services.unit_dir) from a stored object,
// service.update replaces it, service.delete stops, disables and removes it.
// Each file written starts with a marker line, and update and delete touch
// only files that carry it: a unit written by hand or by a package is never
// changed. A change that systemd refuses to load is taken back.

import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { normalServiceName } from '../../contract/services.js';
import { errorText } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, readOwnedFile, replaceFile, runsAsRoot } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import {
  JOB_TIMEOUT_MS,
  onSystemd,
  SERVICE_QUEUE,
  type Systemctl,
  type UnitProperties,
  unitDirOf,
  unitExists,
} from './systemctl.js';
import type { HandlerContext, JobHandler } from './types.js';

/** The first line of every unit file this system writes; the mark update and delete look for. */
export const MANAGED_MARKER = '# Managed by OSAPI';
const MANAGED_HEADER = `${MANAGED_MARKER}: service.update replaces this file, service.delete removes it.\n`;

/** Unit files are a few hundred bytes; this refuses an object that is plainly something else. */
export const UNIT_FILE_MAX_BYTES = 256 * 1024;

type UnitFile =
  | { kind: 'absent' }
  /** A symlink (a masked unit, `systemctl link`), a directory, ...: never ours. */
  | { kind: 'other' }
  | { kind: 'file'; bytes: Buffer; managed: boolean };

async function readUnitFile(path: string): Promise<UnitFile> {
  const owned = await readOwnedFile(path);
  if (owned.kind !== 'file') return owned;
  const { bytes } = owned;
  return { kind: 'file', bytes, managed: bytes.toString('utf8').startsWith(MANAGED_MARKER) };
}

/** Whether the unit `id`, whose file systemd read at `fragmentPath`, is one this system wrote. */
export async function isManagedUnit(
  unitDir: string,
  id: string,
  fragmentPath: string,
): Promise<boolean> {
  const ours = resolve(unitDir, id);
  if (!fragmentPath || resolve(fragmentPath) !== ours) return false;
  const file = await readUnitFile(ours).catch(() => ({ kind: 'other' }) as const);
  return file.kind === 'file' && file.managed;
}

/** The object's content as a unit file: UTF-8 text without NUL bytes, not empty, not huge. */
function unitText(object: string, bytes: Uint8Array): { text: string } | { error: string } {
  const bad = (why: string) => ({ error: `object ${object} is not a unit file: ${why}` });
  if (bytes.length === 0) return bad('it is empty');
  if (bytes.length > UNIT_FILE_MAX_BYTES) {
    return bad(
      `it has ${bytes.length} bytes, over the ${UNIT_FILE_MAX_BYTES} a unit file may have here`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bad('it is not UTF-8 text');
  }
  if (text.includes('\u0000')) return bad('it holds NUL bytes');
  return { text };
}

/** What a unit file written for `text` holds: the marker line, then the object as it is. */
function managedContent(text: string): Buffer {
  return Buffer.from(`${MANAGED_HEADER}${text}`, 'utf8');
}

type Outcome = NodeOutcome<'service.create'>;

function toolError(sc: Systemctl, run: Awaited<ReturnType<Systemctl['run']>>): string | null {
  if (run.kind === 'ok') return null;
  return run.kind === 'missing' ? `${sc.tool} disappeared` : run.error;
}

/**
 * daemon-reload, then whether systemd loaded the unit: null when it did,
 * else why not (its LoadError), so that the caller takes its change back.
 */
async function reloadAndLoad(sc: Systemctl, name: string): Promise<string | null> {
  const reload = toolError(sc, await sc.run(['daemon-reload'], JOB_TIMEOUT_MS));
  if (reload) return reload;
  const props = await sc.showOne(name);
  if (props.LoadState === 'loaded') return null;
  return `systemd did not load ${name} (${props.LoadState || 'no load state'}${props.LoadError ? `: ${props.LoadError}` : ''})`;
}

/** Reads the stored object the job names, at the digest it was signed with. */
async function objectText(
  data: { object: string; object_sha256: string },
  ctx: HandlerContext,
): Promise<{ text: string } | { error: string }> {
  if (!ctx.objects) {
    return { error: 'this agent cannot read the file store, so it cannot write a unit file' };
  }
  let bytes: Uint8Array;
  try {
    bytes = await ctx.objects.read(data.object, data.object_sha256, ctx.signal);
  } catch (err) {
    return { error: errorText(err) };
  }
  return unitText(data.object, bytes);
}

/** Writes the unit file, reloads systemd, and takes it all back when systemd will not load it. */
async function writeUnit(
  sc: Systemctl,
  name: string,
  path: string,
  content: Buffer,
  previous: Buffer | null,
): Promise<Outcome> {
  try {
    await replaceFile(path, content, { mode: 0o644 });
  } catch (err) {
    return failed(`cannot write ${path}: ${errorText(err)}`);
  }
  const problem = await reloadAndLoad(sc, name);
  if (!problem) return { ok: true, result: { name, changed: true } };
  // Put the host back as it was: the old file (or none), and systemd told of it.
  try {
    if (previous) await replaceFile(path, previous, { mode: 0o644 });
    else await unlink(path);
  } catch (err) {
    return failed(
      `${problem}; putting ${path} back failed too (${errorText(err)}): fix or remove it by hand, then run systemctl daemon-reload`,
    );
  }
  const back = toolError(sc, await sc.run(['daemon-reload'], JOB_TIMEOUT_MS));
  const undone = previous ? 'the previous unit file was put back' : 'the unit file was removed';
  return failed(
    back
      ? `${problem}; ${undone}, but daemon-reload then failed (${back}): run systemctl daemon-reload`
      : `${problem}; ${undone}, so nothing changed`,
  );
}

function unitPathOf(ctx: HandlerContext, name: string): string {
  return join(unitDirOf(ctx), name);
}

const NOT_OURS = (name: string, path: string) =>
  `${name} has a unit file in the unit directory (${path}) that this system did not write; it is left as it is`;

export const serviceCreateHandler: JobHandler = nodeHandler('service.create', (data, ctx) =>
  serializedOn(SERVICE_QUEUE, () =>
    onSystemd<'service.create'>(ctx, async (sc) => {
      if (!runsAsRoot()) return needsRoot('writing a unit file');
      const name = normalServiceName(data.name);
      const path = unitPathOf(ctx, name);
      const content = await objectText(data, ctx);
      if ('error' in content) return failed(content.error);
      const wanted = managedContent(content.text);
      const file = await readUnitFile(path);
      if (file.kind === 'other') return failed(NOT_OURS(name, path));
      if (file.kind === 'file') {
        if (!file.managed) return failed(NOT_OURS(name, path));
        if (file.bytes.equals(wanted)) return { ok: true, result: { name, changed: false } };
        return failed(
          `${name} already exists with other content; service.update replaces its unit file`,
        );
      }
      const props = await sc.showOne(name);
      const elsewhere = overriddenUnit(props, path);
      if (elsewhere) {
        return failed(
          `${name} already exists (${elsewhere}); a unit file in ${path} would override it, which service.create does not do: choose another name`,
        );
      }
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      return writeUnit(sc, name, path, wanted, null);
    }),
  ),
);

/** Where a unit that exists outside our path lives, or null when it does not (or is ours). */
function overriddenUnit(props: UnitProperties, path: string): string | null {
  if (!unitExists(props)) return null;
  const fragment = props.FragmentPath ?? '';
  // Loaded from our path, its file since removed by hand: a create puts it back.
  if (fragment && resolve(fragment) === resolve(path)) return null;
  return fragment ? `its unit file is ${fragment}` : `systemd has it as ${props.LoadState}`;
}

export const serviceUpdateHandler: JobHandler = nodeHandler('service.update', (data, ctx) =>
  serializedOn(SERVICE_QUEUE, () =>
    onSystemd<'service.update'>(ctx, async (sc) => {
      if (!runsAsRoot()) return needsRoot('writing a unit file');
      const name = normalServiceName(data.name);
      const path = unitPathOf(ctx, name);
      const file = await readUnitFile(path);
      if (file.kind === 'absent') {
        return failed(`service ${name} has no unit file in ${path}; service.create writes one`);
      }
      if (file.kind === 'other' || !file.managed) return failed(NOT_OURS(name, path));
      const content = await objectText(data, ctx);
      if ('error' in content) return failed(content.error);
      const wanted = managedContent(content.text);
      if (file.bytes.equals(wanted)) return { ok: true, result: { name, changed: false } };
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      return writeUnit(sc, name, path, wanted, file.bytes);
    }),
  ),
);

/** States in which a unit has something to stop. */
const RUNNING = new Set(['active', 'activating', 'deactivating', 'reloading']);

export const serviceDeleteHandler: JobHandler = nodeHandler('service.delete', (data, ctx) =>
  serializedOn(SERVICE_QUEUE, () =>
    onSystemd<'service.delete'>(ctx, async (sc) => {
      if (!runsAsRoot()) return needsRoot('removing a unit file');
      const name = normalServiceName(data.name);
      const path = unitPathOf(ctx, name);
      const file = await readUnitFile(path);
      if (file.kind === 'other') return failed(NOT_OURS(name, path));
      if (file.kind === 'absent') {
        const props = await sc.showOne(name);
        const elsewhere = overriddenUnit(props, path);
        if (elsewhere) {
          return failed(
            `${name} was not written by this system (${elsewhere}); it is left as it is`,
          );
        }
        return { ok: true, result: { name, changed: false } };
      }
      if (!file.managed) return failed(NOT_OURS(name, path));
      if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
      return removeUnit(sc, name, path, await sc.showOne(name));
    }),
  ),
);

/**
 * Stop, disable, remove, reload. A step that fails undoes the ones before it
 * (enable again, start again), so the service is left as it was.
 */
async function removeUnit(
  sc: Systemctl,
  name: string,
  path: string,
  props: UnitProperties,
): Promise<NodeOutcome<'service.delete'>> {
  const undo: Array<{ args: string[]; what: string }> = [];
  const step = async (args: string[], what: string, back?: string[]): Promise<string | null> => {
    const error = toolError(sc, await sc.run(args, JOB_TIMEOUT_MS));
    if (error) return `${what} failed: ${error}${await undoAll()}`;
    if (back) undo.unshift({ args: back, what });
    return null;
  };
  const undoAll = async (): Promise<string> => {
    const left: string[] = [];
    for (const u of undo) {
      if (toolError(sc, await sc.run(u.args, JOB_TIMEOUT_MS))) left.push(u.what);
    }
    return left.length === 0
      ? undo.length > 0
        ? '; the steps before it were undone, so nothing changed'
        : '; nothing changed'
      : `; undoing ${left.join(' and ')} failed too: check the service by hand`;
  };

  if (RUNNING.has(props.ActiveState ?? '')) {
    const e = await step(['stop', '--no-ask-password', '--', name], `stopping ${name}`, [
      'start',
      '--no-ask-password',
      '--',
      name,
    ]);
    if (e) return failed(e);
  }
  const fileState = props.UnitFileState ?? '';
  if (fileState === 'enabled' || fileState === 'enabled-runtime') {
    const e = await step(['disable', '--no-ask-password', '--', name], `disabling ${name}`, [
      'enable',
      '--no-ask-password',
      ...(fileState === 'enabled-runtime' ? ['--runtime'] : []),
      '--',
      name,
    ]);
    if (e) return failed(e);
  }
  try {
    await unlink(path);
  } catch (err) {
    return failed(`cannot remove ${path}: ${errorText(err)}${await undoAll()}`);
  }
  const reload = toolError(sc, await sc.run(['daemon-reload'], JOB_TIMEOUT_MS));
  if (reload) {
    return failed(
      `${path} was removed, but daemon-reload failed (${reload}): run systemctl daemon-reload`,
    );
  }
  // A unit that had failed stays listed as failed, without a file, until this.
  if (props.ActiveState === 'failed') await sc.run(['reset-failed', '--', name]);
  return { ok: true, result: { name, changed: true } };
}
