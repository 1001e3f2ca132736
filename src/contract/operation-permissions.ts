// The permission each job operation needs, beyond job:write, when a job is
// made through POST /job or retried: the same one its own route declares, so
// the jobs API is no way around a route's permission (a `write` token may not
// run commands through POST /job). Typed as a total map: a new operation type
// does not compile until it is given one. The console reads it to know what a
// token may do.
import type { OperationType } from './operations.js';
import type { Permission } from './permissions.js';

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
