// `osapi client node network ...` end to end against one `osapi start` child
// whose agent (named after this machine) reads this machine's interfaces and
// routes for real, and changes a temp netplan directory through a stand-in
// netplan first on its PATH (test/support/fake-netplan.ts), checking NATS on
// its real connection after each apply.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NETPLAN_MARKER } from '../../src/agent/handlers/netplan.js';
import { type FakeNetplan, makeFakeNetplan } from '../support/fake-netplan.js';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

let sys: StartedOsapi;
let fake: FakeNetplan;

beforeAll(async () => {
  fake = makeFakeNetplan();
  sys = await startOsapi(tempDir('osapi-cli-net-state-'), {
    env: {
      OSAPI_AGENT_NETWORK_NETPLAN_DIR: fake.netplanDir,
      OSAPI_AGENT_NETWORK_CONNECTIVITY_CHECK_S: '5',
      PATH: `${fake.pathDir}:${process.env.PATH ?? ''}`,
    },
  });
}, 30_000);

afterAll(async () => {
  try {
    await cleanup();
  } finally {
    fake?.remove();
  }
}, 30_000);

function osapi(args: string[], json = false): Promise<RunResult> {
  const global = json ? ['-j'] : [];
  return runOsapi([...global, 'client', 'node', 'network', ...args], {
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
describe('node network', () => {
  test('interface list: a row per interface of this machine', async () => {
    const r = await osapi(['interface', 'list']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual([
      'HOSTNAME',
      'INTERFACE',
      'STATE',
      'MTU',
      'MAC',
      'ADDRESSES',
      'GATEWAYS',
    ]);
    expect(r.stdout).toMatch(/│\s*lo\s*│[^\n]*127\.0\.0\.1\/8/);
  });

  test('route create takes --routes as JSON; the file is written, netplan generated and applied', async () => {
    const r = await osapi(
      [
        'route',
        'create',
        '--interface-name',
        'eth9',
        '--routes',
        '[{"to":"203.0.113.0/24","via":"192.0.2.1","metric":100}]',
        '-T',
        sys.ready.hostname,
      ],
      true,
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).results).toEqual([
      { hostname: sys.ready.hostname, status: 'ok', interface: 'eth9', changed: true },
    ]);
    expect(readFileSync(join(fake.netplanDir, '90-osapi-eth9.yaml'), 'utf8')).toBe(
      `${NETPLAN_MARKER}: network.interface.* and network.route.* rewrite this file.\nnetwork:\n  version: 2\n  ethernets:\n    "eth9":\n      routes:\n        - to: "203.0.113.0/24"\n          via: "192.0.2.1"\n          metric: 100\n`,
    );
    expect(fake.calls().filter((c) => !c.startsWith(' '))).toEqual(['generate', 'apply']);
  });

  test('bad routes JSON, and a bad route, are usage (exit 2)', async () => {
    const notJson = await osapi(['route', 'update', '--interface-name', 'eth9', '--routes', '[{']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('--routes');
    const bad = await osapi([
      'route',
      'update',
      '--interface-name',
      'eth9',
      '--routes',
      '[{"to":"203.0.113.0/24","via":"::1"}]',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--routes: must be an IPv4 address, as the destination is');
  });
});
