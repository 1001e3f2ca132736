// Checks the permission vocabulary, the built-in roles and how claims expand to permissions.
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_ROLES,
  effectivePermissions,
  isPermission,
  PERMISSIONS,
  roleNames,
} from '../../src/auth/index.js';

const ALL = [
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
];

describe('permission vocabulary', () => {
  it('has exactly these permissions, in this order', () => {
    expect([...PERMISSIONS]).toEqual(ALL);
  });

  it('isPermission accepts known names only', () => {
    expect(isPermission('job:write')).toBe(true);
    expect(isPermission('job:delete')).toBe(false);
    expect(isPermission('')).toBe(false);
    expect(isPermission(42)).toBe(false);
  });
});

describe('built-in roles', () => {
  it('admin has every permission', () => {
    expect(effectivePermissions({ roles: ['admin'] }, {})).toEqual(ALL);
  });

  it('write has all but audit:read, command:execute, agent:write, power:execute, process:execute and docker:execute', () => {
    const adminOnly = [
      'audit:read',
      'command:execute',
      'agent:write',
      'power:execute',
      'process:execute',
      'docker:execute',
    ];
    const perms = effectivePermissions({ roles: ['write'] }, {});
    expect(perms).toEqual(ALL.filter((p) => !adminOnly.includes(p)));
    expect(perms).toHaveLength(ALL.length - adminOnly.length);
  });

  it('read has every read permission but the audit trail', () => {
    expect(effectivePermissions({ roles: ['read'] }, {})).toEqual([
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
    ]);
  });

  it('cannot be mutated by a caller', () => {
    expect(() => (BUILTIN_ROLES.read as string[]).push('command:execute')).toThrow();
    expect(effectivePermissions({ roles: ['read'] }, {})).not.toContain('command:execute');
  });
});

describe('effectivePermissions', () => {
  it('a permissions claim replaces role expansion', () => {
    expect(effectivePermissions({ roles: ['admin'], permissions: ['job:read'] }, {})).toEqual([
      'job:read',
    ]);
  });

  it('an empty permissions claim grants nothing, even with admin role', () => {
    expect(effectivePermissions({ roles: ['admin'], permissions: [] }, {})).toEqual([]);
  });

  it('is the union over several roles, de-duplicated and in canonical order', () => {
    const custom = { auditor: { permissions: ['audit:read', 'agent:read'] } };
    expect(effectivePermissions({ roles: ['auditor', 'read'] }, custom)).toEqual([
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
      'audit:read',
    ]);
  });

  it('a custom role overrides the built-in of the same name', () => {
    const custom = { read: { permissions: ['health:read'] } };
    expect(effectivePermissions({ roles: ['read'] }, custom)).toEqual(['health:read']);
    // Other built-ins are untouched.
    expect(effectivePermissions({ roles: ['write'] }, custom)).toEqual(
      effectivePermissions({ roles: ['write'] }, {}),
    );
  });

  it('unknown roles and unknown permission strings grant nothing', () => {
    expect(effectivePermissions({ roles: ['nobody'] }, {})).toEqual([]);
    expect(
      effectivePermissions({ roles: ['read'], permissions: ['root', 'job:read'] }, {}),
    ).toEqual(['job:read']);
    const custom = { odd: { permissions: ['everything', 'node:read'] } };
    expect(effectivePermissions({ roles: ['odd'] }, custom)).toEqual(['node:read']);
  });

  it('role names that exist on Object.prototype grant nothing and do not throw', () => {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(effectivePermissions({ roles: [role] }, {})).toEqual([]);
    }
  });
});

describe('roleNames', () => {
  it('lists built-ins and custom roles once, sorted', () => {
    expect(roleNames({})).toEqual(['admin', 'read', 'write']);
    expect(roleNames({ ops: { permissions: [] }, read: { permissions: [] } })).toEqual([
      'admin',
      'ops',
      'read',
      'write',
    ]);
  });
});
