// An operation that writes an object of the file store to hosts (a file
// deployment, a service's unit) carries the object's digest in its job's
// data, looked up when the job is made: the job then signs that content,
// and an agent refuses any other (agent/file-access.ts). Routes and POST /job
// look it up alike.
import type { OperationDeclaration } from '../../contract/operations.js';
import { ApiError } from '../errors.js';
import { objectNameProblem } from './routes.js';
import type { FileStore } from './store.js';

/** A digest no object has: stands in while the name itself is refused, so only the name's problem is told. */
const NO_OBJECT = '0'.repeat(64);

/**
 * `{object_sha256}` for the object the input's `decl.object` field names, as
 * the file store holds it now; `{}` for an operation that names none. A name
 * the store lacks is a 400 naming the field (`fieldPrefix` is where the
 * request holds the input, e.g. `operation.data.` in POST /job).
 */
export async function objectDigest(
  decl: OperationDeclaration,
  input: unknown,
  files: FileStore,
  fieldPrefix = '',
): Promise<{ object_sha256?: string }> {
  if (!decl.object) return {};
  const name = (input as Record<string, unknown> | null)?.[decl.object];
  if (typeof name !== 'string' || objectNameProblem(name)) return { object_sha256: NO_OBJECT };
  const info = await files.info(name);
  if (!info) {
    const field = `${fieldPrefix}${decl.object}`;
    const message = `names no object of the file store (${name}); upload it with POST /file`;
    throw new ApiError('invalid_request', `invalid body: ${field} ${message}`, {
      fields: [{ field, message }],
    });
  }
  return { object_sha256: info.sha256 };
}
