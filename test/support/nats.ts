// A real nats-server per test file: random port, temporary store dir, removed
// afterwards. Fails fast and clearly when nats-server is not installed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { type NatsServerHandle, startNatsServer } from '../../src/nats/server.js';
import type { NatsServerAuth } from '../../src/nats/server-config.js';

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
