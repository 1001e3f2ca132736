// file.deploy, file.undeploy and file.status: an object of the file store
// written to a path on this host (raw, or rendered as a template with the
// host's facts, the request's vars and the hostname), removed again, and
// compared with what was written. Each deployment is recorded in NATS under
// this host's keys (file-access.ts), which is how undeploy knows a file is
// one this system wrote, how status knows what it should hold, and how the
// API tells which deployments are stale.

import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileDeployData } from '../../contract/file.js';
import { errorText, hasErrnoCode, isErrnoError } from '../../exec/errno.js';
import { pathDigest } from '../file-access.js';
import { readGroups, readUsers } from './accounts.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import {
  insideDir,
  lstatIfPresent,
  openParentDir,
  PathError,
  replaceFile,
  runsAsRoot,
} from './host-tools.js';
import { nestedFacts, renderTemplate, TemplateError } from './template.js';
import type { HandlerContext } from './types.js';

type Fail = ReturnType<typeof failed>;

/**
 * The largest file compared or kept aside: what a deployment writes is at
 * most the agent's object limit, so a larger file there cannot be in sync.
 */
const COMPARED_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A regular file's bytes, read through one open that follows no link and
 * does not wait on a FIFO; null when it is not a regular file or is larger
 * than COMPARED_MAX_BYTES (a name swapped after an lstat cannot make the
 * agent read something else, or hang).
 */
async function readRegular(at: string, signal: AbortSignal): Promise<Buffer | null> {
  let handle: FileHandle;
  try {
    handle = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT') || hasErrnoCode(err, 'ELOOP')) return null;
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size > COMPARED_MAX_BYTES) return null;
    if (signal.aborted) throw new Error('the agent stopped while reading the file');
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

const sha256Of = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Where a file that the first deployment replaced is kept, by its path's digest. */
function backupPaths(stateDir: string, path: string) {
  const base = join(stateDir, 'file-backups', pathDigest(path));
  return { content: base, meta: `${base}.json` };
}

/** Keeps what a file held (and its mode and owner) before a deployment replaces it. */
async function keepAside(
  stateDir: string,
  path: string,
  content: Buffer,
  st: { mode: number; uid: number; gid: number },
): Promise<void> {
  const where = backupPaths(stateDir, path);
  await mkdir(dirname(where.content), { recursive: true, mode: 0o700 });
  await replaceFile(where.content, content, { mode: 0o600 });
  await replaceFile(
    where.meta,
    JSON.stringify({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }),
    { mode: 0o600 },
  );
}

/** What was kept aside for a path, or null. */
async function keptAside(
  stateDir: string,
  path: string,
): Promise<{ content: Buffer; own: { mode: number; uid: number; gid: number } } | null> {
  const where = backupPaths(stateDir, path);
  try {
    const meta = JSON.parse(await readFile(where.meta, 'utf8')) as Record<string, unknown>;
    const { mode, uid, gid } = meta;
    if (![mode, uid, gid].every((n) => Number.isInteger(n))) return null;
    return {
      content: await readFile(where.content),
      own: { mode: mode as number, uid: uid as number, gid: gid as number },
    };
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT')) return null;
    throw err;
  }
}

async function forgetAside(stateDir: string, path: string): Promise<void> {
  const where = backupPaths(stateDir, path);
  await rm(where.content, { force: true });
  await rm(where.meta, { force: true });
}

/** An owner by name or number, as its uid; null when the host has no such user. */
async function uidOf(owner: string): Promise<number | null> {
  if (/^[0-9]+$/.test(owner)) return Number(owner);
  return (await readUsers()).find((u) => u.name === owner)?.uid ?? null;
}

/** A group by name or number, as its gid; null when the host has no such group. */
async function gidOf(group: string): Promise<number | null> {
  if (/^[0-9]+$/.test(group)) return Number(group);
  return (await readGroups()).find((g) => g.name === group)?.gid ?? null;
}

/** A write refused for want of privilege, said as such. */
function writeError(path: string, err: unknown): string {
  if (isErrnoError(err) && (err.code === 'EACCES' || err.code === 'EPERM')) {
    return runsAsRoot()
      ? `cannot write ${path}: ${err.code} (a read-only or immutable file system?)`
      : `writing ${path} with that owner or in that directory needs root: this agent runs as uid ${process.getuid?.()}; run the agent as root (docs/operations.md, "Privileges")`;
  }
  if (hasErrnoCode(err, 'ENOENT')) return `cannot write ${path}: ${dirname(path)} does not exist`;
  return `cannot write ${path}: ${errorText(err)}`;
}

/** The bytes to write: the object as stored, or rendered. */
async function contentFor(
  data: FileDeployData,
  ctx: HandlerContext,
  stored: Uint8Array,
): Promise<Buffer | Fail> {
  if (data.content_type === 'raw') return Buffer.from(stored);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(stored);
  } catch {
    return failed(
      `${data.object_name} is not UTF-8 text, so it cannot be a template; deploy it raw`,
    );
  }
  try {
    return Buffer.from(
      renderTemplate(text, {
        hostname: ctx.hostname,
        facts: nestedFacts(ctx.facts?.() ?? new Map()),
        vars: data.vars ?? {},
      }),
    );
  } catch (err) {
    if (err instanceof TemplateError) return failed(`${data.object_name}: ${err.message}`);
    throw err;
  }
}

/** Runs `fn` inside the opened directory of `path`'s file; a directory that cannot be opened fails the host. */
async function inParent<T>(path: string, fn: (at: string) => Promise<T>): Promise<T | Fail> {
  let dir: FileHandle;
  try {
    dir = await openParentDir(path);
  } catch (err) {
    if (err instanceof PathError) return failed(`cannot reach ${path}: ${err.message}`);
    throw err;
  }
  try {
    return await fn(insideDir(dir, basename(path)));
  } finally {
    await dir.close();
  }
}

export const fileDeployHandler = nodeHandler(
  'file.deploy',
  async (data, ctx): Promise<NodeOutcome<'file.deploy'>> => {
    const { objects, deployments } = ctx;
    if (!objects || !deployments) return failed('this agent has no access to the file store');
    const path = data.path;
    const stored = await objects.read(data.object_name, data.object_sha256, ctx.signal);
    const content = await contentFor(data, ctx, stored);
    if (!Buffer.isBuffer(content)) return content;

    const uid = data.owner === undefined ? undefined : await uidOf(data.owner);
    if (uid === null) return failed(`owner: no user ${data.owner} on this host`);
    const gid = data.group === undefined ? undefined : await gidOf(data.group);
    if (gid === null) return failed(`group: no group ${data.group} on this host`);
    const sha256 = sha256Of(content);
    const before = await deployments.get(path);

    return inParent(path, async (at): Promise<NodeOutcome<'file.deploy'>> => {
      const now = await lstatIfPresent(at);
      if (now?.isSymbolicLink()) {
        return failed(`${path} is a symbolic link; it is not followed or replaced`);
      }
      if (now && !now.isFile()) return failed(`${path} exists and is not a regular file`);
      const held = now ? await readRegular(at, ctx.signal) : null;
      if (now && !held) {
        return failed(`${path} is larger than ${COMPARED_MAX_BYTES} bytes; it is not replaced`);
      }
      const mode =
        data.mode !== undefined ? Number.parseInt(data.mode, 8) : now ? now.mode & 0o7777 : 0o644;
      const own = { mode, uid: uid ?? now?.uid ?? 0, gid: gid ?? now?.gid ?? 0 };
      const record = {
        hostname: ctx.hostname,
        path,
        object_name: data.object_name,
        deployed_sha: data.object_sha256,
        written_sha: sha256,
        content_type: data.content_type,
        deployed_at: new Date().toISOString(),
        // Once replaced, always: what was there first stays kept until undeploy.
        ...((before?.replaced ?? (now !== null && ctx.host?.stateDir !== undefined))
          ? { replaced: true }
          : {}),
      };
      const same =
        now !== null &&
        held !== null &&
        (now.mode & 0o7777) === own.mode &&
        now.uid === own.uid &&
        now.gid === own.gid &&
        sha256Of(held) === sha256;
      if (same) {
        // The host already holds it: only the record may need to say so.
        if (
          before?.written_sha !== sha256 ||
          before.deployed_sha !== data.object_sha256 ||
          before.object_name !== data.object_name
        ) {
          await deployments.put({ ...record, ...(before?.replaced ? { replaced: true } : {}) });
        }
        return { ok: true, result: { changed: false, path, sha256 } };
      }
      if (ctx.signal.aborted) return failed('the agent stopped before writing anything');
      // A file this system did not write is kept aside first, so undeploy can put it back.
      const stateDir = ctx.host?.stateDir;
      if (!before && now && held && stateDir) {
        try {
          await keepAside(stateDir, path, held, now);
        } catch (err) {
          return failed(`cannot keep ${path}'s present content aside: ${errorText(err)}`);
        }
      }
      // Recorded first: a file this system wrote is never unknown to it. A
      // failed write puts the record back as it was.
      await deployments.put(record);
      try {
        await replaceFile(at, content, own);
      } catch (err) {
        await (before ? deployments.put(before) : deployments.remove(path)).catch(() => {});
        if (!before && stateDir) await forgetAside(stateDir, path).catch(() => {});
        return failed(writeError(path, err));
      }
      return { ok: true, result: { changed: true, path, sha256 } };
    });
  },
);

export const fileUndeployHandler = nodeHandler(
  'file.undeploy',
  async (data, ctx): Promise<NodeOutcome<'file.undeploy'>> => {
    const { deployments } = ctx;
    if (!deployments) return failed('this agent has no access to the file store');
    const path = data.path;
    const record = await deployments.get(path);
    return inParent(path, async (at): Promise<NodeOutcome<'file.undeploy'>> => {
      const now = await lstatIfPresent(at);
      if (!record) {
        if (now) return failed(`${path} was not deployed by this system; it is left as it is`);
        return { ok: true, result: { changed: false, path } };
      }
      if (now && !now.isFile()) {
        return failed(`${path} is no longer a regular file; it is left as it is`);
      }
      if (now) {
        // Only what this system wrote is removed: a file changed since is someone's work.
        const held = await readRegular(at, ctx.signal);
        if (!held || sha256Of(held) !== record.written_sha) {
          return failed(
            `${path} was changed since it was deployed; it is left as it is (deploy again to take it over, or remove it by hand)`,
          );
        }
      }
      const stateDir = ctx.host?.stateDir;
      const original = record.replaced && stateDir ? await keptAside(stateDir, path) : null;
      try {
        if (original) await replaceFile(at, original.content, original.own);
        else if (now) await unlink(at);
      } catch (err) {
        return failed(writeError(path, err));
      }
      await deployments.remove(path);
      if (stateDir) await forgetAside(stateDir, path).catch(() => {});
      return { ok: true, result: { changed: now !== null || original !== null, path } };
    });
  },
);

export const fileStatusHandler = nodeHandler(
  'file.status',
  async (data, ctx): Promise<NodeOutcome<'file.status'>> => {
    const { deployments } = ctx;
    if (!deployments) return failed('this agent has no access to the file store');
    const path = data.path;
    const record = await deployments.get(path);
    // Only a deployed path is looked at: a read token learns nothing of other files.
    if (!record) return { ok: true, result: { path, status: 'not-deployed', sha256: '' } };
    const known = {
      object_name: record.object_name,
      deployed_sha: record.written_sha,
      deployed_at: record.deployed_at,
    };
    const missing = {
      ok: true as const,
      result: { path, status: 'missing' as const, sha256: '', ...known },
    };
    let dir: FileHandle;
    try {
      dir = await openParentDir(path);
    } catch (err) {
      if (err instanceof PathError) return missing;
      throw err;
    }
    try {
      const at = insideDir(dir, basename(path));
      const now = await lstatIfPresent(at);
      if (!now) return missing;
      const held = now.isFile() ? await readRegular(at, ctx.signal) : null;
      const sha256 = held ? sha256Of(held) : '';
      const status = sha256 === record.written_sha ? 'in-sync' : 'drifted';
      return { ok: true, result: { path, status, sha256, ...known } };
    } finally {
      await dir.close();
    }
  },
);
