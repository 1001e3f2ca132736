// The API server against a slowloris (api.server.limits): connections past
// max_connections are refused as they come, a request's headers must arrive
// within headers_timeout, an idle keep-alive connection goes after
// keep_alive_timeout; afterwards /health and a command answer. The agent runs
// in this same process, as in `osapi start`.
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTO_MAX_CONNECTIONS,
  autoMaxConnections,
  openFilesLimit,
  resolveConnectionLimits,
} from '../../src/api/limits.js';
import { ConfigError, defaultConfig } from '../../src/config/index.js';
import { slowloris } from '../support/slowloris.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';

const MAX_CONNECTIONS = 12;

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem({
    overrides: {
      'api.server.limits.max_connections': MAX_CONNECTIONS,
      'api.server.limits.headers_timeout': '400ms',
      'api.server.limits.request_timeout': '800ms',
      'api.server.limits.keep_alive_timeout': '400ms',
    },
  });
  await sys.startAgent('loris-01');
  await sys.waitForAgents(['loris-01']);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

describe('a slowloris against the API server', () => {
  it('is refused past the cap and timed out, and the server answers after it', async () => {
    const server = sys.api.app.server as Server;
    // What the server holds at once, counted from its side (refused ones never count).
    let open = 0;
    let peak = 0;
    let refused = 0;
    const onConnection = (socket: import('node:net').Socket) => {
      peak = Math.max(peak, ++open);
      socket.once('close', () => open--);
    };
    const onDrop = () => refused++;
    server.on('connection', onConnection);
    server.on('drop', onDrop);
    const port = Number(new URL(sys.url).port);
    // Five times the cap, every kind; the attack gives up by itself after 20 s.
    const attack = slowloris({ port, count: MAX_CONNECTIONS * 5, forMs: 20_000, everyMs: 100 });
    try {
      const outcome = await attack.done;
      // Every connection was ended by the server, none had to be dropped by the attacker:
      // with Node's defaults a silent or trickling one stays 60 s or more, an idle one 72 s.
      expect(outcome.stoppedByAttacker).toBe(0);
      expect(outcome.closedByServer).toBe(MAX_CONNECTIONS * 5);
      expect(peak).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(refused).toBeGreaterThan(0);
      // Half-open, trickling and idle keep-alive connections alike.
      expect(Object.values(outcome.byKind)).toEqual([20, 20, 20]);
    } finally {
      attack.stop();
      server.off('connection', onConnection);
      server.off('drop', onDrop);
    }

    const health = await request(sys, 'GET', '/health');
    expect(health.status).toBe(200);
    const r = await post(
      sys,
      '/node/_any/command/exec',
      { command: 'echo', args: ['still', 'here'] },
      admin,
    );
    expect(r.status).toBe(202);
    expect(r.body.results[0].stdout).toBe('still here\n');
  });
});

describe('resolveConnectionLimits', () => {
  const limits = () => structuredClone(defaultConfig().api.server.limits);

  it('derives the cap from the open-files limit, keeping room for an agent in the process', () => {
    expect(autoMaxConnections(null, 64)).toBe(AUTO_MAX_CONNECTIONS);
    expect(autoMaxConnections(1_048_576, 64)).toBe(AUTO_MAX_CONNECTIONS);
    // 1024: (1024 - 64) * 3/4; with an agent of 10 jobs, 40 descriptors fewer first.
    expect(resolveConnectionLimits(limits(), { fdLimit: 1024 }).limits.maxConnections).toBe(720);
    const shared = resolveConnectionLimits(limits(), { fdLimit: 1024, agentMaxJobs: 10 });
    expect(shared.limits.maxConnections).toBe(690);
    expect(shared.derived).toBe(true);
    expect(shared.warnings).toEqual([]);
  });

  it('warns when a set cap leaves the process too few descriptors, naming the key', () => {
    const cfg = { ...limits(), max_connections: 1000 };
    const r = resolveConnectionLimits(cfg, { fdLimit: 1024, agentMaxJobs: 10 });
    expect(r.limits.maxConnections).toBe(1000);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/api\.server\.limits\.max_connections \(1000\).*1024.*ulimit -n/);
  });

  it('refuses headers_timeout above request_timeout, naming both keys', () => {
    const cfg = { ...limits(), headers_timeout: 60_000, request_timeout: 30_000 };
    expect(() => resolveConnectionLimits(cfg, { fdLimit: 1024 })).toThrow(ConfigError);
    expect(() => resolveConnectionLimits(cfg, { fdLimit: 1024 })).toThrow(
      /api\.server\.limits\.headers_timeout: expected at most api\.server\.limits\.request_timeout/,
    );
  });

  it('reads the open-files limit from /proc, and none when it is unlimited or unreadable', () => {
    const limitsFile = (n: string) => () =>
      `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${n}                ${n}                files\n`;
    expect(openFilesLimit(limitsFile('20000'))).toBe(20000);
    expect(openFilesLimit(limitsFile('unlimited'))).toBeNull();
    expect(
      openFilesLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBeNull();
    expect(openFilesLimit()).toBeGreaterThan(0);
  });
});
