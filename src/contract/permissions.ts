// The permission vocabulary, the built-in roles, and how a token's roles/permissions claims turn
// into the set of permissions a request actually carries. Pure data and functions, no I/O.

/** Every permission OSAPI knows, in the canonical order used for output. */
export const PERMISSIONS = [
  'agent:read',
  'agent:write',
  'node:read',
  'network:read',
  'network:write',
  'file:read',
  'file:write',
  'service:read',
  'service:write',
  'package:read',
  'package:write',
  'user:read',
  'user:write',
  'timezone:read',
  'timezone:write',
  'node:write',
  'power:execute',
  'process:read',
  'process:execute',
  'log:read',
  'certificate:read',
  'certificate:write',
  'cron:read',
  'cron:write',
  'sysctl:read',
  'sysctl:write',
  'ntp:read',
  'ntp:write',
  'docker:read',
  'docker:write',
  'docker:execute',
  'job:read',
  'job:write',
  'health:read',
  'audit:read',
  'command:execute',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const PERMISSION_SET: ReadonlySet<string> = new Set(PERMISSIONS);

export function isPermission(s: unknown): s is Permission {
  return typeof s === 'string' && PERMISSION_SET.has(s);
}

export type BuiltinRole = 'admin' | 'write' | 'read';

// Without a prototype: looked up by a role name from a token, `constructor` or
// `__proto__` must find nothing rather than Object's own members.
export const BUILTIN_ROLES: Readonly<Record<BuiltinRole, readonly Permission[]>> = Object.freeze({
  __proto__: null,
  admin: Object.freeze([...PERMISSIONS]),
  // Running arbitrary commands, reading the audit trail, draining agents
  // (agent:write), powering hosts off (power:execute), signalling processes
  // (process:execute) and running commands in containers (docker:execute)
  // stay admin-only, as the reference has them.
  write: Object.freeze(
    PERMISSIONS.filter(
      (p) =>
        p !== 'audit:read' &&
        p !== 'command:execute' &&
        p !== 'agent:write' &&
        p !== 'power:execute' &&
        p !== 'process:execute' &&
        p !== 'docker:execute',
    ),
  ),
  // Every `:read` but the audit trail's.
  read: Object.freeze([
    'agent:read',
    'node:read',
    'network:read',
    'file:read',
    'service:read',
    'package:read',
    'user:read',
    'timezone:read',
    'process:read',
    'log:read',
    'certificate:read',
    'cron:read',
    'sysctl:read',
    'ntp:read',
    'docker:read',
    'job:read',
    'health:read',
  ] as const satisfies readonly Permission[]),
});

/** Roles defined in config; a custom role replaces a built-in role of the same name. */
export type CustomRoles = Record<string, { permissions: string[] }>;

/** Every role name a token may be issued for: the built-ins plus the custom ones, sorted. */
export function roleNames(custom: CustomRoles = {}): string[] {
  return [...new Set([...Object.keys(BUILTIN_ROLES), ...Object.keys(custom)])].sort();
}

// Role names come from tokens and config, so look them up as own keys only: a role called
// 'constructor' or '__proto__' must grant nothing rather than reach Object.prototype.
export function rolePermissions(role: string, custom: CustomRoles): readonly string[] {
  if (Object.hasOwn(custom, role)) return custom[role]?.permissions ?? [];
  if (Object.hasOwn(BUILTIN_ROLES, role)) return BUILTIN_ROLES[role as BuiltinRole];
  return [];
}

/**
 * The permissions a token grants. An explicit `permissions` claim replaces role expansion
 * entirely (so a token can be narrower than its role); otherwise the union over the roles.
 * Unknown roles and unknown permission strings grant nothing. Result is in PERMISSIONS order.
 */
export function effectivePermissions(
  claims: { roles: string[]; permissions?: string[] },
  custom: CustomRoles = {},
): Permission[] {
  const granted = new Set<string>();
  if (claims.permissions !== undefined) {
    for (const p of claims.permissions) granted.add(p);
  } else {
    for (const role of claims.roles) {
      for (const p of rolePermissions(role, custom)) granted.add(p);
    }
  }
  return PERMISSIONS.filter((p) => granted.has(p));
}
