// The agent's node and network handlers on their own: the parsers on real
// output samples, and the handlers run on this machine (ping of loopback, a
// resolv.conf in a temp dir, a PATH without ping).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localMounts, parseBlockFilesystems, parseMounts } from '../../src/agent/handlers/disk.js';
import { parseResolvConf, parseResolvectlLine } from '../../src/agent/handlers/dns.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { formatRtt, PING_MISSING, parsePingOutput } from '../../src/agent/handlers/ping.js';

const ctx = (over: Partial<HandlerContext> = {}): HandlerContext => ({
  hostname: 'h-01',
  labels: { group: 'web' },
  maxOutputBytes: 1024 * 1024,
  signal: new AbortController().signal,
  ...over,
});

const dir = mkdtempSync(join(tmpdir(), 'osapi-handlers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ping output', () => {
  it('reads the iputils summary', () => {
    const out = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.296 ms

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 405ms
rtt min/avg/max/mdev = 0.058/0.177/1.296/0.119 ms
`;
    expect(parsePingOutput(out)).toEqual({
      packets_sent: 3,
      packets_received: 3,
      packet_loss: 0,
      min_rtt: '58µs',
      avg_rtt: '177µs',
      max_rtt: '1.296ms',
    });
  });

  it('reads a partial loss with errors, and no reply at all', () => {
    expect(
      parsePingOutput(
        '3 packets transmitted, 1 received, +2 errors, 66.6667% packet loss, time 2003ms\nrtt min/avg/max/mdev = 10.5/10.5/10.5/0 ms',
      ),
    ).toMatchObject({
      packets_sent: 3,
      packets_received: 1,
      packet_loss: 66.6667,
      min_rtt: '10.5ms',
    });
    expect(
      parsePingOutput('3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n'),
    ).toEqual({
      packets_sent: 3,
      packets_received: 0,
      packet_loss: 100,
      min_rtt: '0s',
      avg_rtt: '0s',
      max_rtt: '0s',
    });
  });

  it("reads busybox's wording", () => {
    const out =
      '3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.061/0.080/0.101 ms\n';
    expect(parsePingOutput(out)).toMatchObject({ packets_received: 3, avg_rtt: '80µs' });
  });

  it('is null without a summary', () => {
    expect(parsePingOutput('ping: connect: Network is unreachable\n')).toBeNull();
  });

  it('formats round trips as Go-style durations', () => {
    expect(formatRtt(0)).toBe('0s');
    expect(formatRtt(0.0004)).toBe('0s');
    expect(formatRtt(0.058)).toBe('58µs');
    expect(formatRtt(1)).toBe('1ms');
    expect(formatRtt(12.3456)).toBe('12.346ms');
    expect(formatRtt(1500)).toBe('1.5s');
  });
});

describe('ping handler', () => {
  it('pings 127.0.0.1', async () => {
    const out = await runJob('network.ping.do', { address: '127.0.0.1' }, ctx());
    expect(out).toMatchObject({
      status: 'completed',
      data: { packets_sent: 3, packets_received: 3, packet_loss: 0 },
    });
  });

  it('says to install iputils-ping when ping is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'empty');
    try {
      const out = await runJob('network.ping.do', { address: '127.0.0.1' }, ctx());
      expect(out).toEqual({ status: 'failed', data: null, error: PING_MISSING });
      expect(out.error).toContain('iputils-ping');
    } finally {
      process.env.PATH = path;
    }
  });

  it('refuses data the API would have refused', async () => {
    for (const data of [
      { address: 'localhost' },
      { address: '-f' },
      {},
      { address: '::1', x: 1 },
    ]) {
      const out = await runJob('network.ping.do', data, ctx());
      expect(out.status, JSON.stringify(data)).toBe('failed');
      expect(out.error).toMatch(/^invalid job data: /);
    }
  });
});

describe('dns', () => {
  it('reads nameservers and the last search or domain line of resolv.conf', () => {
    const text = `# a comment
nameserver 10.0.0.1
nameserver 2001:db8::1 ; trailing comment
domain old.example
search a.example b.example
options ndots:2
`;
    expect(parseResolvConf(text)).toEqual({
      servers: ['10.0.0.1', '2001:db8::1'],
      search_domains: ['a.example', 'b.example'],
    });
    expect(parseResolvConf('search x.example\ndomain y.example\n').search_domains).toEqual([
      'y.example',
    ]);
    expect(parseResolvConf('')).toEqual({ servers: [], search_domains: [] });
  });

  it("reads resolvectl's line for a link", () => {
    expect(parseResolvectlLine('Link 2 (eth0): 1.1.1.1 8.8.8.8\n')).toEqual(['1.1.1.1', '8.8.8.8']);
    expect(parseResolvectlLine('Link 2 (eth0):\n')).toEqual([]);
    expect(parseResolvectlLine('Global: 9.9.9.9\n')).toEqual([]);
  });

  it.skipIf(existsSync('/run/systemd/resolve'))(
    'the handler reads the configured resolv.conf (skipped where systemd-resolved answers instead)',
    async () => {
      const path = join(dir, 'resolv.conf');
      writeFileSync(path, 'nameserver 192.0.2.53\nsearch corp.example\n');
      const out = await runJob(
        'network.dns.get',
        { interface_name: 'lo' },
        ctx({ resolvConfPath: path }),
      );
      expect(out).toEqual({
        status: 'completed',
        data: { servers: ['192.0.2.53'], search_domains: ['corp.example'], source: path },
      });
      const missing = await runJob(
        'network.dns.get',
        { interface_name: 'lo' },
        ctx({ resolvConfPath: join(dir, 'nope') }),
      );
      expect(missing.status).toBe('failed');
      expect(missing.error).toContain('cannot read');
    },
  );

  it('an unknown interface is an error naming it', async () => {
    const out = await runJob('network.dns.get', { interface_name: 'nosuch0' }, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/^unknown interface "nosuch0": this host has .*lo/);
  });
});

describe('disks', () => {
  const MOUNTS = `proc /proc proc rw 0 0
sysfs /sys sysfs rw 0 0
/dev/sda1 / ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0
/dev/sda1 /etc/hosts ext4 rw 0 0
/dev/sdb1 /mnt/my\\040data xfs rw 0 0
server:/export /mnt/nfs nfs4 rw 0 0
/dev/loop3 /snap/core/1 squashfs ro 0 0
tank/home /home zfs rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
`;
  const FILESYSTEMS =
    'nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\n\txfs\n\tsquashfs\nnodev\toverlay\nnodev\tnfs4\nnodev\tzfs\nnodev\tcgroup2\n';

  it('keeps block-backed and ZFS filesystems, once per device, and decodes mount points', () => {
    const kept = localMounts(parseMounts(MOUNTS), parseBlockFilesystems(FILESYSTEMS));
    expect(kept).toEqual([
      { device: '/dev/sda1', mountPoint: '/', fsType: 'ext4' },
      { device: '/dev/sdb1', mountPoint: '/mnt/my data', fsType: 'xfs' },
      { device: 'tank/home', mountPoint: '/home', fsType: 'zfs' },
    ]);
  });

  it('without /proc/filesystems, keeps /dev devices that are not known pseudo types', () => {
    const kept = localMounts(parseMounts(MOUNTS), null).map((m) => m.mountPoint);
    expect(kept).toEqual(['/', '/mnt/my data', '/home']);
  });

  it('the handler answers integer sizes', async () => {
    const out = await runJob('node.disk.get', {}, ctx());
    expect(out.status).toBe('completed');
    const { disks } = out.data as { disks: Array<Record<string, number>> };
    for (const d of disks) {
      for (const k of ['total', 'used', 'free']) expect(Number.isInteger(d[k])).toBe(true);
    }
  });
});

describe('the handler table', () => {
  it('answers an unknown operation with a failed result, not a throw', async () => {
    const out = await runJob('node.teleport.do', {}, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toContain('node.teleport.do');
  });

  it('refuses unknown fields in an information job', async () => {
    const out = await runJob('node.memory.get', { extra: true }, ctx());
    expect(out).toMatchObject({
      status: 'failed',
      error: 'invalid job data: extra is not a known field',
    });
  });

  it('answers the hostname job with the labels of the agent', async () => {
    const out = await runJob('node.hostname.get', {}, ctx());
    expect(out).toMatchObject({ status: 'completed', data: { labels: { group: 'web' } } });
  });
});
