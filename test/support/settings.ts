// Layout and client settings for tests, each test file under its own namespace
// so files sharing nothing still never collide.
import type { NatsClientSettings } from '../../src/nats/connection.js';
import type { LayoutSettings } from '../../src/nats/layout.js';

export function testLayout(namespace: string, over: Partial<LayoutSettings> = {}): LayoutSettings {
  return {
    namespace,
    stream: {
      name: 'JOBS',
      subjects: 'jobs.>',
      max_age: 24 * 3600_000,
      max_msgs: 10000,
      storage: 'file',
      replicas: 1,
      discard: 'old',
    },
    kv: {
      bucket: 'job-queue',
      response_bucket: 'job-responses',
      ttl: 3600_000,
      max_bytes: 104857600,
      storage: 'file',
      replicas: 1,
    },
    audit: {
      bucket: 'audit-log',
      ttl: 720 * 3600_000,
      max_bytes: 52428800,
      unauthenticated_max_bytes: 10485760,
      storage: 'file',
      replicas: 1,
    },
    registry: { bucket: 'agent-registry', ttl: 30_000, storage: 'file', replicas: 1 },
    dlq: { max_age: 7 * 24 * 3600_000, max_msgs: 1000, storage: 'file', replicas: 1 },
    ...over,
  };
}

export function testClient(url: string, name = 'osapi-test'): NatsClientSettings {
  return { host: '', port: 0, servers: [url], client_name: name, auth: { type: 'none' } };
}
