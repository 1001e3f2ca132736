// file.deploy, file.undeploy and file.status: an object of the file store
// written to a path on this host (raw, or rendered as a template with the
// host's facts, the request's vars and the hostname), removed again, and
// compared with what was written. Each deployment is recorded in NATS under
// this host's keys (file-access.ts), which is how undeploy knows a file is
// one this system wrote, how status knows what it should hold, and how the
// API tells which deployments are stale.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileDeployData } from '../../contract/file.js';
import { hasErrnoCode, isErrnoError } from '../../exec/errno.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import { replaceFile, runsAsRoot } from './host-tools.js';
import { nestedFacts, renderTemplate, TemplateError } from './template.js';
import type { HandlerContext } from './types.js';

type Fail = { ok: false; error: string };

function fail(error: string): Fail {
  return { ok: false, error };
}

/** What is at the path now, without following a symbolic link. */
async function present(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT') || hasErrnoCode(err, 'ENOTDIR')) return null;
    throw err;
  }
}

async function fileSha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A user or group name (or number) from /etc/passwd or /etc/group, as its id; null when unknown. */
async function idOf(db: '/etc/passwd' | '/etc/group', name: string): Promise<number | null> {
  if (/^[0-9]+$/.test(name)) return Number(name);
  const text = await readFile(db, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [entry, , id] = line.split(':');
    if (entry === name && id !== undefined && /^[0-9]+$/.test(id)) return Number(id);
  }
  return null;
}

/** A write refused for want of privilege, said as such. */
function writeError(path: string, err: unknown): string {
  if (isErrnoError(err) && (err.code === 'EACCES' || err.code === 'EPERM')) {
    return runsAsRoot()
      ? `cannot write ${path}: ${err.code} (a read-only or immutable file system?)`
      : `writing ${path} with that owner or in that directory needs root: this agent runs as uid ${process.getuid?.()}; run the agent as root (docs/operations.md, "Privileges")`;
  }
  if (hasErrnoCode(err, 'ENOENT')) return `cannot write ${path}: ${dirname(path)} does not exist`;
  return `cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`;
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
    return fail(`${data.object_name} is not UTF-8 text, so it cannot be a template; deploy it raw`);
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
    if (err instanceof TemplateError) return fail(`${data.object_name}: ${err.message}`);
    throw err;
  }
}

export const fileDeployHandler = nodeHandler(
  'file.deploy',
  async (data, ctx): Promise<NodeOutcome<'file.deploy'>> => {
    const { objects, deployments } = ctx;
    if (!objects || !deployments) return fail('this agent has no access to the file store');
    const path = data.path;
    const stored = await objects.read(data.object_name, data.object_sha256, ctx.signal);
    const content = await contentFor(data, ctx, stored);
    if (!Buffer.isBuffer(content)) return content;

    const uid = data.owner === undefined ? undefined : await idOf('/etc/passwd', data.owner);
    if (uid === null) return fail(`owner: no user ${data.owner} on this host`);
    const gid = data.group === undefined ? undefined : await idOf('/etc/group', data.group);
    if (gid === null) return fail(`group: no group ${data.group} on this host`);

    const now = await present(path);
    if (now?.isSymbolicLink())
      return fail(`${path} is a symbolic link; it is not followed or replaced`);
    if (now && !now.isFile()) return fail(`${path} exists and is not a regular file`);
    const mode =
      data.mode !== undefined ? Number.parseInt(data.mode, 8) : now ? now.mode & 0o7777 : 0o644;
    const own = { mode, uid: uid ?? now?.uid ?? 0, gid: gid ?? now?.gid ?? 0 };
    const sha256 = createHash('sha256').update(content).digest('hex');

    const record = {
      hostname: ctx.hostname,
      path,
      object_name: data.object_name,
      deployed_sha: data.object_sha256,
      written_sha: sha256,
      content_type: data.content_type,
      deployed_at: new Date().toISOString(),
    };
    const before = await deployments.get(path);
    const same =
      now !== null &&
      (now.mode & 0o7777) === own.mode &&
      now.uid === own.uid &&
      now.gid === own.gid &&
      (await fileSha(path)) === sha256;
    if (same) {
      // The host already holds it: only the record may need to say so.
      if (
        before?.written_sha !== sha256 ||
        before.deployed_sha !== data.object_sha256 ||
        before.object_name !== data.object_name
      ) {
        await deployments.put(record);
      }
      return { ok: true, result: { changed: false, path, sha256 } };
    }
    if (ctx.signal.aborted) return fail('the agent stopped before writing anything');
    // Recorded first: a file this system wrote is never unknown to it. A
    // failed write puts the record back as it was.
    await deployments.put(record);
    try {
      await replaceFile(path, content, own);
    } catch (err) {
      await (before ? deployments.put(before) : deployments.remove(path)).catch(() => {});
      return fail(writeError(path, err));
    }
    return { ok: true, result: { changed: true, path, sha256 } };
  },
);

export const fileUndeployHandler = nodeHandler(
  'file.undeploy',
  async (data, ctx): Promise<NodeOutcome<'file.undeploy'>> => {
    const { deployments } = ctx;
    if (!deployments) return fail('this agent has no access to the file store');
    const path = data.path;
    const record = await deployments.get(path);
    const now = await present(path);
    if (!record) {
      if (now) return fail(`${path} was not deployed by this system; it is left as it is`);
      return { ok: true, result: { changed: false, path } };
    }
    if (now?.isDirectory()) return fail(`${path} is now a directory; it is left as it is`);
    if (now) {
      try {
        await unlink(path);
      } catch (err) {
        return fail(writeError(path, err));
      }
    }
    await deployments.remove(path);
    return { ok: true, result: { changed: now !== null, path } };
  },
);

export const fileStatusHandler = nodeHandler(
  'file.status',
  async (data, ctx): Promise<NodeOutcome<'file.status'>> => {
    const { deployments } = ctx;
    if (!deployments) return fail('this agent has no access to the file store');
    const path = data.path;
    const record = await deployments.get(path);
    const now = await present(path);
    const sha256 = now?.isFile() ? await fileSha(path) : '';
    if (!record) return { ok: true, result: { path, status: 'not-deployed', sha256 } };
    const known = {
      object_name: record.object_name,
      deployed_sha: record.written_sha,
      deployed_at: record.deployed_at,
    };
    if (!now) return { ok: true, result: { path, status: 'missing', sha256, ...known } };
    const status = sha256 === record.written_sha ? 'in-sync' : 'drifted';
    return { ok: true, result: { path, status, sha256, ...known } };
  },
);
