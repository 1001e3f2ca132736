// The check a network change waits on (src/agent/reachable.ts), against a
// real nats-server behind a TCP proxy that cuts the client off: reachable
// while connected, not within the time while cut off, reachable again once
// the client has reconnected by itself.
import { describe, expect, it } from 'vitest';
import { natsReachable } from '../../src/agent/reachable.js';
import { closeNats, connectNats } from '../../src/nats/connection.js';
import { silentLogger, useTestNats } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const t = useTestNats();

describe('natsReachable', () => {
  it('answers true when connected, false when cut off, true again after the reconnect', async () => {
    const proxy = await startTcpProxy(t.server.port);
    const nc = await connectNats({
      settings: testClient(proxy.url, 'osapitest-reachable'),
      logger: silentLogger,
    });
    try {
      expect(await natsReachable(nc, 2000)).toBe(true);
      proxy.cut();
      const started = Date.now();
      expect(await natsReachable(nc, 1500)).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      proxy.restore();
      // The client reconnects on its own; the check waits for it within its time.
      expect(await natsReachable(nc, 20_000)).toBe(true);
    } finally {
      await closeNats(nc);
      await proxy.close();
    }
  });
});
