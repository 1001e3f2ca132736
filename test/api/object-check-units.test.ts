// The API's read of an object whose content an operation checks: bounded by
// the file store's limit however large the object says it is, and the check
// chosen by the declaration (objectCheck), not by the route.
import { createHash } from 'node:crypto';
import type { ObjectInfo, ObjectResult, ObjectStore } from '@nats-io/obj';
import { describe, expect, it } from 'vitest';
import { withObjectDigest } from '../../src/api/files/object-digest.js';
import { type FileStore, natsFileStore } from '../../src/api/files/store.js';
import {
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
} from '../../src/contract/operations.js';
import type { KvSource } from '../../src/job/kv-follow.js';
import type { Logger } from '../../src/log/logger.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An object store holding one object, `obj`, sent in `chunks`; records how many were read. */
function oneObject(chunks: Uint8Array[], size: number) {
  const seen = { pulled: 0, cancelled: false };
  const objects = {
    async get(name: string): Promise<ObjectResult | null> {
      if (name !== 'obj') return null;
      let i = 0;
      const data = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            const next = chunks[i++];
            if (next === undefined) controller.close();
            else {
              seen.pulled++;
              controller.enqueue(next);
            }
          },
          cancel() {
            seen.cancelled = true;
          },
          // Nothing is pulled before a read asks for it.
        },
        { highWaterMark: 0 },
      );
      const info = { name, size, deleted: false, digest: '' } as unknown as ObjectInfo;
      return { info, data, error: Promise.resolve(null) };
    },
  } as unknown as ObjectStore;
  const store = natsFileStore(objects, {} as KvSource, {} as Logger);
  return { store, seen };
}

const chunk = (n: number, fill = 0x41) => new Uint8Array(n).fill(fill);

describe('reading an object for a content check', () => {
  it('gives the content and its digest', async () => {
    const { store } = oneObject([chunk(4), chunk(4, 0x42)], 8);
    const got = await store.content('obj', 8);
    expect(got).toEqual({
      kind: 'content',
      bytes: Buffer.from('AAAABBBB'),
      sha256: sha256(Buffer.from('AAAABBBB')),
    });
    expect(await store.content('other', 8)).toBeNull();
  });

  it('reads nothing of an object larger than the limit', async () => {
    const { store, seen } = oneObject([chunk(10), chunk(10)], 20);
    expect(await store.content('obj', 16)).toEqual({ kind: 'too-large', size: 20 });
    expect(seen.pulled).toBe(0);
    expect(seen.cancelled).toBe(true);
  });

  it('stops at the limit when the object is larger than its size says', async () => {
    const { store, seen } = oneObject([chunk(10), chunk(10), chunk(10), chunk(10)], 10);
    expect(await store.content('obj', 16)).toEqual({ kind: 'too-large', size: 10 });
    expect(seen.pulled).toBeLessThan(4);
    expect(seen.cancelled).toBe(true);
  });
});

describe('the content check comes from the declaration', () => {
  it('the CA certificate writes, and only they, declare one', () => {
    const decl = (t: OperationType): OperationDeclaration => OPERATIONS[t];
    const checked = (Object.keys(OPERATIONS) as OperationType[]).filter(
      (t) => decl(t).objectCheck !== undefined,
    );
    expect(checked.sort()).toEqual(['certificate.ca.create', 'certificate.ca.update']);
    for (const t of checked) expect(decl(t).object).toBe('object');
  });

  it('an operation without one looks the digest up and reads nothing', async () => {
    let read = 0;
    const store = {
      async info(name: string) {
        return { name, sha256: 'a'.repeat(64), size: 1, content_type: 'raw', source: 'upload' };
      },
      async content() {
        read++;
        return null;
      },
    } as unknown as FileStore;
    const data = await withObjectDigest(
      OPERATIONS['cron.create'],
      { name: 'x', object: 'cmd', schedule: '@daily' },
      { store, maxBytes: 1024 },
    );
    expect(data).toMatchObject({ object_sha256: 'a'.repeat(64) });
    expect(read).toBe(0);
  });

  it('an operation with one refuses content that fails it, naming the field, and one too large', async () => {
    const store = (bytes: Uint8Array, kind: 'content' | 'too-large' = 'content') =>
      ({
        async content() {
          return kind === 'content' ? { kind, bytes, sha256: sha256(bytes) } : { kind, size: 4096 };
        },
      }) as unknown as FileStore;
    const decl = OPERATIONS['certificate.ca.create'];
    const refused = withObjectDigest(
      decl,
      { name: 'x', object: 'junk' },
      { store: store(Buffer.from('junk\n')), maxBytes: 1024 },
      'operation.data.object',
    );
    await expect(refused).rejects.toMatchObject({
      status: 400,
      facts: {
        fields: [
          {
            field: 'operation.data.object',
            message: expect.stringMatching(/object junk holds no PEM certificate/),
          },
        ],
      },
    });
    const large = withObjectDigest(
      decl,
      { name: 'x', object: 'big' },
      { store: store(new Uint8Array(0), 'too-large'), maxBytes: 1024 },
    );
    await expect(large).rejects.toMatchObject({
      facts: {
        fields: [
          {
            field: 'object',
            message: expect.stringMatching(/over the file store's limit of 1024/),
          },
        ],
      },
    });
  });
});
