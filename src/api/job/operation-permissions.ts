// The API's check of a job operation's permission, as its declaration
// (src/contract/operations.ts) names it.
import { type OperationType, operationPermission } from '../../contract/operations.js';
import type { AuthUser } from '../auth.js';
import { ApiError } from '../errors.js';

/** 403 naming the permission when the token may not run this operation. */
export function requireOperationPermission(user: AuthUser | undefined, type: OperationType): void {
  const needed = operationPermission(type);
  if (!user?.permissions.includes(needed)) {
    throw new ApiError(
      'forbidden',
      `permission ${needed} is required to make a ${type} job; the token of ${user?.subject ?? 'nobody'} grants: ${user?.permissions.join(', ') || 'nothing'}`,
      { missing_permission: needed },
    );
  }
}
