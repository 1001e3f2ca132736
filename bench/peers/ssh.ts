// The peers' side of the comparison: N loopback "hosts" 127.0.0.1..N reached
// over real ssh. Everything lives in one temp dir (host key, client key,
// authorized_keys, sshd and ssh configs, ControlMaster sockets, Ansible's
// config and temp files) and sshd runs as the current user on a free port;
// nothing outside the temp dir is changed, except /run/sshd, which sshd needs
// when run as root and which is removed again when it was created here.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** What the comparison runs, and the Debian package each comes from. */
const NEEDED: { bin: string; pkg: string }[] = [
  { bin: 'sshd', pkg: 'openssh-server' },
  { bin: 'ssh', pkg: 'openssh-client' },
  { bin: 'ssh-keygen', pkg: 'openssh-client' },
  { bin: 'pdsh', pkg: 'pdsh' },
  { bin: 'clush', pkg: 'clustershell' },
  { bin: 'ansible', pkg: 'ansible-core' },
];

/** OpenSSH's sshd listens on at most 16 addresses (MAX_LISTEN_SOCKS); one sshd per 16 hosts. */
const ADDRESSES_PER_SSHD = 16;

const say = (line: string) => process.stderr.write(`bench:peers: ${line}\n`);

function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return null;
}

/**
 * Installs the Debian packages of the missing tools with apt-get (as
 * scripts/setup.mjs does for nats-server), or fails naming them.
 */
export function ensurePackages(): void {
  const missing = NEEDED.filter((n) => which(n.bin) === null);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((n) => n.pkg))];
  const byHand = `Install them by hand (apt-get install ${pkgs.join(' ')}), then run this again.`;
  const asRoot = process.getuid?.() === 0;
  if (!which('apt-get') || !(asRoot || which('sudo'))) {
    throw new Error(`missing ${missing.map((n) => n.bin).join(', ')}. ${byHand}`);
  }
  say(`installing the Debian packages ${pkgs.join(' ')}`);
  const [cmd, ...pre] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...pkgs],
  ]) {
    const r = spawnSync(cmd as string, [...pre, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env,
    });
    if (r.status !== 0) {
      throw new Error(`could not install the Debian packages ${pkgs.join(' ')}. ${byHand}`);
    }
  }
  const still = NEEDED.filter((n) => which(n.bin) === null);
  if (still.length)
    throw new Error(`still missing ${still.map((n) => n.bin).join(', ')}. ${byHand}`);
}

/** A port the OS reports free on 127.0.0.1 (sshd binds it on every loopback alias). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

function keygen(path: string): void {
  const r = spawnSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'osapi-bench',
    '-f',
    path,
  ]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export interface SshFleet {
  dir: string;
  /** 127.0.0.1 .. 127.0.0.N */
  hosts(n: number): string[];
  /** ssh client config files: `cold` opens a new connection each time, `warm` goes through a ControlMaster. */
  sshConfig: { cold: string; warm: string };
  /** Ansible config files with the same two ssh settings. */
  ansibleConfig: { cold: string; warm: string };
  /** An inventory of the first n hosts. */
  inventory(n: number): string;
  /** Opens a persistent ControlMaster to each of these hosts (the warm case). */
  openMasters(hosts: string[]): Promise<void>;
  stop(): Promise<void>;
}

function sshdConfig(dir: string, port: number, addresses: string[], index: number): string {
  return [
    `Port ${port}`,
    ...addresses.map((a) => `ListenAddress ${a}`),
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, `sshd-${index}.pid`)}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The temp dir is the caller's, not the home dir sshd would check.
    'StrictModes no',
    // 50 connections arrive at once; the default (10:30:100) drops some of them.
    'MaxStartups 200',
    // The login shell's HOME, so it does not read the user's own ~/.bashrc: a
    // heavy one (pyenv, nvm) would add hundreds of ms to every ssh command and
    // flatter OSAPI; a stock one does nothing.
    `SetEnv HOME=${join(dir, 'home')}`,
    'LogLevel INFO',
    '',
  ].join('\n');
}

function sshClientConfig(dir: string, port: number, user: string, warm: boolean): string {
  return [
    'Host *',
    `  Port ${port}`,
    `  User ${user}`,
    `  IdentityFile ${join(dir, 'id')}`,
    '  IdentitiesOnly yes',
    '  BatchMode yes',
    '  StrictHostKeyChecking no',
    '  UserKnownHostsFile /dev/null',
    '  GlobalKnownHostsFile /dev/null',
    '  LogLevel ERROR',
    ...(warm
      ? ['  ControlMaster auto', `  ControlPath ${join(dir, 'cm', '%C')}`, '  ControlPersist 900']
      : ['  ControlMaster no', '  ControlPath none']),
    '',
  ].join('\n');
}

function ansibleConfig(dir: string, sshConfigPath: string, forks: number): string {
  return [
    '[defaults]',
    'host_key_checking = False',
    // No interpreter discovery round trip: the fastest ad-hoc setup we know.
    'interpreter_python = /usr/bin/python3',
    `forks = ${forks}`,
    `home = ${join(dir, 'ansible-home')}`,
    `local_tmp = ${join(dir, 'ansible-local')}`,
    `remote_tmp = ${join(dir, 'ansible-remote')}`,
    'nocolor = True',
    'deprecation_warnings = False',
    '[ssh_connection]',
    // Our ssh config replaces Ansible's own ControlMaster arguments, so cold is cold.
    `ssh_args = -F ${sshConfigPath}`,
    `control_path_dir = ${join(dir, 'ansible-cp')}`,
    'pipelining = True',
    '',
  ].join('\n');
}

/** Starts one sshd -D and resolves once it logs that it listens on all its addresses. */
function startSshd(sshd: string, config: string, addresses: number): Promise<ChildProcess> {
  const child = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    let listening = 0;
    child.stderr?.on('data', (b: Buffer) => {
      // Kept short: after start-up it logs every connection.
      if (log.length < 4000) log += b;
      listening += (b.toString().match(/Server listening on/g) ?? []).length;
      if (listening === addresses) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`sshd exited ${code} before listening:\n${log.trim()}`)),
    );
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout?.on('data', (b) => {
      out += b;
    });
    c.stderr?.on('data', (b) => {
      out += b;
    });
    c.once('error', reject);
    c.once('close', (code) => resolve({ code, out }));
  });
}

export async function startSshFleet(maxHosts: number): Promise<SshFleet> {
  const sshd = which('sshd');
  if (!sshd) throw new Error('sshd not found (Debian package openssh-server)');
  const dir = mkdtempSync(join(tmpdir(), 'osapi-peers-'));
  const children: ChildProcess[] = [];
  const masters = new Set<string>();
  // sshd as root checks for its privilege separation directory.
  const privsep = '/run/sshd';
  const madePrivsep = process.getuid?.() === 0 && !existsSync(privsep);
  const hosts = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
  const cfg = {
    cold: join(dir, 'ssh_config.cold'),
    warm: join(dir, 'ssh_config.warm'),
  };
  const ans = { cold: join(dir, 'ansible.cold.cfg'), warm: join(dir, 'ansible.warm.cfg') };

  const stop = async () => {
    // Masters first: closing them ends their sshd session processes, which
    // outlive the listening sshd otherwise.
    await Promise.all(
      [...masters].map((h) => run('ssh', ['-F', cfg.warm, '-O', 'exit', h]).catch(() => {})),
    );
    masters.clear();
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    if (madePrivsep) rmSync(privsep, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const sub of ['home', 'cm', 'ansible-home', 'ansible-local', 'ansible-cp'])
      mkdirSync(join(dir, sub), { mode: 0o700 });
    if (madePrivsep) mkdirSync(privsep, { mode: 0o755 });
    keygen(join(dir, 'host_key'));
    keygen(join(dir, 'id'));
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')), {
      mode: 0o600,
    });
    const port = await freePort();
    const user = userInfo().username;
    writeFileSync(cfg.cold, sshClientConfig(dir, port, user, false));
    writeFileSync(cfg.warm, sshClientConfig(dir, port, user, true));
    writeFileSync(ans.cold, ansibleConfig(dir, cfg.cold, maxHosts));
    writeFileSync(ans.warm, ansibleConfig(dir, cfg.warm, maxHosts));
    const all = hosts(maxHosts);
    for (let i = 0; i * ADDRESSES_PER_SSHD < all.length; i++) {
      const group = all.slice(i * ADDRESSES_PER_SSHD, (i + 1) * ADDRESSES_PER_SSHD);
      const path = join(dir, `sshd_config.${i}`);
      writeFileSync(path, sshdConfig(dir, port, group, i));
      children.push(await startSshd(sshd, path, group.length));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    dir,
    hosts,
    sshConfig: cfg,
    ansibleConfig: ans,
    inventory(n) {
      const path = join(dir, `inventory.${n}`);
      writeFileSync(path, `[peers]\n${hosts(n).join('\n')}\n`);
      return path;
    },
    async openMasters(list) {
      await Promise.all(
        list
          .filter((h) => !masters.has(h))
          .map(async (h) => {
            const r = await run('ssh', ['-F', cfg.warm, h, 'true']);
            if (r.code !== 0) throw new Error(`ssh ${h} failed (${r.code}): ${r.out.trim()}`);
            masters.add(h);
          }),
      );
    },
    stop,
  };
}
