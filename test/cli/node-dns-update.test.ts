// `osapi client node network dns update` end to end against one `osapi start`
// child whose agent (named after this machine) uses a temp resolv.conf.
// Skipped where systemd-resolved runs: the agent would change this machine's
// DNS through resolvectl instead.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

const RESOLVED = existsSync('/run/systemd/resolve');
let sys: StartedOsapi;
let resolvConf: string;

beforeAll(async () => {
  if (RESOLVED) return;
  resolvConf = join(tempDir('osapi-cli-dns-'), 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 192.0.2.1\n');
  sys = await startOsapi(tempDir('osapi-cli-dns-state-'), {
    env: { OSAPI_AGENT_DNS_RESOLV_CONF: resolvConf },
  });
}, 30_000);

afterAll(cleanup, 30_000);

function osapi(args: string[], json = false): Promise<RunResult> {
  const global = json ? ['-j'] : [];
  return runOsapi([...global, 'client', 'node', 'network', 'dns', 'update', ...args], {
    env: childEnv(sys.stateDir),
  });
}

/** The header row's cells of the first table on stdout. */
function header(stdout: string): string[] {
  const line = stdout.split('\n').find((l) => l.includes('HOSTNAME')) ?? '';
  return line
    .split('│')
    .map((c) => c.trim())
    .filter(Boolean);
}

// One after another: each run starts a Node process, and two cores are shared.
describe.skipIf(RESOLVED)('node network dns update', () => {
  test('a HOSTNAME STATUS CHANGED ERROR table, and the file written', async () => {
    const r = await osapi([
      '--servers',
      '192.0.2.53, 2001:db8::53',
      '--search-domains',
      'corp.example',
      '--interface-name',
      'lo',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Job ID: [0-9a-f-]{36}\n/);
    expect(header(r.stdout)).toEqual(['HOSTNAME', 'STATUS', 'CHANGED', 'ERROR']);
    const host = sys.ready.hostname.replaceAll('.', '\\.');
    expect(r.stdout).toMatch(new RegExp(`│\\s*${host}\\s*│\\s*ok\\s*│\\s*true\\s*│`));
    expect(readFileSync(resolvConf, 'utf8')).toBe(
      'search corp.example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n',
    );
  });

  test('the same again with -j -T HOST: the body, changed false', async () => {
    const r = await osapi(
      ['--search-domains', 'corp.example', '--interface-name', 'lo', '-T', sys.ready.hostname],
      true,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results).toEqual([
      { hostname: sys.ready.hostname, status: 'ok', changed: false, source: resolvConf },
    ]);
  });

  test('a bad address, and -T _all without a terminal or --yes, are usage (exit 2)', async () => {
    const bad = await osapi(['--servers', 'dns.example', '--interface-name', 'lo']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('--servers');
    const all = await osapi(['--servers', '192.0.2.9', '--interface-name', 'lo', '-T', '_all']);
    expect(all.code).toBe(2);
    expect(all.stderr).toContain('-y/--yes');
    expect(readFileSync(resolvConf, 'utf8')).toContain('nameserver 192.0.2.53\n');
  });
});
