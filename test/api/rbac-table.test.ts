// Every protected route × every kind of caller: no token, forged, expired,
// each built-in role, a direct permission and a custom role. A caller is let
// through (neither 401 nor 403) exactly when its permissions hold the route's.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_ROLES, type Permission } from '../../src/auth/index.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

const ID = '0190f000-0000-7000-8000-000000000000';
// `also`: what the body asks for needs its own permission too (a command job
// made through POST /job needs command:execute, as the command routes do).
const ROUTES: Array<{
  method: string;
  path: string;
  perm: Permission;
  also?: Permission[];
  body?: unknown;
}> = [
  {
    method: 'POST',
    path: '/node/_all/command/exec',
    perm: 'command:execute',
    body: { command: 'true' },
  },
  {
    method: 'POST',
    path: '/node/_all/command/shell',
    perm: 'command:execute',
    body: { command: 'true' },
  },
  {
    method: 'PUT',
    path: '/node/nobody/network/dns',
    perm: 'network:write',
    body: { servers: ['192.0.2.53'], interface_name: 'eth0' },
  },
  // No agent is called nobody: these reach no host.
  {
    method: 'PUT',
    path: '/node/nobody/timezone',
    perm: 'timezone:write',
    body: { timezone: 'UTC' },
  },
  { method: 'PUT', path: '/node/nobody/hostname', perm: 'node:write', body: { hostname: 'x' } },
  { method: 'POST', path: '/node/nobody/power/reboot', perm: 'power:execute', body: {} },
  { method: 'GET', path: '/agent', perm: 'agent:read' },
  { method: 'GET', path: '/agent/nope', perm: 'agent:read' },
  {
    method: 'POST',
    path: '/job',
    perm: 'job:write',
    also: ['command:execute'],
    body: {
      operation: { type: 'command.shell.execute', data: { command: 'true' } },
      target_hostname: 'nobody',
    },
  },
  { method: 'GET', path: '/job', perm: 'job:read' },
  { method: 'GET', path: '/job/status', perm: 'job:read' },
  { method: 'GET', path: `/job/${ID}`, perm: 'job:read' },
  { method: 'GET', path: `/job/${ID}/stream`, perm: 'job:read' },
  { method: 'DELETE', path: `/job/${ID}`, perm: 'job:write' },
  { method: 'POST', path: `/job/${ID}/retry`, perm: 'job:write', body: {} },
  { method: 'GET', path: '/audit', perm: 'audit:read' },
  { method: 'GET', path: `/audit/${ID}`, perm: 'audit:read' },
  { method: 'GET', path: '/audit/export', perm: 'audit:read' },
];

let sys: TestSystem;
const callers: Record<string, { token?: string; perms: readonly Permission[] }> = {};

beforeAll(async () => {
  // No agent: a permitted command finds no target and runs nothing.
  sys = await startTestSystem({
    overrides: {
      'api.server.security.roles': {
        auditor: { permissions: ['audit:read', 'job:read'] },
        read: { permissions: ['agent:read'] },
      },
    },
  });
  const key = new TextEncoder().encode(sys.signingKey);
  const now = Math.floor(Date.now() / 1000);
  callers['no token'] = { perms: [] };
  callers.forged = {
    token: await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setIssuer('osapi')
      .setAudience('osapi')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-key')),
    perms: [],
  };
  callers.expired = {
    token: await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setIssuer('osapi')
      .setAudience('osapi')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(key),
    perms: [],
  };
  callers.admin = { token: await sys.token(['admin']), perms: BUILTIN_ROLES.admin };
  callers.write = { token: await sys.token(['write']), perms: BUILTIN_ROLES.write };
  // The config's own `read` overrides the built-in one of the same name.
  callers['read (overridden by config)'] = {
    token: await sys.token(['read']),
    perms: ['agent:read'],
  };
  callers['custom role'] = {
    token: await sys.token(['auditor']),
    perms: ['audit:read', 'job:read'],
  };
});
afterAll(async () => {
  await sys?.stop();
});

describe('route × caller', () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path} needs ${route.perm}`, async () => {
      const needs = [route.perm, ...(route.also ?? [])];
      const direct = await sys.token(['write'], needs);
      const all = { ...callers, [`direct ${needs.join('+')}`]: { token: direct, perms: needs } };
      for (const [who, c] of Object.entries(all)) {
        const r = await request(sys, route.method, route.path, route.body, c.token);
        const missing = needs.find((p) => !c.perms.includes(p));
        const allowed = c.token !== undefined && missing === undefined;
        if (!c.token || who === 'forged' || who === 'expired') {
          expect(r.status, who).toBe(401);
        } else if (allowed) {
          expect([401, 403], `${who}: ${r.status} ${JSON.stringify(r.body)}`).not.toContain(
            r.status,
          );
        } else {
          expect(r.status, who).toBe(403);
          expect(r.body.error).toContain(missing);
        }
      }
    });
  }
});
