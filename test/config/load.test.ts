// loadConfig: file, env and override sources, their precedence, `explicit`, warnings, and the
// errors for every kind of bad input, all reported together and without secrets.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Settings } from 'typebox/system';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type LoadConfigOptions, loadConfig } from '../../src/config/index.js';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapi-config-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file and returns its path. */
function yamlFile(text: string): string {
  counter += 1;
  const path = join(dir, `config-${counter}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** Loads with no ambient env or /etc file unless the test gives them. */
function load(opts: LoadConfigOptions = {}) {
  return loadConfig({ env: {}, defaultFile: null, ...opts });
}

/** The ConfigError thrown by `fn`, failing the test if none is. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('precedence: override > env > file > default', () => {
  const file = () => yamlFile('api:\n  server:\n    port: 9001\n');
  const env = { OSAPI_API_SERVER_PORT: '9002' };
  const overrides = { 'api.server.port': 9003 };

  it('uses the default when nothing sets the key', () => {
    const r = load();
    expect(r.config.api.server.port).toBe(8080);
    expect(r.explicit.has('api.server.port')).toBe(false);
  });

  it('file beats default', () => {
    const r = load({ file: file() });
    expect(r.config.api.server.port).toBe(9001);
    expect(r.explicit.has('api.server.port')).toBe(true);
  });

  it('env beats file', () => {
    expect(load({ file: file(), env }).config.api.server.port).toBe(9002);
  });

  it('override beats env and file', () => {
    expect(load({ file: file(), env, overrides }).config.api.server.port).toBe(9003);
  });

  it('an override of undefined (a flag not given) leaves the lower sources alone', () => {
    const r = load({ file: file(), env, overrides: { 'api.server.port': undefined } });
    expect(r.config.api.server.port).toBe(9002);
  });

  it('an empty env variable counts as unset', () => {
    expect(load({ file: file(), env: { OSAPI_API_SERVER_PORT: '' } }).config.api.server.port).toBe(
      9001,
    );
  });

  it('a source setting one key leaves its siblings from the file', () => {
    const path = yamlFile('nats:\n  stream:\n    name: WORK\n    replicas: 3\n');
    const r = load({ file: path, env: { OSAPI_NATS_STREAM_REPLICAS: '5' } });
    expect(r.config.nats.stream).toMatchObject({ name: 'WORK', replicas: 5, subjects: 'jobs.>' });
  });
});

describe('file', () => {
  it('reads values, converting durations to milliseconds', () => {
    const path = yamlFile(
      [
        'debug: true',
        'nats:',
        '  stream:',
        '    max_age: 1h30m',
        '  dlq:',
        '    max_age: 500ms',
        'agent:',
        '  consumer:',
        '    back_off: [1s, 10s]',
        '  labels:',
        '    group: web.dev.us-east',
        '    tier: gold',
        'api:',
        '  server:',
        '    security:',
        '      roles:',
        '        ops:',
        '          permissions: [job:read, job:write]',
        '',
      ].join('\n'),
    );
    const r = load({ file: path });
    expect(r.file).toBe(path);
    expect(r.config.debug).toBe(true);
    expect(r.config.nats.stream.max_age).toBe(5_400_000);
    expect(r.config.nats.dlq.max_age).toBe(500);
    expect(r.config.agent.consumer.back_off).toEqual([1_000, 10_000]);
    expect(r.config.agent.labels).toEqual({ group: 'web.dev.us-east', tier: 'gold' });
    expect(r.config.api.server.security.roles).toEqual({
      ops: { permissions: ['job:read', 'job:write'] },
    });
  });

  it('an empty file, or a key with no value, leaves the defaults', () => {
    expect(load({ file: yamlFile('') }).config.api.server.port).toBe(8080);
    const r = load({ file: yamlFile('agent:\n  labels:\nstate_dir:\n') });
    expect(r.config.agent.labels).toEqual({});
    expect(r.explicit.size).toBe(0);
  });

  it('a missing named file is an error naming the path', () => {
    const path = join(dir, 'nope.yaml');
    const err = configError(() => load({ file: path }));
    expect(err.message).toBe(`config file not found: ${path}`);
  });

  it('a relative named file is reported and returned as an absolute path', () => {
    const err = configError(() => load({ file: 'no-such-osapi-config.yaml' }));
    expect(err.message).toBe(`config file not found: ${resolve('no-such-osapi-config.yaml')}`);
  });

  it('a missing default file is not an error', () => {
    const r = load({ defaultFile: join(dir, 'absent', 'osapi.yaml') });
    expect(r.file).toBeNull();
    expect(r.config.api.server.port).toBe(8080);
  });

  it('an existing default file is read', () => {
    const path = yamlFile('api:\n  server:\n    port: 7000\n');
    const r = load({ defaultFile: path });
    expect(r.file).toBe(path);
    expect(r.config.api.server.port).toBe(7000);
  });

  it('a named file wins over the default file', () => {
    const named = yamlFile('api:\n  server:\n    port: 7001\n');
    const fallback = yamlFile('api:\n  server:\n    port: 7002\n');
    expect(load({ file: named, defaultFile: fallback }).config.api.server.port).toBe(7001);
  });

  it('OSAPI_FILE names the file when no file option is given, and is no warning', () => {
    const path = yamlFile('api:\n  server:\n    port: 7003\n');
    const r = load({ env: { OSAPI_FILE: path } });
    expect(r.file).toBe(path);
    expect(r.config.api.server.port).toBe(7003);
    expect(r.warnings).toEqual([]);
    const missing = join(dir, 'missing-from-env.yaml');
    expect(configError(() => load({ env: { OSAPI_FILE: missing } })).message).toBe(
      `config file not found: ${missing}`,
    );
  });

  it('a directory is reported as unreadable', () => {
    const sub = join(dir, 'a-directory.yaml');
    mkdirSync(sub);
    expect(configError(() => load({ file: sub })).message).toBe(
      `cannot read config file ${sub}: EISDIR`,
    );
  });
});

describe('env', () => {
  it('sets keys whose names contain underscores', () => {
    const r = load({
      env: {
        OSAPI_NATS_SERVER_STORE_DIR: '/var/lib/osapi/js',
        OSAPI_API_SERVER_NATS_CLIENT_NAME: 'api-1',
        OSAPI_AGENT_NATS_CLIENT_NAME: 'agent-1',
        OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: 'tok',
        OSAPI_NATS_KV_RESPONSE_BUCKET: 'responses',
        OSAPI_AGENT_MAX_OUTPUT_BYTES: '2048',
        OSAPI_AGENT_CONSUMER_MAX_ACK_PENDING: '7',
        OSAPI_API_SERVER_NATS_AUTH_NKEY_SEED_FILE: '/etc/osapi/seed',
      },
    });
    expect(r.config.nats.server.store_dir).toBe('/var/lib/osapi/js');
    expect(r.config.api.server.nats.client_name).toBe('api-1');
    expect(r.config.agent.nats.client_name).toBe('agent-1');
    expect(r.config.api.client.security.bearer_token).toBe('tok');
    expect(r.config.nats.kv.response_bucket).toBe('responses');
    expect(r.config.agent.max_output_bytes).toBe(2048);
    expect(r.config.agent.consumer.max_ack_pending).toBe(7);
    expect(r.config.api.server.nats.auth.nkey_seed_file).toBe('/etc/osapi/seed');
    expect(r.warnings).toEqual([]);
  });

  it('keeps the API server and agent NATS ports apart', () => {
    const r = load({ env: { OSAPI_API_SERVER_NATS_PORT: '4223', OSAPI_AGENT_NATS_PORT: '4224' } });
    expect(r.config.api.server.nats.port).toBe(4223);
    expect(r.config.agent.nats.port).toBe(4224);
    expect(r.config.nats.server.port).toBe(4222);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('reads boolean %j', (raw, value) => {
    expect(load({ env: { OSAPI_DEBUG: raw } }).config.debug).toBe(value);
  });

  it('refuses other boolean spellings', () => {
    expect(configError(() => load({ env: { OSAPI_DEBUG: 'yes' } })).message).toBe(
      'debug: expected a boolean (true or false), got "yes" (from OSAPI_DEBUG)',
    );
  });

  it('reads lists as JSON or comma-separated', () => {
    const r = load({
      env: {
        OSAPI_API_SERVER_NATS_SERVERS: '["nats://a:4222","tls://b:4443"]',
        OSAPI_AGENT_NATS_SERVERS: 'nats://a:4222, c:4222',
        OSAPI_API_SERVER_SECURITY_CORS_ALLOW_ORIGINS: 'https://x.example,https://y.example',
        OSAPI_AGENT_CONSUMER_BACK_OFF: '1s,1m',
      },
    });
    expect(r.config.api.server.nats.servers).toEqual(['nats://a:4222', 'tls://b:4443']);
    expect(r.config.agent.nats.servers).toEqual(['nats://a:4222', 'c:4222']);
    expect(r.config.api.server.security.cors.allow_origins).toEqual([
      'https://x.example',
      'https://y.example',
    ]);
    expect(r.config.agent.consumer.back_off).toEqual([1_000, 60_000]);
  });

  it('reads labels as JSON or k=v pairs, and roles as JSON', () => {
    const pairs = load({ env: { OSAPI_AGENT_LABELS: 'group=web.dev.us-east, tier=gold' } });
    expect(pairs.config.agent.labels).toEqual({ group: 'web.dev.us-east', tier: 'gold' });
    const json = load({ env: { OSAPI_AGENT_LABELS: '{"group":"db"}' } });
    expect(json.config.agent.labels).toEqual({ group: 'db' });
    const roles = load({
      env: { OSAPI_API_SERVER_SECURITY_ROLES: '{"ops":{"permissions":["job:read"]}}' },
    });
    expect(roles.config.api.server.security.roles).toEqual({ ops: { permissions: ['job:read'] } });
  });

  it('reports values that do not convert', () => {
    const err = configError(() =>
      load({
        env: {
          OSAPI_AGENT_LABELS: 'group',
          OSAPI_API_SERVER_SECURITY_ROLES: 'ops=job:read',
          OSAPI_AGENT_NATS_SERVERS: '[broken',
        },
      }),
    );
    expect(err.problems).toEqual([
      'api.server.security.roles: expected a mapping of role names to { permissions: [...] }, got "ops=job:read" (from OSAPI_API_SERVER_SECURITY_ROLES)',
      'agent.nats.servers: expected a list of NATS URLs (nats://host:port, tls://host:port or host:port), got "[broken" (from OSAPI_AGENT_NATS_SERVERS)',
      'agent.labels: expected a mapping of label keys to values, got "group" (from OSAPI_AGENT_LABELS)',
    ]);
  });

  it('warns about OSAPI_ variables that match no key, and ignores other variables', () => {
    const r = load({
      env: {
        OSAPI_API_SERVER_PROT: '1',
        OSAPI_NOTHING_LIKE_IT: 'x',
        PATH: '/bin',
        osapi_debug: '1',
      },
    });
    expect(r.warnings).toEqual([
      'OSAPI_API_SERVER_PROT does not match any configuration key and is ignored (did you mean OSAPI_API_SERVER_PORT?)',
      'OSAPI_NOTHING_LIKE_IT does not match any configuration key and is ignored',
    ]);
    expect(r.config.debug).toBe(false);
  });
});

describe('overrides', () => {
  it('accept typed values and strings converted like env', () => {
    const r = load({
      overrides: {
        debug: true,
        'agent.max_jobs': '4',
        'nats.kv.ttl': '2h',
        'agent.labels': 'group=web',
        'api.server.nats.servers': ['nats://n1:4222'],
      },
    });
    expect(r.config.debug).toBe(true);
    expect(r.config.agent.max_jobs).toBe(4);
    expect(r.config.nats.kv.ttl).toBe(7_200_000);
    expect(r.config.agent.labels).toEqual({ group: 'web' });
    expect(r.config.api.server.nats.servers).toEqual(['nats://n1:4222']);
  });

  it('reject an unknown key, with a suggestion', () => {
    const err = configError(() => load({ overrides: { 'api.server.prot': 1 } }));
    expect(err.message).toBe(
      'api.server.prot: expected a known key (did you mean "api.server.port"?), got unknown key "api.server.prot" (from override)',
    );
  });

  it('are named by their flag when the caller gives labels', () => {
    const err = configError(() =>
      load({
        overrides: { 'api.server.port': 'abc' },
        overrideLabels: { 'api.server.port': '--port' },
      }),
    );
    expect(err.message).toBe(
      'api.server.port: expected an integer 0..65535, got "abc" (from --port)',
    );
  });
});

describe('explicit', () => {
  it('holds every leaf set by file, env or override, and no defaulted one', () => {
    const path = yamlFile(
      [
        'api:',
        '  server:',
        '    host: 0.0.0.0',
        '    nats:',
        '      auth:',
        '        type: user_pass',
        '        username: api',
        'agent:',
        '  labels: { group: web }',
        '  consumer: {}',
        '',
      ].join('\n'),
    );
    const r = load({
      file: path,
      env: { OSAPI_NATS_STREAM_REPLICAS: '3' },
      overrides: { 'agent.max_jobs': 2, debug: undefined },
    });
    expect([...r.explicit].sort()).toEqual([
      'agent.labels',
      'agent.max_jobs',
      'api.server.host',
      'api.server.nats.auth.type',
      'api.server.nats.auth.username',
      'nats.stream.replicas',
    ]);
  });
});

describe('state_dir', () => {
  it('defaults to $XDG_STATE_HOME/osapi', () => {
    const r = load({ env: { XDG_STATE_HOME: '/xdg/state', HOME: '/home/u' } });
    expect(r.config.state_dir).toBe('/xdg/state/osapi');
  });

  it('ignores a relative XDG_STATE_HOME and falls back to ~/.local/state/osapi', () => {
    const r = load({ env: { XDG_STATE_HOME: 'relative', HOME: '/home/u' } });
    expect(r.config.state_dir).toBe('/home/u/.local/state/osapi');
  });

  it('expands ~ and makes a relative path absolute', () => {
    expect(load({ env: { HOME: '/home/u', OSAPI_STATE_DIR: '~/osapi' } }).config.state_dir).toBe(
      '/home/u/osapi',
    );
    expect(load({ overrides: { state_dir: 'var/osapi' } }).config.state_dir).toBe(
      resolve('var/osapi'),
    );
  });
});

describe('validation', () => {
  it('reports an unknown key in the file with its line and the keys it could be', () => {
    const path = yamlFile('api:\n  server:\n    prot: 9000\n');
    expect(configError(() => load({ file: path })).message).toBe(
      `api.server.prot: expected a known key (did you mean "port"?; known keys: host, port, nats, limits, security, files, ui, mcp), got unknown key "prot" (from ${path}:3)`,
    );
  });

  it('reports wrong types, ranges, durations, enums and labels all together', () => {
    const path = yamlFile(
      [
        'debug: maybe', // 1
        'api:', // 2
        '  client:', // 3
        '    url: ftp://example.com', // 4
        '  server:', // 5
        '    port: 70000', // 6
        'nats:', // 7
        '  stream:', // 8
        '    max_age: 10', // 9
        '    storage: disk', // 10
        '    replicas: 0', // 11
        '  kv:', // 12
        '    ttl: 5x', // 13
        'agent:', // 14
        '  consumer:', // 15
        '    back_off: [1s, -1s]', // 16
        '  max_jobs: 1001', // 17
        '  nats:', // 18
        '    servers: [http://x]', // 19
        '  labels:', // 20
        '    "bad key": web', // 21
        '    group: "web..dev"', // 22
        '',
      ].join('\n'),
    );
    const err = configError(() => load({ file: path }));
    expect(err.name).toBe('ConfigError');
    expect(err.problems).toEqual([
      `debug: expected a boolean (true or false), got "maybe" (from ${path}:1)`,
      `api.client.url: expected an http(s) URL, got "ftp://example.com" (from ${path}:4)`,
      `api.server.port: expected an integer 0..65535, got 70000 (from ${path}:6)`,
      `nats.stream.max_age: expected a duration like 500ms, 30s, 2m, 1h30m or 7d, got 10 (from ${path}:9)`,
      `nats.stream.storage: expected one of "file", "memory", got "disk" (from ${path}:10)`,
      `nats.stream.replicas: expected an integer 1..5, got 0 (from ${path}:11)`,
      `nats.kv.ttl: expected a duration like 500ms, 30s, 2m, 1h30m or 7d, got "5x" (from ${path}:13)`,
      `agent.nats.servers.0: expected a NATS URL (nats://host:port, tls://host:port or host:port), got "http://x" (from ${path}:19)`,
      `agent.consumer.back_off.1: expected a duration like 500ms, 30s, 2m, 1h30m or 7d, got "-1s" (from ${path}:16)`,
      `agent.max_jobs: expected an integer 1..1000, got 1001 (from ${path}:17)`,
      `agent.labels.group: expected a label value of dot-separated segments of letters, digits, "_" or "-", got "web..dev" (from ${path}:22)`,
      `agent.labels.bad key: expected a label key of letters, digits, "_" or "-", got "bad key" (from ${path}:21)`,
    ]);
    expect(err.message).toBe(err.problems.join('\n'));
    expect(err.message).not.toMatch(/^\s+at /m);
  });

  it('leaves the library-wide TypeBox error limit as it found it', () => {
    const before = Settings.Get().maxErrors;
    configError(() => load({ overrides: { 'agent.max_jobs': 0 } }));
    expect(Settings.Get().maxErrors).toBe(before);
  });

  it('names the variable or default a bad value came from', () => {
    const err = configError(() =>
      load({
        env: { OSAPI_API_SERVER_PORT: 'abc', OSAPI_NATS_STREAM_DISCARD: 'newest' },
        overrides: { 'agent.consumer.replay_policy': 'fast' },
      }),
    );
    expect(err.problems).toEqual([
      'api.server.port: expected an integer 0..65535, got "abc" (from OSAPI_API_SERVER_PORT)',
      'nats.stream.discard: expected one of "old", "new", got "newest" (from OSAPI_NATS_STREAM_DISCARD)',
      'agent.consumer.replay_policy: expected one of "instant", "original", got "fast" (from override)',
    ]);
  });

  it('blames the env variable, not the file, when env overrode the file', () => {
    const path = yamlFile('agent:\n  labels: { group: web }\n');
    const err = configError(() => load({ file: path, env: { OSAPI_AGENT_LABELS: 'group=a b' } }));
    expect(err.message).toBe(
      'agent.labels.group: expected a label value of dot-separated segments of letters, digits, "_" or "-", got "a b" (from OSAPI_AGENT_LABELS)',
    );
  });

  it('reports a section given a scalar, a missing role field and an auth type', () => {
    const path = yamlFile(
      [
        'nats:',
        '  registry: 5',
        'api:',
        '  server:',
        '    nats:',
        '      auth:',
        '        type: token',
        '    security:',
        '      roles:',
        '        ops: {}',
        '',
      ].join('\n'),
    );
    expect(configError(() => load({ file: path })).problems).toEqual([
      `api.server.nats.auth.type: expected one of "none", "user_pass", "nkey", got "token" (from ${path}:7)`,
      `api.server.security.roles.ops.permissions: expected a list of permission strings, got nothing (from ${path}:10)`,
      `nats.registry: expected a mapping, got 5 (from ${path}:2)`,
    ]);
  });

  it('rejects a non-integer port and a negative count', () => {
    const err = configError(() =>
      load({ overrides: { 'nats.server.port': 42.5, 'nats.stream.max_msgs': -1 } }),
    );
    expect(err.problems).toEqual([
      'nats.server.port: expected an integer 0..65535, got 42.5 (from override)',
      'nats.stream.max_msgs: expected a non-negative integer, got -1 (from override)',
    ]);
  });

  it('reports a file that is not a mapping', () => {
    const path = yamlFile('- a\n- b\n');
    expect(configError(() => load({ file: path })).message).toBe(
      `(root): expected a mapping of configuration keys, got ["a","b"] (from ${path}:1)`,
    );
  });

  it('reports YAML syntax errors with line and column', () => {
    const path = yamlFile('api:\n  server:\n    port: [8080\nnats: {}\n');
    const err = configError(() => load({ file: path }));
    expect(err.message).toMatch(new RegExp(`^${path}:4:1: invalid YAML: `));
  });

  it('reports a duplicated key with its line', () => {
    const path = yamlFile('debug: true\ndebug: false\n');
    expect(configError(() => load({ file: path })).message).toBe(
      `${path}:2:1: invalid YAML: Map keys must be unique`,
    );
  });
});

describe('secrets in errors', () => {
  it('never shows the value of signing_key, bearer_token or password', () => {
    const path = yamlFile(
      [
        'api:',
        '  client:',
        '    security:',
        '      bearer_token: 123456789',
        '  server:',
        '    security:',
        '      signing_key: [s3cr3t-signing]',
        '',
      ].join('\n'),
    );
    const err = configError(() =>
      load({ file: path, overrides: { 'agent.nats.auth.password': { hunter: 2 } } }),
    );
    expect(err.problems).toEqual([
      `api.client.security.bearer_token: expected a string, got "<redacted>" (from ${path}:4)`,
      `api.server.security.signing_key: expected a string, got "<redacted>" (from ${path}:7)`,
      'agent.nats.auth.password: expected a string, got "<redacted>" (from override)',
    ]);
    expect(err.message).not.toMatch(/123456789|s3cr3t|hunter/);
  });

  it('hides secrets nested in a value shown for a parent key', () => {
    const path = yamlFile('nats:\n  server:\n    auth: [{ password: s3cr3t }]\n');
    const err = configError(() => load({ file: path }));
    expect(err.message).toBe(
      `nats.server.auth: expected a mapping, got [{"password":"<redacted>"}] (from ${path}:3)`,
    );
  });

  it('does not echo the value of an unknown key that might be a misspelt secret', () => {
    const path = yamlFile('api:\n  server:\n    security:\n      signing_ky: s3cr3t\n');
    const err = configError(() => load({ file: path }));
    expect(err.message).toContain('got unknown key "signing_ky"');
    expect(err.message).toContain('did you mean "signing_key"?');
    expect(err.message).not.toContain('s3cr3t');
  });
});
