import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerAuth } from '../../src/api/auth.js';
import type { DispatchDeps } from '../../src/api/dispatch.js';
import type { JobRouteDeps } from '../../src/api/job/routes.js';
import { type ApiServerDeps, registerRoutes } from '../../src/api/server.js';

// The only routes anyone may call without a token.
const OPEN = [
  'GET /health',
  'GET /health/ready',
  'GET /version',
  'GET /metrics',
  'GET /openapi.json',
  'POST /auth/session',
];

function routeTable() {
  const app = Fastify();
  const routes: Array<{ route: string; permission: unknown }> = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) {
      if (m !== 'HEAD') routes.push({ route: `${m} ${r.url}`, permission: r.config?.permission });
    }
  });
  registerAuth(app, { signingKey: 'k', customRoles: {} });
  // Registration only: the handlers, which would use these, never run here.
  registerRoutes(app, {
    readiness: { check: async () => {} },
    dispatch: {} as DispatchDeps,
    facts: {} as ApiServerDeps['facts'],
    states: {} as ApiServerDeps['states'],
    jobs: {} as JobRouteDeps,
    audit: {} as ApiServerDeps['audit'],
    health: {} as ApiServerDeps['health'],
    metrics: {} as ApiServerDeps['metrics'],
    session: {} as ApiServerDeps['session'],
    files: { maxBytes: 1 } as ApiServerDeps['files'],
  });
  return { app, routes };
}

describe('every route declares its permission', () => {
  it('lists the open routes and the permission of every other one', async () => {
    const { app, routes } = routeTable();
    await app.ready();
    // Compared sorted: what matters is the set, not the registration order.
    const byRoute = (a: { route: string }, b: { route: string }) => a.route.localeCompare(b.route);
    expect(
      routes
        .filter((r) => r.permission === 'public')
        .map((r) => r.route)
        .sort(),
    ).toEqual([...OPEN].sort());
    expect(routes.filter((r) => r.permission !== 'public').sort(byRoute)).toEqual(
      [
        { route: 'GET /agent', permission: 'agent:read' },
        { route: 'GET /agent/:hostname', permission: 'agent:read' },
        { route: 'GET /facts/keys', permission: 'agent:read' },
        { route: 'GET /agent/pending', permission: 'agent:read' },
        { route: 'POST /agent/:hostname/accept', permission: 'agent:write' },
        { route: 'POST /agent/:hostname/reject', permission: 'agent:write' },
        { route: 'POST /agent/:hostname/drain', permission: 'agent:write' },
        { route: 'POST /agent/:hostname/undrain', permission: 'agent:write' },
        { route: 'POST /node/:hostname/command/exec', permission: 'command:execute' },
        { route: 'POST /node/:hostname/command/shell', permission: 'command:execute' },
        { route: 'GET /node/:hostname', permission: 'node:read' },
        { route: 'GET /node/:hostname/hostname', permission: 'node:read' },
        { route: 'GET /node/:hostname/disk', permission: 'node:read' },
        { route: 'GET /node/:hostname/memory', permission: 'node:read' },
        { route: 'GET /node/:hostname/load', permission: 'node:read' },
        { route: 'GET /node/:hostname/os', permission: 'node:read' },
        { route: 'GET /node/:hostname/uptime', permission: 'node:read' },
        { route: 'POST /node/:hostname/network/ping', permission: 'network:write' },
        { route: 'GET /node/:hostname/network/dns/:interfaceName', permission: 'network:read' },
        { route: 'PUT /node/:hostname/network/dns', permission: 'network:write' },
        { route: 'DELETE /node/:hostname/network/dns', permission: 'network:write' },
        { route: 'GET /node/:hostname/network/interface', permission: 'network:read' },
        { route: 'GET /node/:hostname/network/interface/:name', permission: 'network:read' },
        { route: 'GET /node/:hostname/network/route', permission: 'network:read' },
        { route: 'POST /node/:hostname/network/interface/:name', permission: 'network:write' },
        { route: 'PUT /node/:hostname/network/interface/:name', permission: 'network:write' },
        { route: 'DELETE /node/:hostname/network/interface/:name', permission: 'network:write' },
        { route: 'GET /node/:hostname/network/route/:interfaceName', permission: 'network:read' },
        { route: 'POST /node/:hostname/network/route/:interfaceName', permission: 'network:write' },
        { route: 'PUT /node/:hostname/network/route/:interfaceName', permission: 'network:write' },
        {
          route: 'DELETE /node/:hostname/network/route/:interfaceName',
          permission: 'network:write',
        },
        { route: 'POST /node/:hostname/file/deploy', permission: 'file:write' },
        { route: 'POST /node/:hostname/file/undeploy', permission: 'file:write' },
        { route: 'POST /node/:hostname/file/status', permission: 'file:read' },
        { route: 'POST /file', permission: 'file:write' },
        { route: 'GET /file', permission: 'file:read' },
        { route: 'GET /file/stale', permission: 'file:read' },
        { route: 'GET /file/:name', permission: 'file:read' },
        { route: 'DELETE /file/:name', permission: 'file:write' },
        { route: 'GET /node/:hostname/service', permission: 'service:read' },
        { route: 'GET /node/:hostname/service/:name', permission: 'service:read' },
        { route: 'POST /node/:hostname/service', permission: 'service:write' },
        { route: 'PUT /node/:hostname/service/:name', permission: 'service:write' },
        { route: 'DELETE /node/:hostname/service/:name', permission: 'service:write' },
        { route: 'POST /node/:hostname/service/:name/start', permission: 'service:write' },
        { route: 'POST /node/:hostname/service/:name/stop', permission: 'service:write' },
        { route: 'POST /node/:hostname/service/:name/restart', permission: 'service:write' },
        { route: 'POST /node/:hostname/service/:name/enable', permission: 'service:write' },
        { route: 'POST /node/:hostname/service/:name/disable', permission: 'service:write' },
        { route: 'GET /node/:hostname/package', permission: 'package:read' },
        { route: 'GET /node/:hostname/package/:name', permission: 'package:read' },
        { route: 'POST /node/:hostname/package', permission: 'package:write' },
        { route: 'DELETE /node/:hostname/package/:name', permission: 'package:write' },
        { route: 'POST /node/:hostname/package/update', permission: 'package:write' },
        { route: 'GET /node/:hostname/package/update', permission: 'package:read' },
        { route: 'GET /node/:hostname/user', permission: 'user:read' },
        { route: 'GET /node/:hostname/user/:name', permission: 'user:read' },
        { route: 'POST /node/:hostname/user', permission: 'user:write' },
        { route: 'PUT /node/:hostname/user/:name', permission: 'user:write' },
        { route: 'DELETE /node/:hostname/user/:name', permission: 'user:write' },
        { route: 'POST /node/:hostname/user/:name/password', permission: 'user:write' },
        { route: 'GET /node/:hostname/user/:name/ssh-key', permission: 'user:read' },
        { route: 'POST /node/:hostname/user/:name/ssh-key', permission: 'user:write' },
        {
          route: 'DELETE /node/:hostname/user/:name/ssh-key/:fingerprint',
          permission: 'user:write',
        },
        { route: 'GET /node/:hostname/group', permission: 'user:read' },
        { route: 'GET /node/:hostname/group/:name', permission: 'user:read' },
        { route: 'POST /node/:hostname/group', permission: 'user:write' },
        { route: 'PUT /node/:hostname/group/:name', permission: 'user:write' },
        { route: 'DELETE /node/:hostname/group/:name', permission: 'user:write' },
        { route: 'GET /node/:hostname/timezone', permission: 'timezone:read' },
        { route: 'PUT /node/:hostname/timezone', permission: 'timezone:write' },
        { route: 'PUT /node/:hostname/hostname', permission: 'node:write' },
        { route: 'POST /node/:hostname/power/reboot', permission: 'power:execute' },
        { route: 'POST /node/:hostname/power/shutdown', permission: 'power:execute' },
        { route: 'GET /node/:hostname/process', permission: 'process:read' },
        { route: 'GET /node/:hostname/process/:pid', permission: 'process:read' },
        { route: 'POST /node/:hostname/process/:pid/signal', permission: 'process:execute' },
        { route: 'GET /node/:hostname/log', permission: 'log:read' },
        { route: 'GET /node/:hostname/log/source', permission: 'log:read' },
        { route: 'GET /node/:hostname/log/unit/:name', permission: 'log:read' },
        { route: 'GET /node/:hostname/certificate/ca', permission: 'certificate:read' },
        { route: 'POST /node/:hostname/certificate/ca', permission: 'certificate:write' },
        { route: 'PUT /node/:hostname/certificate/ca/:name', permission: 'certificate:write' },
        { route: 'DELETE /node/:hostname/certificate/ca/:name', permission: 'certificate:write' },
        { route: 'GET /node/:hostname/schedule/cron', permission: 'cron:read' },
        { route: 'GET /node/:hostname/schedule/cron/:name', permission: 'cron:read' },
        { route: 'POST /node/:hostname/schedule/cron', permission: 'cron:write' },
        { route: 'PUT /node/:hostname/schedule/cron/:name', permission: 'cron:write' },
        { route: 'DELETE /node/:hostname/schedule/cron/:name', permission: 'cron:write' },
        { route: 'GET /node/:hostname/sysctl', permission: 'sysctl:read' },
        { route: 'GET /node/:hostname/sysctl/:key', permission: 'sysctl:read' },
        { route: 'POST /node/:hostname/sysctl', permission: 'sysctl:write' },
        { route: 'PUT /node/:hostname/sysctl/:key', permission: 'sysctl:write' },
        { route: 'DELETE /node/:hostname/sysctl/:key', permission: 'sysctl:write' },
        { route: 'GET /node/:hostname/ntp', permission: 'ntp:read' },
        { route: 'POST /node/:hostname/ntp', permission: 'ntp:write' },
        { route: 'PUT /node/:hostname/ntp', permission: 'ntp:write' },
        { route: 'DELETE /node/:hostname/ntp', permission: 'ntp:write' },
        { route: 'POST /node/:hostname/container/docker', permission: 'docker:write' },
        { route: 'GET /node/:hostname/container/docker', permission: 'docker:read' },
        { route: 'GET /node/:hostname/container/docker/:id', permission: 'docker:read' },
        { route: 'DELETE /node/:hostname/container/docker/:id', permission: 'docker:write' },
        { route: 'POST /node/:hostname/container/docker/:id/start', permission: 'docker:write' },
        { route: 'POST /node/:hostname/container/docker/:id/stop', permission: 'docker:write' },
        { route: 'POST /node/:hostname/container/docker/:id/exec', permission: 'docker:execute' },
        {
          route: 'DELETE /node/:hostname/container/docker/image/:image',
          permission: 'docker:write',
        },
        { route: 'POST /node/:hostname/container/docker/pull', permission: 'docker:write' },
        { route: 'POST /job', permission: 'job:write' },
        { route: 'GET /job', permission: 'job:read' },
        { route: 'GET /job/status', permission: 'job:read' },
        { route: 'GET /job/:id', permission: 'job:read' },
        { route: 'GET /job/:id/stream', permission: 'job:read' },
        { route: 'DELETE /job/:id', permission: 'job:write' },
        { route: 'POST /job/:id/retry', permission: 'job:write' },
        { route: 'POST /job/:id/cancel', permission: 'command:execute' },
        { route: 'GET /audit', permission: 'audit:read' },
        { route: 'GET /audit/export', permission: 'audit:read' },
        { route: 'GET /audit/:id', permission: 'audit:read' },
        { route: 'GET /health/status', permission: 'health:read' },
        { route: 'GET /auth/me', permission: 'authenticated' },
        { route: 'POST /auth/login-code', permission: 'authenticated' },
      ].sort(byRoute),
    );
  });

  it('refuses to register a route without a permission, or with an unknown one', () => {
    const { app } = routeTable();
    expect(() => app.get('/nothing', async () => 'x')).toThrow(/declares no valid permission/);
    expect(() =>
      app.get('/typo', { config: { permission: 'command:exec' as never } }, async () => 'x'),
    ).toThrow(/declares no valid permission/);
  });
});
