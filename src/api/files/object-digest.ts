// An operation that writes an object of the file store to hosts (a file
// deployment, a service's unit) carries the object's digest in its job's
// data, looked up once the request is valid: the job then signs that
// content, and an agent refuses any other (agent/file-access.ts). Routes
// and POST /job add it alike.
import type { OperationDeclaration } from '../../contract/operations.js';
import { invalidField } from '../errors.js';
import type { FileStore } from './store.js';

/**
 * Valid data with `object_sha256`: the digest of the object its
 * `decl.object` field names, as the file store holds it now. A name the
 * store lacks is a 400 naming `field` (where the request holds it); data
 * without the field (an update keeping its object) is left as it is.
 */
export async function withObjectDigest<T>(
  decl: OperationDeclaration,
  data: T,
  files: FileStore,
  field = decl.object,
): Promise<T> {
  const name = decl.object ? (data as Record<string, unknown>)[decl.object] : undefined;
  // An update may leave its object out: it keeps the one it has.
  if (!decl.object || typeof name !== 'string') return data;
  const info = await files.info(name);
  if (!info) {
    throw invalidField(
      'body',
      field ?? decl.object,
      `names no object of the file store (${name}); upload it with POST /file`,
    );
  }
  return { ...data, object_sha256: info.sha256 };
}
