// The users', groups' and SSH keys' handlers on this machine (run as root):
// real useradd, usermod, userdel, chpasswd, groupadd, gpasswd and groupdel on
// throwaway `osapitest-<hex>` accounts, checked in /etc/passwd, /etc/group,
// /etc/shadow and the bytes and modes of authorized_keys; the parsers on
// lines good and bad; fingerprints against ssh-keygen's; an agent that is
// not root and a host without the tools played through the handlers' deps.
// Every account made here is removed in afterAll, whatever failed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccountDeps,
  HOST_ACCOUNT_DEPS,
  parseGroupLine,
  parsePasswdLine,
  parseShadowLine,
} from '../../src/agent/handlers/accounts.js';
import { makeGroupCreateHandler } from '../../src/agent/handlers/groups.js';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { makeSshKeyAddHandler } from '../../src/agent/handlers/ssh-keys.js';
import {
  makeUserCreateHandler,
  makeUserDeleteHandler,
  makeUserPasswordHandler,
  makeUserUpdateHandler,
} from '../../src/agent/handlers/users.js';
import { hashPassword } from '../../src/contract/password-hash.js';
import {
  fingerprintOf,
  keyLine,
  parseAuthorizedKeyLine,
  parseAuthorizedKeys,
  parseKeyToAdd,
} from '../../src/job/ssh-keys.js';
import { hostCrypt } from '../support/host-crypt.js';

const ctx = (): HandlerContext => ({
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024 * 1024,
  signal: new AbortController().signal,
});

const tmp = mkdtempSync(join(tmpdir(), 'osapi-users-'));
const made = { users: new Set<string>(), groups: new Set<string>() };
/** A fresh throwaway name, remembered for the cleanup. */
const userName = () => {
  const n = `osapitest-${randomBytes(4).toString('hex')}`;
  made.users.add(n);
  made.groups.add(n); // useradd makes the user's own group
  return n;
};
const groupName = () => {
  const n = `osapitest-${randomBytes(4).toString('hex')}`;
  made.groups.add(n);
  return n;
};

const passwdLine = (name: string) =>
  readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
const groupLine = (name: string) =>
  readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
const shadowField = (name: string) =>
  readFileSync('/etc/shadow', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
    ?.split(':')[1];

/** A new key pair's public line, made by ssh-keygen in the temp dir. */
function newKey(type: 'ed25519' | 'rsa' | 'ecdsa', comment: string): { line: string; fp: string } {
  const file = join(tmp, `key-${randomBytes(4).toString('hex')}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const fp = execFileSync('ssh-keygen', ['-lf', `${file}.pub`])
    .toString()
    .split(' ')[1] as string;
  return { line, fp };
}

const IS_ROOT = process.getuid?.() === 0;

beforeAll(() => {
  if (!IS_ROOT) throw new Error('these tests change accounts: run them as root');
});

afterAll(() => {
  for (const u of made.users) {
    if (passwdLine(u)) {
      try {
        execFileSync('userdel', ['-r', '--', u], { stdio: 'ignore' });
      } catch {
        // Its home may be gone already, or not its own (userdel -r then removes the
        // account but fails): the account is what matters.
        try {
          if (passwdLine(u)) execFileSync('userdel', ['--', u], { stdio: 'ignore' });
        } catch (err) {
          console.error(`could not remove the test user ${u}: ${err}`);
        }
      }
    }
    rmSync(`/home/${u}`, { recursive: true, force: true });
  }
  for (const g of made.groups) {
    if (groupLine(g)) execFileSync('groupdel', ['--', g], { stdio: 'ignore' });
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('account file lines', () => {
  it('reads passwd, group and shadow lines, and skips any line not of its format', () => {
    expect(parsePasswdLine('alice:x:1001:1002:Alice A,,,:/home/alice:/bin/bash')).toEqual({
      name: 'alice',
      uid: 1001,
      gid: 1002,
      home: '/home/alice',
      shell: '/bin/bash',
    });
    for (const bad of [
      'alice:x:1001:1002:/home/alice:/bin/bash', // six fields
      'alice:x:1001:1002::/home/alice:/bin/bash:extra',
      'alice:x:-1:1002::/home/alice:/bin/bash',
      'alice:x:1e3:1002::/home/alice:/bin/bash',
      'alice:x:01001:1002::/home/alice:/bin/bash',
      'alice:x:4294967295:1002::/home/alice:/bin/bash',
      ':x:1001:1002::/home/alice:/bin/bash',
      '+nisuser::::::',
      'al ice:x:1001:1002::/home/alice:/bin/bash',
    ]) {
      expect(parsePasswdLine(bad), bad).toBeNull();
    }
    expect(parseGroupLine('adm:x:4:syslog,alice')).toEqual({
      name: 'adm',
      gid: 4,
      members: ['syslog', 'alice'],
    });
    expect(parseGroupLine('empty:x:100:')).toEqual({ name: 'empty', gid: 100, members: [] });
    expect(parseGroupLine('adm:x:4')).toBeNull();
    expect(parseGroupLine('adm:x:four:alice')).toBeNull();
    expect(parseGroupLine('adm:x:4:al ice')).toBeNull();
    expect(parseShadowLine('alice:!$6$x$y:20000:0:99999:7:::')).toEqual({
      name: 'alice',
      password: '!$6$x$y',
    });
    expect(parseShadowLine('alice:!')).toBeNull();
  });
});

describe('SSH keys', () => {
  it('fingerprints every type as ssh-keygen -l does, and reads options before a key', () => {
    for (const type of ['ed25519', 'rsa', 'ecdsa'] as const) {
      const { line, fp } = newKey(type, `ops-${type}@example`);
      const key = parseKeyToAdd(line);
      expect(key?.fingerprint, type).toBe(fp);
      expect(key?.comment).toBe(`ops-${type}@example`);
      expect(keyLine(key as NonNullable<typeof key>)).toBe(line);
      const withOptions = parseAuthorizedKeyLine(
        `from="10.0.0.0/8,192.0.2.1",command="echo \\"hi there\\"",no-pty ${line}`,
      );
      expect(withOptions).toMatchObject({
        fingerprint: fp,
        options: 'from="10.0.0.0/8,192.0.2.1",command="echo \\"hi there\\"",no-pty',
      });
    }
  });

  it('lists a file: comments, blanks and lines sshd would not take are left out', () => {
    const a = newKey('ed25519', 'a');
    const b = newKey('ed25519', '');
    const text = `# managed\n\n${a.line}\r\nnot a key at all\nssh-rsa ${a.line.split(' ')[1]} mislabelled\nno-pty ${b.line}\n`;
    expect(parseAuthorizedKeys(text).map((k) => [k.type, k.fingerprint, k.comment])).toEqual([
      ['ssh-ed25519', a.fp, 'a'],
      ['ssh-ed25519', b.fp, ''],
    ]);
  });

  it('takes a key to add only as one plain key line', () => {
    const { line } = newKey('ed25519', 'ops@example');
    const [type, b64] = line.split(' ') as [string, string];
    for (const bad of [
      `${line}\nssh-ed25519 ${b64} second`,
      `${line}\n`,
      ` ${line}`,
      `no-pty ${line}`,
      `ssh-rsa ${b64} ops`, // the blob says ssh-ed25519
      `ssh-dss ${b64}`,
      `${type} ${b64.slice(0, -4)} cut`,
      `${type} ${b64}=== pad`,
      `${type} not*base64`,
      `${type} ${b64} tab\there`,
      `${type} ${b64} ${'c'.repeat(1025)}`,
      type,
    ]) {
      expect(parseKeyToAdd(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(parseKeyToAdd(`${type} ${b64}`)?.comment).toBe('');
    expect(fingerprintOf(Buffer.from(b64, 'base64'))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('users (real tools, throwaway accounts)', () => {
  it('creates a user once: its passwd line and home; the same again is no change; other attributes fail', async () => {
    const name = userName();
    const group = groupName();
    execFileSync('groupadd', ['--', group]);
    const data = { name, shell: '/bin/bash', groups: [group] };
    const out = await runJob('user.create', data, ctx());
    expect(out, JSON.stringify(out)).toMatchObject({
      status: 'completed',
      data: { name, changed: true },
    });
    expect(passwdLine(name)).toMatch(new RegExp(`^${name}:x:\\d+:\\d+::/home/${name}:/bin/bash$`));
    expect(statSync(`/home/${name}`).isDirectory()).toBe(true);
    expect(groupLine(group)).toBe(`${groupLine(group)?.split(':').slice(0, 3).join(':')}:${name}`);
    expect(shadowField(name)).toBe('!'); // no password yet: locked

    const again = await runJob('user.create', data, ctx());
    expect(again).toMatchObject({ status: 'completed', data: { name, changed: false } });

    const other = await runJob(
      'user.create',
      { name, shell: '/bin/sh', groups: [], uid: 4242 },
      ctx(),
    );
    expect(other.status).toBe('failed');
    expect(other.error).toMatch(/uid \d+ \(asked 4242\)/);
    expect(other.error).toMatch(/shell \/bin\/bash \(asked \/bin\/sh\)/);
    expect(other.error).toMatch(new RegExp(`groups ${group} \\(asked none\\)`));
    expect(other.error).toMatch(/PUT \/node\/<target>\/user\//);

    const listed = await runJob('user.get', { name }, ctx());
    expect(listed).toMatchObject({
      status: 'completed',
      data: { users: [{ name, shell: '/bin/bash', groups: [group], locked: true }] },
    });
    const all = await runJob('user.list', {}, ctx());
    const users = (all.data as { users: Array<{ name: string; uid: number }> }).users;
    expect(users.find((u) => u.name === 'root')).toMatchObject({ uid: 0, groups: [] });
    expect(users.some((u) => u.name === name)).toBe(true);
  });

  it('creates a system user with a password: no home made, the hash in /etc/shadow is that of the password', async () => {
    const name = userName();
    const out = await runJob(
      'user.create',
      { name, system: true, shell: '/usr/sbin/nologin', password_hash: hashPassword('pw-1') },
      ctx(),
    );
    expect(out, JSON.stringify(out)).toMatchObject({
      status: 'completed',
      data: { changed: true },
    });
    const line = passwdLine(name)?.split(':') ?? [];
    expect(Number(line[2])).toBeLessThan(1000);
    expect(existsSync(line[5] ?? '/')).toBe(false);
    const field = shadowField(name) ?? '';
    expect(hostCrypt('pw-1', field)).toBe(field);
  });

  it('refuses what it cannot do, before running anything', async () => {
    const name = userName();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name, groups: ['osapitest-nosuchgroup'] }, /no group named osapitest-nosuchgroup/],
      [{ name, gid: 2147483000 }, /no group has gid 2147483000/],
      [{ name, shell: '/usr/bin/tmux-not-there' }, /not listed in \/etc\/shells/],
      [{ name, shell: '/nonexistent/nologin' }, /not an executable file/],
    ];
    for (const [data, why] of cases) {
      const out = await runJob('user.create', data, ctx());
      expect(out.status).toBe('failed');
      expect(out.error).toMatch(why);
    }
    expect(passwdLine(name)).toBeUndefined();
    const bad = await runJob('user.create', { name: '-o' }, ctx());
    expect(bad.error).toMatch(/invalid job data: name must be 1 to 32/);
  });

  it('updates shell, groups and lock together; the same again is no change; a failed move leaves the user as it was', async () => {
    const name = userName();
    const g1 = groupName();
    const g2 = groupName();
    for (const g of [g1, g2]) execFileSync('groupadd', ['--', g]);
    await runJob('user.create', { name, password_hash: hashPassword('pw') }, ctx());
    const data = { name, shell: '/bin/bash', groups: [g1, g2], lock: true };
    const out = await runJob('user.update', data, ctx());
    expect(out, JSON.stringify(out)).toMatchObject({
      status: 'completed',
      data: { changed: true },
    });
    expect(passwdLine(name)).toMatch(/:\/bin\/bash$/);
    expect(groupLine(g1)).toMatch(new RegExp(`:${name}$`));
    expect(groupLine(g2)).toMatch(new RegExp(`:${name}$`));
    expect(shadowField(name)).toMatch(/^!\$6\$/);
    const again = await runJob('user.update', { ...data, groups: [g2, g1] }, ctx());
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });

    const unlocked = await runJob('user.update', { name, lock: false, groups: [] }, ctx());
    expect(unlocked).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(shadowField(name)).toMatch(/^\$6\$/);
    expect(groupLine(g1)).toMatch(/:$/);

    // The home moves, with its files.
    writeFileSync(`/home/${name}/note`, 'kept');
    const home = join(tmp, `home-${name}`);
    const moved = await runJob('user.update', { name, home }, ctx());
    expect(moved, JSON.stringify(moved)).toMatchObject({
      status: 'completed',
      data: { changed: true },
    });
    expect(readFileSync(join(home, 'note'), 'utf8')).toBe('kept');
    expect(passwdLine(name)).toContain(`:${home}:`);

    // usermod would write the path before refusing an existing directory: refused first.
    const taken = join(tmp, `taken-${name}`);
    mkdirSync(taken);
    const before = passwdLine(name);
    const refused = await runJob('user.update', { name, home: taken }, ctx());
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatch(/already exists/);
    expect(passwdLine(name)).toBe(before);

    const unknown = await runJob('user.update', { name, groups: ['osapitest-nosuch'] }, ctx());
    expect(unknown.error).toMatch(/no group named osapitest-nosuch/);
    const nobody = await runJob('user.update', { name: 'osapitest-nosuchuser', lock: true }, ctx());
    expect(nobody.error).toBe('user osapitest-nosuchuser does not exist on this host');
  });

  it('will not unlock a user who has no password', async () => {
    const name = userName();
    await runJob('user.create', { name }, ctx());
    const out = await runJob('user.update', { name, lock: false }, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/no password to unlock/);
    expect(shadowField(name)).toBe('!');
  });

  it('sets a password by its hash: /etc/shadow holds that hash; a missing user fails', async () => {
    const name = userName();
    await runJob('user.create', { name }, ctx());
    const hash = hashPassword('a new password');
    const out = await runJob('user.password.set', { name, password_hash: hash }, ctx());
    expect(out).toMatchObject({ status: 'completed', data: { name, changed: true } });
    expect(shadowField(name)).toBe(hash);
    const missing = await runJob(
      'user.password.set',
      { name: 'osapitest-nosuchuser', password_hash: hash },
      ctx(),
    );
    expect(missing.error).toMatch(/does not exist/);
    // Only a hash as the API makes one is taken: nothing else reaches chpasswd.
    const raw = await runJob('user.password.set', { name, password_hash: 'plain' }, ctx());
    expect(raw.error).toMatch(/invalid job data: password_hash/);
    const colon = await runJob(
      'user.password.set',
      { name, password_hash: `${hash.slice(0, -1)}:` },
      ctx(),
    );
    expect(colon.status).toBe('failed');
    expect(shadowField(name)).toBe(hash);
  });

  it('deletes a user and keeps its home; absent is no change; root and the agent itself never', async () => {
    const name = userName();
    await runJob('user.create', { name }, ctx());
    const out = await runJob('user.delete', { name }, ctx());
    expect(out).toMatchObject({ status: 'completed', data: { name, changed: true } });
    expect(passwdLine(name)).toBeUndefined();
    expect(existsSync(`/home/${name}`)).toBe(true);
    const again = await runJob('user.delete', { name }, ctx());
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });
    const root = await runJob('user.delete', { name: 'root' }, ctx());
    expect(root.status).toBe('failed');
    expect(root.error).toMatch(/uid 0/);
    expect(passwdLine('root')).toBeDefined();
  });
});

describe('an agent that is not root, a host without the tools', () => {
  const notRoot: AccountDeps = { ...HOST_ACCOUNT_DEPS, runsAsRoot: () => false };
  const noTools: AccountDeps = {
    ...HOST_ACCOUNT_DEPS,
    tool: async (tool) => ({ kind: 'missing', tool }),
  };

  it('a change needs root, but one already made is answered without it', async () => {
    const name = userName();
    const create = makeUserCreateHandler(notRoot);
    const out = await create({ name }, ctx());
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/creating user osapitest-\w+ needs root.*docs\/operations.md/);
    expect(passwdLine(name)).toBeUndefined();
    expect(await create({ name: 'root' }, ctx())).toMatchObject({
      status: 'completed',
      data: { changed: false },
    });
    const update = await makeUserUpdateHandler(notRoot)({ name: 'root', shell: '/bin/sh' }, ctx());
    expect(update.error).toMatch(/changing user root needs root/);
    const pw = await makeUserPasswordHandler(notRoot)(
      { name: 'root', password_hash: hashPassword('x') },
      ctx(),
    );
    expect(pw.error).toMatch(/needs root/);
    const del = await makeUserDeleteHandler(notRoot)({ name: 'nobody' }, ctx());
    expect(del.error).toMatch(/deleting user nobody needs root/);
    const group = await makeGroupCreateHandler(notRoot)({ name: groupName() }, ctx());
    expect(group.error).toMatch(/needs root/);
  });

  it('without useradd or groupadd the host is skipped, saying which tool', async () => {
    const out = await makeUserCreateHandler(noTools)({ name: userName() }, ctx());
    expect(out).toMatchObject({ status: 'failed', state: 'skipped' });
    expect(out.error).toMatch(/useradd is not installed/);
    const g = await makeGroupCreateHandler(noTools)({ name: groupName() }, ctx());
    expect(g).toMatchObject({ state: 'skipped' });
    expect(g.error).toMatch(/groupadd is not installed/);
  });
});

describe('authorized_keys (real files in a throwaway home)', () => {
  let name: string;
  let uid: number;
  let gid: number;
  let home: string;
  beforeAll(async () => {
    name = userName();
    await runJob('user.create', { name }, ctx());
    const f = passwdLine(name)?.split(':') ?? [];
    uid = Number(f[2]);
    gid = Number(f[3]);
    home = f[5] as string;
  });
  const file = () => join(home, '.ssh', 'authorized_keys');

  it('adds a key: .ssh 0700 and the file 0600, the user owning both; the same key again is no change', async () => {
    expect(existsSync(join(home, '.ssh'))).toBe(false);
    const a = newKey('ed25519', 'first@example');
    const out = await runJob('user.sshkey.add', { name, key: a.line }, ctx());
    expect(out, JSON.stringify(out)).toMatchObject({
      status: 'completed',
      data: { changed: true, fingerprint: a.fp },
    });
    const dir = statSync(join(home, '.ssh'));
    expect([dir.mode & 0o7777, dir.uid, dir.gid]).toEqual([0o700, uid, gid]);
    const st = statSync(file());
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o600, uid, gid]);
    expect(readFileSync(file(), 'utf8')).toBe(`${a.line}\n`);
    const again = await runJob('user.sshkey.add', { name, key: a.line }, ctx());
    expect(again).toMatchObject({ status: 'completed', data: { changed: false } });

    // Lines already there stay byte for byte, an unterminated last one is ended.
    const b = newKey('rsa', 'second@example');
    const kept = `# by hand\nno-pty ${a.line}`;
    writeFileSync(file(), kept);
    chmodSync(file(), 0o640);
    const added = await runJob('user.sshkey.add', { name, key: b.line }, ctx());
    expect(added).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(readFileSync(file(), 'utf8')).toBe(`${kept}\n${b.line}\n`);
    expect(statSync(file()).mode & 0o7777).toBe(0o640); // its mode kept
    const dup = await runJob('user.sshkey.add', { name, key: a.line }, ctx());
    expect(dup).toMatchObject({ data: { changed: false } }); // found behind its options

    const listed = await runJob('user.sshkey.list', { name }, ctx());
    expect(listed).toMatchObject({
      status: 'completed',
      data: {
        keys: [
          { type: 'ssh-ed25519', fingerprint: a.fp, comment: 'first@example' },
          { type: 'ssh-rsa', fingerprint: b.fp, comment: 'second@example' },
        ],
      },
    });
    // ssh-keygen reads the same file the same way.
    const byKeygen = execFileSync('ssh-keygen', ['-lf', file()])
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1]);
    expect(byKeygen).toEqual([a.fp, b.fp]);

    const removed = await runJob('user.sshkey.remove', { name, fingerprint: a.fp }, ctx());
    expect(removed).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(readFileSync(file(), 'utf8')).toBe(`# by hand\n${b.line}\n`);
    const gone = await runJob('user.sshkey.remove', { name, fingerprint: a.fp }, ctx());
    expect(gone).toMatchObject({ status: 'completed', data: { changed: false } });
  });

  it('never follows a link for .ssh or authorized_keys, and refuses a file of another owner', async () => {
    const key = newKey('ed25519', 'x').line;
    const target = join(tmp, `target-${name}`);
    writeFileSync(target, 'precious\n');

    rmSync(file());
    symlinkSync(target, file());
    for (const run of [
      () => runJob('user.sshkey.add', { name, key }, ctx()),
      () => runJob('user.sshkey.list', { name }, ctx()),
    ]) {
      const out = await run();
      expect(out.status).toBe('failed');
      expect(out.error).toMatch(/authorized_keys is a symbolic link/);
    }
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(file()).isSymbolicLink()).toBe(true);
    rmSync(file());

    const sshDir = join(home, '.ssh');
    rmSync(sshDir, { recursive: true });
    const elsewhere = join(tmp, `elsewhere-${name}`);
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, sshDir);
    const out = await runJob('user.sshkey.add', { name, key }, ctx());
    expect(out.error).toMatch(/\.ssh is a symbolic link/);
    expect(existsSync(join(elsewhere, 'authorized_keys'))).toBe(false);
    rmSync(sshDir);

    mkdirSync(sshDir, { mode: 0o700 });
    chownSync(sshDir, uid, gid);
    writeFileSync(file(), '');
    chownSync(file(), 65534, 65534);
    const foreign = await runJob('user.sshkey.add', { name, key }, ctx());
    expect(foreign.error).toMatch(/belongs to uid 65534/);
    expect(readFileSync(file(), 'utf8')).toBe('');

    // Root's is not the user's either (sshd would take it; the agent writes only the user's own).
    chownSync(file(), 0, 0);
    for (const run of [
      () => runJob('user.sshkey.add', { name, key }, ctx()),
      () => runJob('user.sshkey.list', { name }, ctx()),
    ]) {
      expect((await run()).error).toMatch(
        new RegExp(`authorized_keys belongs to uid 0, not to ${name}`),
      );
    }
    expect(readFileSync(file(), 'utf8')).toBe('');
    chownSync(file(), uid, gid);

    // A second hard link: the same file under another name (another account's keys, say).
    const other = join(tmp, `link-${name}`);
    linkSync(file(), other);
    const linked = await runJob('user.sshkey.add', { name, key }, ctx());
    expect(linked.error).toMatch(/authorized_keys has 2 hard links/);
    expect(readFileSync(other, 'utf8')).toBe('');
    rmSync(other);
    const own = await runJob('user.sshkey.add', { name, key }, ctx());
    expect(own).toMatchObject({ status: 'completed', data: { changed: true } });
  });

  it("refuses a home that is not the user's own: another user's directory, or root's", async () => {
    const owner = userName();
    await runJob('user.create', { name: owner }, ctx());
    const ownerUid = Number(passwdLine(owner)?.split(':')[2]);
    const key = newKey('ed25519', 'h').line;
    // A directory the other user owns, given to this one as its home; then one root owns (as /root).
    const theirs = join(tmp, `home-of-${owner}`);
    mkdirSync(theirs);
    chownSync(theirs, ownerUid, ownerUid);
    const rootOwned = join(tmp, 'home-of-root');
    mkdirSync(rootOwned);
    for (const [home, by] of [
      [theirs, ownerUid],
      [rootOwned, 0],
    ] as const) {
      const guest = userName();
      const made = await runJob('user.create', { name: guest, home }, ctx());
      expect(made, JSON.stringify(made)).toMatchObject({ status: 'completed' });
      expect(statSync(home).uid).toBe(by); // useradd left an existing home as it was
      for (const run of [
        () => runJob('user.sshkey.add', { name: guest, key }, ctx()),
        () => runJob('user.sshkey.list', { name: guest }, ctx()),
      ]) {
        const out = await run();
        expect(out.status).toBe('failed');
        expect(out.error).toMatch(
          new RegExp(`^the home ${home} belongs to uid ${by}, not to ${guest}`),
        );
      }
      expect(existsSync(join(home, '.ssh'))).toBe(false);
    }
  });

  it('a user without a home has no keys, and none can be added', async () => {
    const listed = await runJob('user.sshkey.list', { name: 'nobody' }, ctx());
    expect(listed).toMatchObject({ status: 'completed', data: { keys: [] } });
    const add = await makeSshKeyAddHandler()(
      { name: 'nobody', key: newKey('ed25519', 'n').line },
      ctx(),
    );
    expect(add.error).toMatch(/home \/nonexistent of nobody does not exist/);
  });
});

describe('groups (real tools, throwaway groups)', () => {
  it('creates, sets members, and deletes; each again is no change', async () => {
    const name = groupName();
    const u1 = userName();
    const u2 = userName();
    await runJob('user.create', { name: u1 }, ctx());
    await runJob('user.create', { name: u2 }, ctx());

    const created = await runJob('group.create', { name, gid: 2147480001 }, ctx());
    expect(created).toMatchObject({ status: 'completed', data: { name, changed: true } });
    expect(groupLine(name)).toBe(`${name}:x:2147480001:`);
    expect(await runJob('group.create', { name }, ctx())).toMatchObject({
      data: { changed: false },
    });
    const otherGid = await runJob('group.create', { name, gid: 2147480002 }, ctx());
    expect(otherGid.error).toMatch(/already exists with gid 2147480001 \(asked 2147480002\)/);
    const taken = await runJob('group.create', { name: groupName(), gid: 2147480001 }, ctx());
    expect(taken.error).toMatch(new RegExp(`gid 2147480001 is group ${name}'s`));

    const members = await runJob('group.update', { name, members: [u1, u2] }, ctx());
    expect(members).toMatchObject({ status: 'completed', data: { changed: true } });
    expect(groupLine(name)).toBe(`${name}:x:2147480001:${u1},${u2}`);
    expect(await runJob('group.update', { name, members: [u2, u1] }, ctx())).toMatchObject({
      data: { changed: false },
    });
    const unknown = await runJob(
      'group.update',
      { name, members: [u1, 'osapitest-nobody'] },
      ctx(),
    );
    expect(unknown.error).toMatch(/no user named osapitest-nobody/);
    expect(await runJob('group.get', { name }, ctx())).toMatchObject({
      status: 'completed',
      data: { groups: [{ name, gid: 2147480001, members: [u1, u2] }] },
    });
    expect(await runJob('group.update', { name, members: [] }, ctx())).toMatchObject({
      data: { changed: true },
    });
    expect(groupLine(name)).toBe(`${name}:x:2147480001:`);

    const primary = await runJob('group.delete', { name: u1 }, ctx());
    expect(primary.error).toMatch(new RegExp(`primary group of ${u1}`));
    expect(await runJob('group.delete', { name: 'root' }, ctx())).toMatchObject({
      status: 'failed',
    });
    expect(await runJob('group.delete', { name }, ctx())).toMatchObject({
      data: { changed: true },
    });
    expect(groupLine(name)).toBeUndefined();
    expect(await runJob('group.delete', { name }, ctx())).toMatchObject({
      data: { changed: false },
    });
    expect((await runJob('group.get', { name }, ctx())).error).toMatch(/does not exist/);
    const all = await runJob('group.list', {}, ctx());
    expect((all.data as { groups: Array<{ name: string }> }).groups[0]).toMatchObject({
      name: 'root',
      gid: 0,
    });
  });
});
