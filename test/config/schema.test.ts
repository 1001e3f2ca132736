// The defaults and the key list derived from the one schema: every default of the documented
// YAML, env names for keys containing "_", and the file-facing vs loaded types.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type Config,
  type ConfigFile,
  configKeys,
  defaultConfig,
  envName,
  loadConfig,
  type NatsAuthConfig,
} from '../../src/config/index.js';

const auth = { type: 'none', username: '', password: '', nkey_seed_file: '' };

describe('defaults', () => {
  it('match the documented YAML, with durations in milliseconds', () => {
    const { config, file, explicit, warnings } = loadConfig({
      env: { HOME: '/home/someone' },
      defaultFile: null,
    });
    expect(file).toBeNull();
    expect(explicit.size).toBe(0);
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      debug: false,
      state_dir: '/home/someone/.local/state/osapi',
      api: {
        client: { url: 'http://0.0.0.0:8080', security: { bearer_token: '' } },
        server: {
          host: '127.0.0.1',
          port: 8080,
          nats: {
            host: '127.0.0.1',
            port: 4222,
            servers: [],
            client_name: 'osapi-api',
            namespace: 'osapi',
            auth,
          },
          limits: {
            max_connections: 0,
            headers_timeout: 10_000,
            request_timeout: 30_000,
            keep_alive_timeout: 5_000,
            max_requests_per_socket: 1000,
            max_streams_per_user: 20,
          },
          security: {
            signing_key: '',
            trusted_proxies: [],
            cors: { allow_origins: [] },
            roles: {},
            job_signing_key_file: '',
            audit: {
              required: false,
              unauthenticated_rate: 60,
              unauthenticated_burst: 20,
              user_rate: 6000,
              user_burst: 2000,
            },
          },
          files: { max_bytes: 8388608 },
          ui: { enabled: true },
          mcp: { enabled: false },
        },
      },
      nats: {
        server: {
          host: '127.0.0.1',
          port: 4222,
          store_dir: '.nats/jetstream/',
          namespace: 'osapi',
          auth: {
            ...auth,
            type: 'user_pass',
            api_nkeys: [],
            agent_nkeys: [],
            agent_host_nkeys: {},
          },
          name: '',
          cluster: { name: '', host: 'localhost', port: 6222, routes: [] },
        },
        stream: {
          name: 'JOBS',
          subjects: 'jobs.>',
          max_age: 24 * 3_600_000,
          max_msgs: 10000,
          storage: 'file',
          replicas: 1,
          discard: 'old',
        },
        kv: {
          bucket: 'job-queue',
          response_bucket: 'job-responses',
          ttl: 3_600_000,
          max_bytes: 104857600,
          storage: 'file',
          replicas: 1,
        },
        audit: {
          bucket: 'audit-log',
          ttl: 720 * 3_600_000,
          max_bytes: 52428800,
          unauthenticated_max_bytes: 10485760,
          storage: 'file',
          replicas: 1,
        },
        registry: { bucket: 'agent-registry', ttl: 30_000, storage: 'file', replicas: 1 },
        dlq: { max_age: 7 * 86_400_000, max_msgs: 1000, storage: 'file', replicas: 1 },
      },
      agent: {
        nats: {
          host: '127.0.0.1',
          port: 4222,
          servers: [],
          client_name: 'osapi-agent',
          namespace: 'osapi',
          auth,
        },
        consumer: {
          name: 'jobs-agent',
          max_deliver: 5,
          ack_wait: 120_000,
          max_ack_pending: 1000,
          max_waiting: 10000,
          replay_policy: 'instant',
          back_off: [30_000, 120_000, 300_000, 900_000, 1_800_000],
        },
        listen: { catch_up: 600_000, jitter: 5_000 },
        queue_group: 'job-agents',
        hostname: '',
        max_jobs: 10,
        direct_spawn: true,
        max_output_bytes: 1048576,
        metrics_port: 0,
        labels: {},
        facts: { interval: 60_000, timeout: 5_000, dir: '', custom: {} },
        enrollment: { auto_accept: false },
        conditions: { memory_pressure: 90, disk_pressure: 90, high_load: 2 },
        dns: { resolv_conf: '/etc/resolv.conf' },
        services: { unit_dir: '/etc/systemd/system' },
        node: { hostname_file: '/etc/hostname' },
        timezone: {
          localtime: '/etc/localtime',
          timezone_file: '/etc/timezone',
          zoneinfo_dir: '/usr/share/zoneinfo',
        },
        certificates: { dir: '/usr/local/share/ca-certificates' },
        cron: { dir: '/etc/cron.d', periodic_dir: '/etc' },
        network: { netplan_dir: '/etc/netplan', connectivity_check_s: 30 },
        sysctl: { file: '/etc/sysctl.d/90-osapi.conf', proc_dir: '/proc/sys' },
        ntp: { sources_file: '/etc/chrony/sources.d/osapi.sources' },
        docker: { socket: '/var/run/docker.sock' },
        security: { job_verify_key: '', job_verify_key_file: '' },
      },
    });
  });

  it('defaultConfig() is the same without reading any file or variable', () => {
    const config = defaultConfig();
    expect(config.api.server.port).toBe(8080);
    expect(config.state_dir).toBe(join(homedir(), '.local', 'state', 'osapi'));
  });

  it('hands out a fresh copy each time', () => {
    const a = defaultConfig();
    a.agent.labels.group = 'web';
    a.agent.consumer.back_off.push(1);
    const b = defaultConfig();
    expect(b.agent.labels).toEqual({});
    expect(b.agent.consumer.back_off).toHaveLength(5);
  });
});

describe('configKeys', () => {
  const keys = configKeys();

  it('lists every leaf once, with a unique env name and a description', () => {
    // The leaves of the documented YAML plus ours (state_dir, hosts, servers,
    // auth details, caps, metrics, audit, job signing, cluster, console,
    // listening, the unauthenticated audit rate, burst and bucket size, the
    // audit rate and burst per token subject, the six API connection limits,
    // agents' nkeys by host, the MCP switch, the agent's posix_spawn switch):
    // count them on purpose.
    expect(keys).toHaveLength(127);
    expect(new Set(keys.map((k) => k.path)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.env)).size).toBe(keys.length);
    for (const key of keys) {
      expect(key.env).toBe(envName(key.path));
      expect(key.description, key.path).not.toBe('');
      expect(key.default, key.path).not.toBeUndefined();
    }
  });

  it('names env variables from the path, keeping underscores inside key names', () => {
    const env = new Map(keys.map((k) => [k.path, k.env]));
    expect(env.get('nats.server.store_dir')).toBe('OSAPI_NATS_SERVER_STORE_DIR');
    expect(env.get('api.server.nats.client_name')).toBe('OSAPI_API_SERVER_NATS_CLIENT_NAME');
    expect(env.get('agent.nats.client_name')).toBe('OSAPI_AGENT_NATS_CLIENT_NAME');
    expect(env.get('api.client.security.bearer_token')).toBe(
      'OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN',
    );
    expect(env.get('api.server.port')).toBe('OSAPI_API_SERVER_PORT');
    expect(env.get('api.server.nats.port')).toBe('OSAPI_API_SERVER_NATS_PORT');
    expect(env.get('agent.nats.port')).toBe('OSAPI_AGENT_NATS_PORT');
    expect(env.get('api.client.url')).toBe('OSAPI_API_CLIENT_URL');
    expect(env.get('state_dir')).toBe('OSAPI_STATE_DIR');
    expect(env.get('debug')).toBe('OSAPI_DEBUG');
  });

  it('treats labels and roles as single keys and shows durations as written', () => {
    const byPath = new Map(keys.map((k) => [k.path, k]));
    expect(byPath.get('agent.labels')?.kind).toBe('record');
    expect(byPath.get('api.server.security.roles')?.kind).toBe('record');
    expect(byPath.has('agent.labels.group')).toBe(false);
    expect(byPath.get('nats.stream.max_age')).toMatchObject({ default: '24h', duration: true });
    expect(byPath.get('agent.consumer.back_off')).toMatchObject({
      kind: 'array',
      duration: true,
      default: ['30s', '2m', '5m', '15m', '30m'],
    });
    expect(byPath.get('api.server.port')?.expected).toBe('an integer 0..65535');
  });

  it('marks exactly the secret keys', () => {
    expect(
      keys
        .filter((k) => k.secret)
        .map((k) => k.path)
        .sort(),
    ).toEqual(
      [
        'api.client.security.bearer_token',
        'api.server.nats.auth.password',
        'api.server.security.signing_key',
        'agent.nats.auth.password',
        'nats.server.auth.password',
      ].sort(),
    );
  });
});

describe('types', () => {
  it('uses strings for durations in the file and milliseconds once loaded', () => {
    expectTypeOf<ConfigFile['nats']['stream']['max_age']>().toEqualTypeOf<string>();
    expectTypeOf<Config['nats']['stream']['max_age']>().toEqualTypeOf<number>();
    expectTypeOf<Config['agent']['consumer']['back_off']>().toEqualTypeOf<number[]>();
    expectTypeOf<NatsAuthConfig['type']>().toEqualTypeOf<'none' | 'user_pass' | 'nkey'>();
    expectTypeOf<Config['agent']['labels']>().toEqualTypeOf<Record<string, string>>();
  });
});
