// The permission each job operation needs, beyond job:write, when a job is
// made through POST /job or retried: the same one its own route declares, so
// the jobs API is no way around a route's permission (a `write` token may not
// run commands through POST /job). Typed as a total map: a new operation type
// does not compile until it is given one.
import type { Permission } from '../../auth/index.js';
import type { OperationType } from '../../job/operations.js';
import type { AuthUser } from '../auth.js';
import { ApiError } from '../errors.js';

export const OPERATION_PERMISSIONS: Record<OperationType, Permission> = {
  'command.exec.execute': 'command:execute',
  'command.shell.execute': 'command:execute',
  'node.status.get': 'node:read',
  'node.hostname.get': 'node:read',
  'node.disk.get': 'node:read',
  'node.memory.get': 'node:read',
  'node.load.get': 'node:read',
  'node.os.get': 'node:read',
  'node.uptime.get': 'node:read',
  'network.ping.do': 'network:write',
  'network.dns.get': 'network:read',
  'network.dns.update': 'network:write',
};

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
