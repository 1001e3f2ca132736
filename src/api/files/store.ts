// The file store as the API uses it: objects in a JetStream object store,
// whose own digest (SHA-256) is the object's, and how deployments use it
// (raw or template) in its metadata; and the agents' deployment records, read to tell which
// deployments are stale (their object has changed since).
import { createHash } from 'node:crypto';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import {
  type ContentType,
  DeploymentRecord,
  type FileInfo,
  type StaleDeployment,
} from '../../contract/file.js';
import { followKv, type KvSource } from '../../job/kv-follow.js';
import { validatorOf } from '../../job/schema-check.js';
import type { Logger } from '../../log/logger.js';
import { hostnameOfDeploymentKey } from '../../names/names.js';

/** The metadata key saying how deployments use an object. */
const TYPE_KEY = 'osapi-content-type';

/** The object store's digest (`SHA-256=<base64url>`) as hex; null for another kind. */
function sha256OfDigest(digest: string): string | null {
  const m = /^SHA-256=([A-Za-z0-9_-]+=*)$/.exec(digest);
  const bytes = m?.[1] ? Buffer.from(m[1], 'base64url') : null;
  return bytes?.length === 32 ? bytes.toString('hex') : null;
}

export type UploadOutcome =
  | { kind: 'stored'; info: FileInfo; changed: boolean }
  /** The name holds other content and `force` was not given. */
  | { kind: 'exists'; info: FileInfo };

export type ObjectContent =
  | { kind: 'content'; sha256: string; bytes: Uint8Array }
  | { kind: 'too-large'; size: number };

/** A stream's bytes, or null once they pass `maxBytes` (the rest is not read). */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    size += next.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return null;
    }
    parts.push(next.value);
  }
  return Buffer.concat(parts);
}

export interface FileStore {
  upload(
    name: string,
    content: Uint8Array,
    contentType: ContentType,
    force: boolean,
  ): Promise<UploadOutcome>;
  info(name: string): Promise<FileInfo | null>;
  /**
   * An object's content and its digest, read once; null when there is no
   * such object. Reading stops past `maxBytes`: `too-large` then.
   */
  content(name: string, maxBytes: number): Promise<ObjectContent | null>;
  list(): Promise<FileInfo[]>;
  /** False when there was no such object. */
  remove(name: string): Promise<boolean>;
  /** Deployments whose object's digest is not the one deployed (or whose object is gone). */
  stale(): Promise<StaleDeployment[]>;
}

function fileInfo(o: ObjectInfo): FileInfo | null {
  if (o.deleted) return null;
  const sha = sha256OfDigest(o.digest);
  if (!sha) return null;
  return {
    name: o.name,
    sha256: sha,
    size: o.size,
    content_type: o.metadata?.[TYPE_KEY] === 'template' ? 'template' : 'raw',
    source: 'upload',
  };
}

/**
 * Every key's last value, read in one pass of the bucket's stream (not a get
 * per key): a follow from each key's last value, stopped once it caught up.
 */
async function latestEntries(source: KvSource, logger: Logger): Promise<Map<string, Uint8Array>> {
  const entries = new Map<string, Uint8Array>();
  const follow = await followKv(source, { keys: '>', from: 'last', logger }, (e) => {
    if (e.operation === 'PUT') entries.set(e.key, e.value);
    else entries.delete(e.key);
  });
  try {
    await follow.loaded;
  } finally {
    follow.stop();
  }
  return entries;
}

export function natsFileStore(
  objects: ObjectStore,
  deployments: KvSource,
  logger: Logger,
): FileStore {
  const info = async (name: string) => {
    const o = await objects.info(name);
    return o ? fileInfo(o) : null;
  };
  return {
    info,
    async content(name, maxBytes) {
      const got = await objects.get(name);
      if (!got || got.info.deleted) return null;
      if (got.info.size > maxBytes) {
        await got.data.cancel();
        return { kind: 'too-large', size: got.info.size };
      }
      const bytes = await readAtMost(got.data, maxBytes);
      if (!bytes) return { kind: 'too-large', size: got.info.size };
      // The object store checks the content against its digest as the stream ends.
      const failed = await got.error;
      if (failed) throw failed;
      return { kind: 'content', sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
    },
    async upload(name, content, contentType, force) {
      // Compared before anything is written: the same content is no change.
      const sha256 = createHash('sha256').update(content).digest('hex');
      const have = await info(name);
      if (have && have.sha256 === sha256 && have.content_type === contentType) {
        return { kind: 'stored', info: have, changed: false };
      }
      if (have && have.sha256 !== sha256 && !force) return { kind: 'exists', info: have };
      const o = await objects.putBlob({ name, metadata: { [TYPE_KEY]: contentType } }, content);
      const stored = fileInfo(o);
      if (!stored) throw new Error(`the file store did not keep ${name}`);
      return { kind: 'stored', info: stored, changed: true };
    },
    async list() {
      const all = await objects.list();
      return all
        .map(fileInfo)
        .filter((f): f is FileInfo => f !== null)
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async remove(name) {
      if (!(await info(name))) return false;
      await objects.delete(name);
      return true;
    },
    async stale() {
      const current = new Map((await this.list()).map((f) => [f.name, f.sha256]));
      const out: StaleDeployment[] = [];
      for (const [key, value] of await latestEntries(deployments, logger)) {
        let record: unknown;
        try {
          record = JSON.parse(new TextDecoder().decode(value));
        } catch {
          continue;
        }
        // Written by agents: input like any other; a record of another shape is skipped.
        if (!validatorOf(DeploymentRecord).Check(record)) continue;
        const now = current.get(record.object_name) ?? '';
        if (now === record.deployed_sha) continue;
        out.push({
          object_name: record.object_name,
          // The key says whose it is: an agent's user may write its own keys only.
          hostname: hostnameOfDeploymentKey(key),
          provider: 'file',
          path: record.path,
          deployed_sha: record.deployed_sha,
          current_sha: now,
          deployed_at: record.deployed_at,
        });
      }
      return out.sort(
        (a, b) => a.hostname.localeCompare(b.hostname) || a.path.localeCompare(b.path),
      );
    },
  };
}
