// redactConfig: a copy safe to log, with secrets (and URL passwords) replaced.
import { describe, expect, it } from 'vitest';
import { defaultConfig, REDACTED, redactConfig } from '../../src/config/index.js';

describe('redactConfig', () => {
  it('replaces every set secret, keeps empty ones empty, and leaves the rest', () => {
    const config = defaultConfig();
    config.api.server.security.signing_key = 'sign-me';
    config.api.client.security.bearer_token = 'eyJ.token';
    config.agent.nats.auth = {
      type: 'user_pass',
      username: 'agent',
      password: 'pw',
      nkey_seed_file: '',
    };
    config.api.server.nats.servers = ['nats://api:secretpw@n1:4222', 'n2:4222'];

    const safe = redactConfig(config);
    expect(safe.api.server.security.signing_key).toBe(REDACTED);
    expect(safe.api.client.security.bearer_token).toBe(REDACTED);
    expect(safe.agent.nats.auth).toEqual({
      type: 'user_pass',
      username: 'agent',
      password: REDACTED,
      nkey_seed_file: '',
    });
    expect(safe.nats.server.auth.password).toBe('');
    expect(safe.api.server.nats.servers).toEqual(['nats://api:<redacted>@n1:4222', 'n2:4222']);
    expect(safe.nats.stream.max_age).toBe(config.nats.stream.max_age);
    expect(JSON.stringify(safe)).not.toMatch(/sign-me|eyJ\.token|secretpw|"pw"/);
  });

  it('does not touch the original', () => {
    const config = defaultConfig();
    config.api.server.security.signing_key = 'sign-me';
    redactConfig(config);
    expect(config.api.server.security.signing_key).toBe('sign-me');
  });
});
