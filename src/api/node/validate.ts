// Refuses a node operation's data with a 400 naming each field at fault, for
// the node routes and for `POST /job` alike.
import {
  type NodeData,
  type NodeOperationType,
  nodeDataProblems,
} from '../../job/node-operations.js';
import { ApiError } from '../errors.js';

/**
 * Returns the data when it is valid for the operation, else throws
 * `invalid_request`; `where` prefixes the field names (`operation.data`).
 */
export function nodeOperationData<T extends NodeOperationType>(
  type: T,
  data: unknown,
  where = '',
): NodeData<T> {
  const problems = nodeDataProblems(type, data);
  if (problems.length === 0) return data as NodeData<T>;
  const fields = problems.map((p) => ({
    field: [where, p.field].filter(Boolean).join('.') || 'body',
    message: p.message,
  }));
  throw new ApiError(
    'invalid_request',
    `invalid body: ${fields.map((d) => `${d.field} ${d.message}`).join('; ')}`,
    { fields },
  );
}
