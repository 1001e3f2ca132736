// The supervised server's cluster settings: checked before nats-server starts,
// each problem naming its key; and a real three-node cluster made from them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { serverPlacement } from '../../src/nats/cluster.js';
import { closeNats, connectNats } from '../../src/nats/connection.js';
import { ensureLayoutWhenReady } from '../../src/nats/layout.js';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import { freePorts } from '../support/cluster.js';
import { silentLogger } from '../support/nats.js';
import { testClient, testLayout } from '../support/settings.js';

function config(overrides: Record<string, unknown>) {
  return loadConfig({ env: {}, defaultFile: null, overrides }).config;
}

function problems(overrides: Record<string, unknown>, hostname = 'node-a'): string[] {
  try {
    serverPlacement(config(overrides), hostname);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const routes = ['nats-route://10.0.0.1:6222', 'nats-route://10.0.0.2:6222', 'nats://10.0.0.3:6222'];

describe('serverPlacement', () => {
  it('runs a single server by default, under nats-server its own name', () => {
    expect(serverPlacement(config({}), 'node-a')).toEqual({ cluster: null });
  });

  it('makes a cluster node named after the host unless nats.server.name says otherwise', () => {
    const c = { 'nats.server.cluster.name': 'fleet', 'nats.server.cluster.routes': routes };
    expect(serverPlacement(config(c), 'node-a')).toEqual({
      serverName: 'node-a',
      cluster: { name: 'fleet', host: 'localhost', port: 6222, routes },
    });
    expect(serverPlacement(config({ ...c, 'nats.server.name': 'n1' }), 'node-a').serverName).toBe(
      'n1',
    );
  });

  it('refuses routes without a cluster name, and replicas without a cluster', () => {
    expect(problems({ 'nats.server.cluster.routes': routes })).toEqual([
      expect.stringContaining('nats.server.cluster.name is empty'),
    ]);
    expect(problems({ 'nats.kv.replicas': 3 })).toEqual([
      expect.stringMatching(/^nats\.kv\.replicas is 3 but this server runs alone/),
    ]);
  });

  it('refuses a cluster without routes, sharing the client port, or with more replicas than nodes', () => {
    expect(
      problems({
        'nats.server.cluster.name': 'fleet',
        'nats.server.cluster.port': 4222,
        'nats.stream.replicas': 3,
      }),
    ).toEqual([
      expect.stringContaining('nats.server.cluster.routes is empty'),
      expect.stringContaining('nats.server.cluster.port 4222 is also nats.server.port'),
    ]);
    expect(
      problems({
        'nats.server.cluster.name': 'fleet',
        'nats.server.cluster.routes': routes.slice(0, 1),
        'nats.stream.replicas': 3,
      }),
    ).toEqual([expect.stringMatching(/^nats\.stream\.replicas is 3 .* names 1 node/)]);
  });

  it('refuses names nats-server would not take', () => {
    expect(
      problems({ 'nats.server.cluster.name': 'my fleet', 'nats.server.cluster.routes': routes }),
    ).toEqual([expect.stringContaining('nats.server.cluster.name: "my fleet"')]);
    expect(
      problems(
        { 'nats.server.cluster.name': 'fleet', 'nats.server.cluster.routes': routes },
        'bad host',
      ),
    ).toEqual([expect.stringContaining('(the OS hostname)')]);
  });

  it('checks route URLs when the config is loaded', () => {
    expect(() => config({ 'nats.server.cluster.routes': ['http://10.0.0.1:6222'] })).toThrowError(
      /nats\.server\.cluster\.routes\.0: expected a route URL/,
    );
    expect(() => config({ 'nats.server.cluster.routes': ['nats-route://a'] })).toThrowError(
      /expected a route URL/,
    );
  });
});

describe('a cluster of three supervised servers', () => {
  const servers: NatsServerHandle[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'osapi-cluster-test-'));
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('forms from the placement the config gives, and holds a layout with three replicas', async () => {
    const ports = await freePorts(3);
    const routeUrls = ports.map((p) => `nats-route://127.0.0.1:${p}`);
    for (const [i, port] of ports.entries()) {
      const placement = serverPlacement(
        config({
          'nats.server.name': `n${i}`,
          'nats.server.cluster.name': 'test',
          'nats.server.cluster.host': '127.0.0.1',
          'nats.server.cluster.port': port,
          'nats.server.cluster.routes': routeUrls,
          'nats.stream.replicas': 3,
        }),
      );
      servers.push(
        await startNatsServer({
          host: '127.0.0.1',
          port: 0,
          storeDir: join(dir, `n${i}`),
          logger: silentLogger,
          ...placement,
        }),
      );
    }
    expect(servers.map((s) => s.clusterPort)).toEqual(ports);
    const nc = await connectNats({
      settings: { ...testClient(servers[0]?.url ?? ''), servers: servers.map((s) => s.url) },
      logger: silentLogger,
    });
    try {
      const base = testLayout('cl');
      const r3 = <T extends object>(x: T) => ({ ...x, replicas: 3 });
      const report = await ensureLayoutWhenReady(
        nc,
        {
          ...base,
          stream: r3(base.stream),
          kv: r3(base.kv),
          audit: r3(base.audit),
          registry: r3(base.registry),
          dlq: r3(base.dlq),
        },
        { logger: silentLogger, withinMs: 30_000 },
      );
      const jsm = await jetstreamManager(nc);
      for (const item of report.items) {
        const info = await jsm.streams.info(item.stream);
        expect(info.config.num_replicas, item.stream).toBe(3);
        expect(info.cluster?.replicas ?? [], item.stream).toHaveLength(2);
      }
    } finally {
      await closeNats(nc);
    }
  }, 45_000);
});
