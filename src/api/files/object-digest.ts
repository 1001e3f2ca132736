// An operation that writes an object of the file store to hosts (a file
// deployment, a service's unit) carries the object's digest in its job's
// data, looked up once the request is valid: the job then signs that
// content, and an agent refuses any other (agent/file-access.ts). An
// operation whose declaration names a content check (`objectCheck`, a CA
// certificate's PEM) has the object read once here and checked, and the
// digest is that of the content checked. Routes and POST /job add it alike.
import type { OperationDeclaration } from '../../contract/operations.js';
import { objectContentProblem } from '../../job/object-checks.js';
import { invalidField } from '../errors.js';
import type { FileRouteDeps } from './routes.js';

const noObject = (name: string) =>
  `names no object of the file store (${name}); upload it with POST /file`;

/**
 * Valid data with `object_sha256`: the digest of the object its
 * `decl.object` field names, as the file store holds it now. A name the
 * store lacks, or content that fails the declaration's `objectCheck`, is a
 * 400 naming `field` (where the request holds it); data without the field
 * (an update keeping its object) is left as it is.
 */
export async function withObjectDigest<T>(
  decl: OperationDeclaration,
  data: T,
  files: FileRouteDeps,
  field = decl.object,
): Promise<T> {
  const name = decl.object ? (data as Record<string, unknown>)[decl.object] : undefined;
  // An update may leave its object out: it keeps the one it has.
  if (!decl.object || typeof name !== 'string') return data;
  const named = field ?? decl.object;
  if (decl.objectCheck) {
    // Read once, bounded by what the store takes at all: the digest is the content's checked here.
    const got = await files.store.content(name, files.maxBytes);
    if (!got) throw invalidField('body', named, noObject(name));
    if (got.kind === 'too-large') {
      throw invalidField(
        'body',
        named,
        `names an object of ${got.size} bytes, over the file store's limit of ${files.maxBytes} (api.server.files.max_bytes)`,
      );
    }
    const problem = objectContentProblem(decl.objectCheck, `object ${name}`, got.bytes);
    if (problem) throw invalidField('body', named, `is refused: ${problem}`);
    return { ...data, object_sha256: got.sha256 };
  }
  const info = await files.store.info(name);
  if (!info) throw invalidField('body', named, noObject(name));
  return { ...data, object_sha256: info.sha256 };
}
