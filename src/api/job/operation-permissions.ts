// The API's check of a job operation's permission; the map is the wire
// contract's (src/contract/operation-permissions.ts).
import { OPERATION_PERMISSIONS } from '../../contract/operation-permissions.js';
import type { OperationType } from '../../job/operations.js';
import type { AuthUser } from '../auth.js';
import { ApiError } from '../errors.js';

export { OPERATION_PERMISSIONS } from '../../contract/operation-permissions.js';

/** 403 naming the permission when the token may not run this operation. */
export function requireOperationPermission(user: AuthUser | undefined, type: OperationType): void {
  const needed = OPERATION_PERMISSIONS[type];
  if (!user?.permissions.includes(needed)) {
    throw new ApiError(
      'forbidden',
      `permission ${needed} is required to make a ${type} job; the token of ${user?.subject ?? 'nobody'} grants: ${user?.permissions.join(', ') || 'nothing'}`,
      { missing_permission: needed },
    );
  }
}
