// The agent's side of the file store: objects read by direct reads of the
// object store's stream (the agent's NATS user may read messages, never make
// a consumer or write an object), each checked against the digest its job
// carries; and the records of what this agent deployed, under its own keys.
import { createHash } from 'node:crypto';
import { JetStreamApiError, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DeploymentRecord } from '../contract/file.js';
import { validatorOf } from '../job/schema-check.js';
import { deploymentKey, type InfraNames, objectStream } from '../names/names.js';
import type { ObjectReader } from './handlers/types.js';

/** What an object's metadata message says, as far as reading it needs. */
interface ObjectMeta {
  name?: unknown;
  nuid?: unknown;
  size?: unknown;
  chunks?: unknown;
  deleted?: unknown;
}

/** Base64url with padding, as the object store names its metadata subjects. */
function metaToken(name: string): string {
  const b = Buffer.from(name).toString('base64url');
  return b + '='.repeat((4 - (b.length % 4)) % 4);
}

/** Null when the stream holds no message on that subject (after `seq`, with `next`). */
async function messageOn(
  jsm: JetStreamManager,
  stream: string,
  query: { last_by_subj: string } | { next_by_subj: string; seq: number },
): Promise<{ seq: number; data: Uint8Array } | null> {
  try {
    const m = await jsm.streams.getMessage(stream, query);
    return m ? { seq: m.seq, data: m.data } : null;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.status === 404) return null;
    throw err;
  }
}

/** Reads objects of the file store, refusing any whose content is not the job's. */
export function natsObjectReader(
  nc: NatsConnection,
  names: InfraNames,
  maxBytes: number,
): ObjectReader {
  const bucket = names.filesBucket;
  const stream = objectStream(bucket);
  let jsm: Promise<JetStreamManager> | undefined;
  return {
    async read(name, sha256, signal) {
      jsm ??= jetstreamManager(nc);
      const m = await jsm;
      const meta = await messageOn(m, stream, {
        last_by_subj: `$O.${bucket}.M.${metaToken(name)}`,
      });
      const info = meta ? (JSON.parse(new TextDecoder().decode(meta.data)) as ObjectMeta) : null;
      if (!info || info.deleted === true) {
        throw new Error(`the file store no longer holds ${name}; upload it again and deploy again`);
      }
      if (
        typeof info.nuid !== 'string' ||
        typeof info.size !== 'number' ||
        typeof info.chunks !== 'number'
      ) {
        throw new Error(`the file store's entry for ${name} is malformed`);
      }
      if (info.size > maxBytes) {
        throw new Error(`${name} is ${info.size} bytes, more than this agent takes (${maxBytes})`);
      }
      const parts: Uint8Array[] = [];
      let seq = 1;
      let size = 0;
      const hash = createHash('sha256');
      for (let i = 0; i < info.chunks; i++) {
        if (signal.aborted) throw new Error('the agent stopped while reading the object');
        const chunk = await messageOn(m, stream, {
          next_by_subj: `$O.${bucket}.C.${info.nuid}`,
          seq,
        });
        if (!chunk) throw new Error(`${name} is incomplete in the file store`);
        size += chunk.data.length;
        if (size > info.size) throw new Error(`${name} is longer in the file store than it says`);
        hash.update(chunk.data);
        parts.push(chunk.data);
        seq = chunk.seq + 1;
      }
      const got = hash.digest('hex');
      if (got !== sha256) {
        throw new Error(
          `${name} changed in the file store since this job was made (sha256 ${got}, the job's ${sha256}); deploy again to write the new content`,
        );
      }
      return Buffer.concat(parts);
    },
  };
}

/** Where this agent keeps what it deployed, one record per path. */
export interface DeploymentRecords {
  get(path: string): Promise<DeploymentRecord | null>;
  put(record: DeploymentRecord): Promise<void>;
  remove(path: string): Promise<void>;
}

/** A path's digest, as a key token (a path holds what keys may not). */
export function pathDigest(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 40);
}

export function natsDeploymentRecords(
  nc: NatsConnection,
  names: InfraNames,
  hostname: string,
): DeploymentRecords {
  let kv: Promise<KV> | undefined;
  const open = () => {
    kv ??= new Kvm(nc).open(names.deploymentsBucket);
    return kv;
  };
  const key = (path: string) => deploymentKey(hostname, pathDigest(path));
  return {
    async get(path) {
      const e = await (await open()).get(key(path));
      if (e?.operation !== 'PUT') return null;
      let record: unknown;
      try {
        record = e.json();
      } catch {
        return null;
      }
      return validatorOf(DeploymentRecord).Check(record) && record.path === path ? record : null;
    },
    async put(record) {
      await (await open()).put(key(record.path), JSON.stringify(record));
    },
    async remove(path) {
      await (await open()).delete(key(path));
    },
  };
}
