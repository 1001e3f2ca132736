// A network namespace of a test's own (`ip netns add osapitest-<hex>`), with
// a veth pair carrying known addresses and routes, and a wrapper `ip` that
// runs iproute2 inside it: an agent given the wrapper (HostSettings.ipTool)
// reads that namespace for real, and nothing of this machine's network
// changes. Needs root, as the tests run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestNetns {
  name: string;
  /** The wrapper: `ip ARGS` inside the namespace. */
  ipTool: string;
  /** A temp directory of the test's (the wrapper lives there). */
  dir: string;
  /** Runs `ip ARGS` inside the namespace. */
  ip(...args: string[]): void;
  remove(): void;
}

/**
 * v0 (02:00:00:00:00:01, MTU 1400): 198.51.100.5/24 and 2001:db8::5/64,
 * default routes via 198.51.100.1 (metric 100) and 2001:db8::1 (metric 200),
 * 203.0.113.0/24 via 198.51.100.1 (metric 50). v1 (02:00:00:00:00:02):
 * 192.0.2.77/24 with a lifetime, as a DHCP lease has. lo stays down. A
 * blackhole (IPv4) and an unreachable (IPv6) route go through no interface.
 */
export function makeTestNetns(): TestNetns {
  const name = `osapitest-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'osapitest-net-'));
  const ipTool = join(dir, 'ip');
  writeFileSync(ipTool, `#!/bin/sh\nexec ip -n ${name} "$@"\n`);
  chmodSync(ipTool, 0o755);
  const ip = (...args: string[]) => {
    execFileSync('ip', ['-n', name, ...args], { stdio: 'pipe' });
  };
  const remove = () => {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // Not made, or gone already.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('ip', ['netns', 'add', name]);
    ip('link', 'add', 'v0', 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'v1');
    ip('link', 'set', 'v1', 'address', '02:00:00:00:00:02');
    // No link-local addresses made from the MAC: only the test's own are there.
    ip('link', 'set', 'v0', 'addrgenmode', 'none');
    ip('link', 'set', 'v1', 'addrgenmode', 'none');
    ip('link', 'set', 'v0', 'mtu', '1400');
    ip('addr', 'add', '198.51.100.5/24', 'dev', 'v0');
    ip('addr', 'add', '2001:db8::5/64', 'dev', 'v0', 'nodad');
    ip('addr', 'add', '192.0.2.77/24', 'dev', 'v1', 'valid_lft', '3600', 'preferred_lft', '3600');
    ip('link', 'set', 'v1', 'up');
    ip('link', 'set', 'v0', 'up');
    ip('route', 'add', 'default', 'via', '198.51.100.1', 'dev', 'v0', 'metric', '100');
    ip('route', 'add', '203.0.113.0/24', 'via', '198.51.100.1', 'dev', 'v0', 'metric', '50');
    ip('-6', 'route', 'add', 'default', 'via', '2001:db8::1', 'dev', 'v0', 'metric', '200');
    // Routes through no interface, which the reads leave out.
    ip('route', 'add', 'blackhole', '10.98.0.0/16');
    ip('-6', 'route', 'add', 'unreachable', '2001:db8:99::/48');
  } catch (err) {
    remove();
    throw err;
  }
  return { name, ipTool, dir, ip, remove };
}
