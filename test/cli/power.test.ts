// `osapi client node power reboot|shutdown -T _all` asks, as every change on
// ALL hosts does. The API is an address nothing listens on: a confirmation
// that let the command through would fail to connect, never reach a host.
// A refused flag value is told in the flag's words, before any request too.
import { afterAll, describe, expect, test } from 'vitest';
import { childEnv, cleanup, runOsapi, tempDir } from './helpers.js';

afterAll(cleanup, 30_000);

const NOWHERE = 'http://127.0.0.1:9';

describe('power on ALL hosts', () => {
  test('without a terminal and without --yes: refused before any request', async () => {
    const env = childEnv(tempDir('osapi-cli-power-'));
    for (const action of ['reboot', 'shutdown']) {
      const r = await runOsapi(
        ['client', '--url', NOWHERE, 'node', 'power', action, '-T', '_all', '--delay', '60'],
        { env },
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/refusing to .* on ALL hosts: .* Pass -y\/--yes/);
      expect(r.stderr).not.toMatch(/cannot reach/);
      expect(r.stdout).toBe('');
    }
  });

  test('with --yes it goes on to the API (here: none to reach)', async () => {
    const env = childEnv(tempDir('osapi-cli-power-'));
    const r = await runOsapi(
      ['client', '--url', NOWHERE, 'node', 'power', 'reboot', '-T', '_all', '--yes'],
      { env },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot reach the OSAPI API/);
  });
});

describe('a refused flag value, in the flag words', () => {
  test('a field spelt apart from its flag is named as the flag; an example in the message is left as written', async () => {
    const env = childEnv(tempDir('osapi-cli-words-'));
    const r = await runOsapi(
      ['client', '--url', NOWHERE, 'node', 'sysctl', 'get', '--key', '../etc/passwd'],
      { env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('(e.g. net.ipv4.ip_forward)');
    const dns = await runOsapi(
      ['client', '--url', NOWHERE, 'node', 'network', 'dns', 'update', '--servers', '192.0.2.1'],
      { env },
    );
    expect(dns.code).toBe(2);
    expect(dns.stderr).toContain('--interface-name');
    expect(dns.stderr).not.toContain('interface_name');
  });
});
