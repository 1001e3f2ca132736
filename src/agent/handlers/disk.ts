// node.disk.get: the host's mounted local filesystems and their sizes in
// bytes. Pseudo filesystems (proc, sysfs, tmpfs, cgroup...), network ones
// (nfs, cifs...) and overlay are left out; see docs/api.md for the rule.
import { readFile, statfs } from 'node:fs/promises';
import type { Disk } from '../../contract/node-operations.js';
import { nodeHandler } from './checked.js';

/**
 * Filesystems that are not backed by a block device but hold real data of
 * their own: the kernel lists them as `nodev` in /proc/filesystems, yet they
 * are local disks to the person asking.
 */
const NODEV_BUT_LOCAL = new Set(['zfs']);

/**
 * Block-backed filesystems that are not worth reporting: read-only images
 * (snaps, live media) that are always full.
 */
const BLOCK_BUT_SKIPPED = new Set(['squashfs', 'iso9660', 'udf', 'erofs', 'cramfs']);

/**
 * When /proc/filesystems cannot be read, or a type is missing from it (a
 * module loaded later): types known to be pseudo, network or layered, so they
 * are never reported. overlay is here on purpose: it shows the space of the
 * filesystem beneath it, which is reported under its own device when mounted.
 */
const NEVER = new Set([
  'proc',
  'sysfs',
  'tmpfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'overlay',
  'aufs',
  'securityfs',
  'pstore',
  'debugfs',
  'tracefs',
  'configfs',
  'fusectl',
  'mqueue',
  'hugetlbfs',
  'bpf',
  'autofs',
  'binfmt_misc',
  'rpc_pipefs',
  'nsfs',
  'ramfs',
  'efivarfs',
  'selinuxfs',
  'nfs',
  'nfs4',
  'cifs',
  'smb3',
  'smbfs',
  'ceph',
  'glusterfs',
  '9p',
]);

export interface Mount {
  device: string;
  mountPoint: string;
  fsType: string;
}

/** /proc/self/mounts writes space, tab, newline and backslash as octal escapes. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

export function parseMounts(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [device, mountPoint, fsType] = line.split(' ');
    if (!device || !mountPoint || !fsType) continue;
    out.push({
      device: unescapeMountField(device),
      mountPoint: unescapeMountField(mountPoint),
      fsType,
    });
  }
  return out;
}

/** Types backed by a block device: the lines of /proc/filesystems without `nodev`. */
export function parseBlockFilesystems(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const [flag, name] = line.split('\t');
    if (flag === '' && name) out.add(name.trim());
  }
  return out;
}

/**
 * The mounts worth reporting, one per device: a device mounted at several
 * places (bind mounts, as containers have for /etc/hosts) is counted once,
 * under the mount that came first.
 */
export function localMounts(mounts: Mount[], blockTypes: Set<string> | null): Mount[] {
  const seen = new Set<string>();
  return mounts.filter((m) => {
    if (NEVER.has(m.fsType) || BLOCK_BUT_SKIPPED.has(m.fsType)) return false;
    const local =
      NODEV_BUT_LOCAL.has(m.fsType) ||
      (blockTypes ? blockTypes.has(m.fsType) : m.device.startsWith('/dev/'));
    if (!local || seen.has(m.device)) return false;
    seen.add(m.device);
    return true;
  });
}

/** Sizes as df reports them: used counts every used block, free what a user may still write. */
async function diskOf(m: Mount): Promise<Disk | null> {
  try {
    const s = await statfs(m.mountPoint, { bigint: true });
    const total = s.blocks * s.bsize;
    return {
      name: m.mountPoint,
      total: Number(total),
      used: Number((s.blocks - s.bfree) * s.bsize),
      free: Number(s.bavail * s.bsize),
      device: m.device,
      fs_type: m.fsType,
    };
  } catch {
    // Unmounted meanwhile, or not ours to look at: not a disk we can report.
    return null;
  }
}

export async function readDisks(): Promise<Disk[]> {
  const mounts = parseMounts(await readFile('/proc/self/mounts', 'utf8'));
  const blockTypes = await readFile('/proc/filesystems', 'utf8').then(
    parseBlockFilesystems,
    () => null,
  );
  const disks = await Promise.all(localMounts(mounts, blockTypes).map(diskOf));
  return disks.filter((d): d is Disk => d !== null && d.total > 0);
}

export const diskHandler = nodeHandler('node.disk.get', async () => {
  try {
    return { ok: true, result: { disks: await readDisks() } };
  } catch (err) {
    return {
      ok: false,
      error: `cannot list the mounted filesystems (/proc/self/mounts): ${err instanceof Error ? err.message : String(err)}`,
    };
  }
});
