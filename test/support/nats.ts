// A real nats-server per test file: random port, temporary store dir, removed
// afterwards. Fails fast and clearly when nats-server is not installed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { closeNats, connectNats, type NatsConnection } from '../../src/nats/connection.js';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import type { NatsServerAuth } from '../../src/nats/server-config.js';
import { testClient } from './settings.js';

export const silentLogger = pino({ level: 'silent' });

export interface TestNats {
  server: NatsServerHandle;
  url: string;
  port: number;
  storeDir: string;
  stop(): Promise<void>;
}

export async function startTestNats(
  auth?: NatsServerAuth | null,
  logger: Logger = silentLogger,
): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-nats-'));
  const server = await startNatsServer({
    host: '127.0.0.1',
    port: 0,
    storeDir: join(dir, 'jetstream'),
    logger,
    auth: auth ?? null,
  });
  return {
    server,
    url: server.url,
    port: server.port,
    storeDir: dir,
    async stop() {
      await server.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A test server and one client of it for a whole test file: started before
 * its tests (hooks registered after this call run after it), stopped after
 * them. Read `server` and `nc` inside hooks and tests, not at import time.
 */
export function useTestNats(): { readonly server: TestNats; readonly nc: NatsConnection } {
  let server: TestNats | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startTestNats();
    nc = await connectNats({ settings: testClient(server.url), logger: silentLogger });
  });
  afterAll(async () => {
    if (nc) await closeNats(nc);
    await server?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the test nats-server is not started yet');
    return v;
  };
  return {
    get server() {
      return started(server);
    },
    get nc() {
      return started(nc);
    },
  };
}
