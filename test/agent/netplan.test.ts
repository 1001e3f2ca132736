// The network changes on the agent alone, against a stand-in netplan
// (test/support/fake-netplan.ts: netplan is not installed here, and a real
// apply would change this machine's network) and a temp netplan directory:
// the files are checked byte for byte, the calls in order, and the
// roll-backs when netplan refuses or the agent "loses" NATS. Where
// netplan's generator is there (netplan.io installed, or one named by
// OSAPI_NETPLAN_GENERATE), the files the agent writes go through it for real
// (`generate --root-dir`, nothing applied), and what networkd would get is
// checked; elsewhere that part is skipped, visibly.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { NETPLAN_MARKER, recoverNetplanChange } from '../../src/agent/handlers/netplan.js';
import { operationDataProblems } from '../../src/job/data-checks.js';
import { type FakeNetplan, makeFakeNetplan } from '../support/fake-netplan.js';
import { startTestSystem } from '../support/system.js';

let fake: FakeNetplan;
beforeEach(() => {
  fake = makeFakeNetplan();
});
afterEach(() => fake.remove());

const HEADER = `${NETPLAN_MARKER}: network.interface.* and network.route.* rewrite this file.\n`;
const checks: number[] = [];

function ctx(over: Partial<NonNullable<HandlerContext['host']>> = {}): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: {
      unitDir: '/nonexistent',
      netplan: fake.netplan,
      netplanDir: fake.netplanDir,
      connectivityCheckS: 7,
      netplanSettleMs: 0,
      natsReachable: async (ms) => {
        checks.push(ms);
        return fake.reachable();
      },
      ...over,
    },
  };
}
const run = (type: string, data: unknown, c = ctx()) => runJob(type, data, c);
const fileOf = (name: string) => join(fake.netplanDir, `90-osapi-${name}.yaml`);
const read = (name: string) => readFileSync(fileOf(name), 'utf8');

const ETH1 = `${HEADER}network:
  version: 2
  ethernets:
    "eth1":
      dhcp4: false
      addresses:
        - "192.0.2.10/24"
        - "2001:db8::10/64"
      gateway4: "192.0.2.1"
      gateway6: "2001:db8::1"
      mtu: 1400
      macaddress: "02:00:00:aa:bb:cc"
      wakeonlan: true
`;
const ETH1_CONFIG = {
  name: 'eth1',
  dhcp4: false,
  addresses: ['192.0.2.10/24', '2001:db8::10/64'],
  gateway4: '192.0.2.1',
  gateway6: '2001:db8::1',
  mtu: 1400,
  mac_address: '02:00:00:AA:BB:CC',
  wakeonlan: true,
};
const ROUTES = [
  { to: '203.0.113.0/24', via: '192.0.2.1', metric: 50 },
  { to: '2001:db8:1::/48', via: '2001:db8::1' },
];
const ROUTES_YAML = `      routes:
        - to: "203.0.113.0/24"
          via: "192.0.2.1"
          metric: 50
        - to: "2001:db8:1::/48"
          via: "2001:db8::1"
`;

describe('interface configuration', () => {
  it('create writes the file (0600), generates, applies and checks NATS; the same again changes nothing', async () => {
    checks.length = 0;
    const out = await run('network.interface.create', ETH1_CONFIG);
    expect(out).toEqual({ status: 'completed', data: { name: 'eth1', changed: true } });
    expect(read('eth1')).toBe(ETH1);
    expect(statSync(fileOf('eth1')).mode & 0o777).toBe(0o600);
    expect(fake.calls()).toEqual([
      'generate',
      '  90-osapi-eth1.yaml',
      'apply',
      '  90-osapi-eth1.yaml',
    ]);
    expect(checks).toEqual([7000]);
    fake.clearCalls();
    const again = await run('network.interface.create', ETH1_CONFIG);
    expect(again.data).toEqual({ name: 'eth1', changed: false });
    expect(fake.calls()).toEqual([]);
  });

  it('create over another configuration fails; update replaces it and keeps the routes; delete removes both', async () => {
    await run('network.interface.create', ETH1_CONFIG);
    await run('network.route.create', { interface_name: 'eth1', routes: ROUTES });
    const other = await run('network.interface.create', { name: 'eth1', dhcp4: true });
    expect(other.status).toBe('failed');
    expect(other.error).toBe(
      'eth1 already has a configuration this system wrote; change it with PUT (network.interface.update)',
    );
    const upd = await run('network.interface.update', { name: 'eth1', dhcp4: true });
    expect(upd.data).toEqual({ name: 'eth1', changed: true });
    expect(read('eth1')).toBe(
      `${HEADER}network:\n  version: 2\n  ethernets:\n    "eth1":\n      dhcp4: true\n${ROUTES_YAML}`,
    );
    const del = await run('network.interface.delete', { name: 'eth1' });
    expect(del.data).toEqual({ name: 'eth1', changed: true });
    expect(existsSync(fileOf('eth1'))).toBe(false);
    const again = await run('network.interface.delete', { name: 'eth1' });
    expect(again.data).toEqual({ name: 'eth1', changed: false });
  });

  it('update of an interface this system never configured fails, touching nothing', async () => {
    const out = await run('network.interface.update', { name: 'eth2', dhcp4: true });
    expect(out.error).toBe(
      'this system has not configured eth2: configure it first with POST (network.interface.create)',
    );
    expect(fake.calls()).toEqual([]);
  });

  it('a file of that name not written by this system is left as it is', async () => {
    writeFileSync(fileOf('eth3'), 'network: {version: 2}\n');
    const out = await run('network.interface.delete', { name: 'eth3' });
    expect(out.error).toBe(`${fileOf('eth3')} was not written by this system; it is left as it is`);
    expect(read('eth3')).toBe('network: {version: 2}\n');
  });
});

describe('routes', () => {
  it('create, update and delete edit the interface file; a routes-only file goes with its routes', async () => {
    const created = await run('network.route.create', { interface_name: 'eth4', routes: ROUTES });
    expect(created.data).toEqual({ interface: 'eth4', changed: true });
    expect(read('eth4')).toBe(
      `${HEADER}network:\n  version: 2\n  ethernets:\n    "eth4":\n${ROUTES_YAML}`,
    );
    const same = await run('network.route.create', { interface_name: 'eth4', routes: ROUTES });
    expect(same.data).toEqual({ interface: 'eth4', changed: false });
    const differ = await run('network.route.create', {
      interface_name: 'eth4',
      routes: [ROUTES[0]],
    });
    expect(differ.error).toBe(
      'eth4 already has routes this system set; replace them with PUT (network.route.update)',
    );
    const upd = await run('network.route.update', {
      interface_name: 'eth4',
      routes: [{ to: 'default', via: '192.0.2.254', metric: 10 }],
    });
    expect(upd.data).toEqual({ interface: 'eth4', changed: true });
    expect(read('eth4')).toBe(
      `${HEADER}network:\n  version: 2\n  ethernets:\n    "eth4":\n      routes:\n        - to: "default"\n          via: "192.0.2.254"\n          metric: 10\n`,
    );
    const del = await run('network.route.delete', { interface_name: 'eth4' });
    expect(del.data).toEqual({ interface: 'eth4', changed: true });
    expect(existsSync(fileOf('eth4'))).toBe(false);
    const again = await run('network.route.delete', { interface_name: 'eth4' });
    expect(again.data).toEqual({ interface: 'eth4', changed: false });
    const none = await run('network.route.update', { interface_name: 'eth4', routes: ROUTES });
    expect(none.error).toBe(
      'this system has set no routes through eth4: add them first with POST (network.route.create)',
    );
  });

  it('route delete keeps the interface configuration', async () => {
    await run('network.interface.create', ETH1_CONFIG);
    await run('network.route.create', { interface_name: 'eth1', routes: ROUTES });
    expect(read('eth1')).toBe(ETH1 + ROUTES_YAML);
    await run('network.route.delete', { interface_name: 'eth1' });
    expect(read('eth1')).toBe(ETH1);
  });
});

describe('roll-back', () => {
  it('netplan generate refusing: the previous file is back, nothing applied', async () => {
    await run('network.interface.create', ETH1_CONFIG);
    fake.clearCalls();
    fake.fail('generate', true);
    const out = await run('network.interface.update', { name: 'eth1', dhcp4: true });
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(
      /^netplan generate refused the new configuration: .*bad address.*; nothing was applied$/,
    );
    expect(read('eth1')).toBe(ETH1);
    expect(fake.calls().filter((c) => !c.startsWith(' '))).toEqual(['generate']);
  });

  it('netplan apply failing: the previous file is back and applied again', async () => {
    fake.fail('apply', true);
    const out = await run('network.interface.create', { name: 'eth5', dhcp4: true });
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/networkd is not running; rolling back failed too/);
    fake.fail('apply', false);
    expect(existsSync(fileOf('eth5'))).toBe(false);
  });

  it('losing NATS after apply: the previous file is put back and applied; the agent reaches NATS again', async () => {
    await run('network.interface.create', ETH1_CONFIG);
    fake.clearCalls();
    checks.length = 0;
    fake.loseConnectivityOn('198.51.100.99/24');
    const out = await run('network.interface.update', {
      name: 'eth1',
      addresses: ['198.51.100.99/24'],
    });
    expect(out).toEqual({
      status: 'failed',
      data: null,
      error:
        'after netplan apply this agent could not reach NATS within 7 s: the previous configuration was put back and applied (rolled back)',
    });
    expect(read('eth1')).toBe(ETH1);
    expect(fake.reachable()).toBe(true);
    expect(checks).toEqual([7000]);
    // generate and apply of the new file, then of the previous one: the same name, other content.
    expect(fake.calls().filter((c) => !c.startsWith(' '))).toEqual([
      'generate',
      'apply',
      'generate',
      'apply',
    ]);
  });

  it('an agent that cannot check NATS applies nothing', async () => {
    const out = await run(
      'network.interface.create',
      { name: 'eth6', dhcp4: true },
      ctx({ natsReachable: undefined }),
    );
    expect(out.error).toMatch(/does not apply a network change blind/);
    expect(existsSync(fileOf('eth6'))).toBe(false);
    expect(fake.calls()).toEqual([]);
  });
});

describe('an agent stopped while it checks a change', () => {
  it('keeps a record of the change in its state dir while it checks, and none after', async () => {
    const stateDir = join(fake.dir, 'state');
    mkdirSync(stateDir);
    const marker = join(stateDir, 'netplan-pending.json');
    const seen: unknown[] = [];
    const out = await run(
      'network.interface.create',
      ETH1_CONFIG,
      ctx({
        stateDir,
        natsReachable: async () => {
          seen.push(JSON.parse(readFileSync(marker, 'utf8')));
          return true;
        },
      }),
    );
    expect(out.status).toBe('completed');
    expect(seen).toEqual([{ path: fileOf('eth1'), previous: null }]);
    expect(existsSync(marker)).toBe(false);
  });

  it('undoes it when it starts again: the previous file back, generated and applied', async () => {
    const stateDir = join(fake.dir, 'state');
    mkdirSync(stateDir);
    await run('network.interface.create', ETH1_CONFIG);
    // As the agent left it: the new file written, the record of the old one kept.
    const changed = ETH1.replace('192.0.2.10/24', '198.51.100.99/24');
    writeFileSync(fileOf('eth1'), changed);
    writeFileSync(
      join(stateDir, 'netplan-pending.json'),
      JSON.stringify({ path: fileOf('eth1'), previous: ETH1 }),
    );
    fake.clearCalls();
    const undone = await recoverNetplanChange({
      stateDir,
      netplanDir: fake.netplanDir,
      netplan: fake.netplan,
    });
    expect(undone).toEqual({ path: fileOf('eth1'), undone: true });
    expect(read('eth1')).toBe(ETH1);
    expect(fake.calls().filter((c) => !c.startsWith(' '))).toEqual(['generate', 'apply']);
    expect(existsSync(join(stateDir, 'netplan-pending.json'))).toBe(false);
    expect(await recoverNetplanChange({ stateDir, netplanDir: fake.netplanDir })).toBeNull();
  });

  it('is undone by the agent process as it starts, before it connects', async () => {
    await run('network.interface.create', ETH1_CONFIG);
    const changed = ETH1.replace('192.0.2.10/24', '198.51.100.99/24');
    writeFileSync(fileOf('eth1'), changed);
    const sys = await startTestSystem();
    try {
      const marker = join(sys.config.state_dir, 'netplan-pending.json');
      writeFileSync(marker, JSON.stringify({ path: fileOf('eth1'), previous: ETH1 }));
      fake.clearCalls();
      await sys.startAgent(
        'np-start',
        {},
        { network: { ...sys.config.agent.network, netplan_dir: fake.netplanDir } },
        { netplan: fake.netplan },
      );
      expect(read('eth1')).toBe(ETH1);
      expect(fake.calls().filter((c) => !c.startsWith(' '))).toEqual(['generate', 'apply']);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await sys.stop();
    }
  });

  it('names the record when it cannot be read, rather than throwing', async () => {
    const stateDir = join(fake.dir, 'state');
    // A directory where the record should be: reading it fails.
    mkdirSync(join(stateDir, 'netplan-pending.json'), { recursive: true });
    const undone = await recoverNetplanChange({
      stateDir,
      netplanDir: fake.netplanDir,
      netplan: fake.netplan,
    });
    expect(undone).toMatchObject({
      path: join(stateDir, 'netplan-pending.json'),
      undone: false,
      ignored: true,
      error: expect.stringMatching(/EISDIR|directory/),
    });
    expect(fake.calls()).toEqual([]);
  });

  it('puts nothing back from a record naming a file outside the netplan directory', async () => {
    const stateDir = join(fake.dir, 'state');
    mkdirSync(stateDir);
    const elsewhere = join(fake.dir, 'elsewhere.yaml');
    writeFileSync(
      join(stateDir, 'netplan-pending.json'),
      JSON.stringify({ path: elsewhere, previous: `${NETPLAN_MARKER}\n` }),
    );
    const undone = await recoverNetplanChange({
      stateDir,
      netplanDir: fake.netplanDir,
      netplan: fake.netplan,
    });
    expect(undone).toMatchObject({ undone: false, ignored: true });
    expect(existsSync(elsewhere)).toBe(false);
    expect(fake.calls()).toEqual([]);
  });
});

describe('hosts without netplan', () => {
  it('are skipped, saying so', async () => {
    const out = await run(
      'network.route.create',
      { interface_name: 'eth1', routes: ROUTES },
      ctx({ netplan: join(fake.dir, 'no-netplan') }),
    );
    expect(out).toMatchObject({
      state: 'skipped',
      error: 'netplan is not installed on this host (no netplan)',
    });
  });
});

describe('what is refused before anything runs', () => {
  const problems = (type: string, data: unknown) =>
    operationDataProblems(type as 'network.interface.create', data);
  it('addresses in CIDR form, gateways of their family, a MAC, the MTU range, one field at least', () => {
    expect(problems('network.interface.create', ETH1_CONFIG)).toEqual([]);
    const fields = (data: unknown) =>
      problems('network.interface.create', { name: 'eth1', ...(data as object) }).map(
        (p) => p.field,
      );
    expect(fields({ addresses: ['192.0.2.10'] })).toEqual(['addresses[0]']);
    expect(fields({ addresses: ['192.0.2.10/33'] })).toEqual(['addresses[0]']);
    expect(fields({ addresses: ['2001:db8::1/129'] })).toEqual(['addresses[0]']);
    expect(fields({ addresses: ['192.0.2.10/24', '192.0.2.10/24'] })).toEqual(['addresses[1]']);
    expect(fields({ gateway4: '2001:db8::1' })).toEqual(['gateway4']);
    expect(fields({ gateway6: '192.0.2.1' })).toEqual(['gateway6']);
    expect(fields({ mac_address: '02:00:00:aa:bb' })).toEqual(['mac_address']);
    expect(fields({ mtu: 67 })).toEqual(['mtu']);
    expect(fields({ mtu: 65536 })).toEqual(['mtu']);
    expect(fields({})).toEqual(['addresses']);
    expect(fields({ dhcp4: true, extra: 1 })).toEqual(['extra']);
  });

  it('routes: a CIDR or default, a gateway of its family, a metric in range, none twice', () => {
    const fields = (routes: unknown) =>
      problems('network.route.create', { interface_name: 'eth1', routes }).map((p) => p.field);
    expect(fields(ROUTES)).toEqual([]);
    expect(fields([{ to: 'default', via: '2001:db8::1' }])).toEqual([]);
    expect(fields([{ to: '203.0.113.0', via: '192.0.2.1' }])).toEqual(['routes[0].to']);
    expect(fields([{ to: '203.0.113.0/24', via: '2001:db8::1' }])).toEqual(['routes[0].via']);
    expect(fields([{ to: '203.0.113.0/24', via: 'gw.example' }])).toEqual(['routes[0].via']);
    expect(fields([{ to: '203.0.113.0/24', via: '192.0.2.1', metric: -1 }])).toEqual([
      'routes[0].metric',
    ]);
    expect(fields([{ to: '203.0.113.0/24', via: '192.0.2.1', metric: 4294967296 }])).toEqual([
      'routes[0].metric',
    ]);
    expect(fields([ROUTES[0], ROUTES[0]])).toEqual(['routes[1].to']);
    expect(fields([])).toEqual(['routes']);
  });
});

const GENERATOR = [
  process.env.OSAPI_NETPLAN_GENERATE ?? '',
  '/usr/libexec/netplan/generate',
  '/lib/netplan/generate',
].find((p) => p !== '' && existsSync(p));

describe.skipIf(!GENERATOR)("netplan's own generator (skipped where netplan.io is absent)", () => {
  it('takes the files the agent writes and makes the networkd configuration asked for', async () => {
    const root = mkdtempSync(join(tmpdir(), 'osapitest-netplan-root-'));
    try {
      const netplanDir = join(root, 'etc', 'netplan');
      mkdirSync(netplanDir, { recursive: true });
      const c = ctx({ netplanDir });
      const { gateway6: _g, ...config } = ETH1_CONFIG;
      expect((await run('network.interface.create', config, c)).status).toBe('completed');
      const routes = { interface_name: 'eth1', routes: ROUTES };
      expect((await run('network.route.create', routes, c)).status).toBe('completed');
      execFileSync(GENERATOR as string, ['--root-dir', root], { stdio: 'pipe' });
      const network = join(root, 'run', 'systemd', 'network');
      expect(readFileSync(join(network, '10-netplan-eth1.network'), 'utf8')).toBe(
        '[Match]\nName=eth1\n\n[Link]\nMTUBytes=1400\nMACAddress=02:00:00:aa:bb:cc\n\n[Network]\nLinkLocalAddressing=ipv6\nAddress=192.0.2.10/24\nAddress=2001:db8::10/64\nGateway=192.0.2.1\n\n[Route]\nDestination=203.0.113.0/24\nGateway=192.0.2.1\nMetric=50\n\n[Route]\nDestination=2001:db8:1::/48\nGateway=2001:db8::1\n',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
