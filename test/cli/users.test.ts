// The users' CLI: `--password -` reads the password from standard input and
// a refused one is never written back; the tables of user, group and SSH key
// reads, a row per item of each host and the hosts that failed below.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { groupsTable, sshKeysTable, usersTable } from '../../src/cli/user-output.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs the CLI from its sources with `input` on stdin; no API is reached by these. */
function osapi(args: string[], input = '') {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./src/cli/main.ts').then(async (m) => { process.exitCode = await m.main(process.argv) })",
      'osapi',
      ...args,
    ],
    { cwd: ROOT, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a password on the command line', () => {
  it("'-' reads it from stdin; refused, it is named but never echoed", () => {
    const long = `secret-${'x'.repeat(1100)}`;
    for (const r of [
      osapi(
        ['client', 'node', 'user', 'password', '--name', 'root', '--password', '-'],
        `${long}\n`,
      ),
      osapi(['client', 'node', 'user', 'create', '--name', 'ok', '--password', long]),
    ]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--password: must not have more than 511 characters/);
      expect(r.stderr + r.stdout).not.toContain('secret-');
    }
    // Any other field's value is echoed, as before.
    const fp = osapi([
      'client',
      'node',
      'user',
      'ssh-key',
      'remove',
      '--name',
      'root',
      '--fingerprint',
      'SHA256:x',
    ]);
    expect(fp.stderr).toMatch(/--fingerprint: must be a SHA-256 fingerprint.*\(got "SHA256:x"\)/);
  });
});

describe('tables', () => {
  it('a row per user of each host; LOCKED blank where shadow was unreadable; failures below', () => {
    const out = usersTable({
      job_id: '0190a8b2-0000-7000-8000-000000000001',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          users: [
            {
              name: 'root',
              uid: 0,
              gid: 0,
              home: '/root',
              shell: '/bin/bash',
              groups: [],
              locked: false,
            },
            {
              name: 'ops',
              uid: 1001,
              gid: 1001,
              home: '/home/ops',
              shell: '/bin/sh',
              groups: ['adm', 'sudo'],
            },
          ],
        },
        { hostname: 'h-02', status: 'failed', error: 'user x does not exist on this host' },
      ],
    });
    const lines = out.split('\n');
    expect(lines[0]).toBe('Job ID: 0190a8b2-0000-7000-8000-000000000001');
    expect(out).toMatch(/HOSTNAME.*NAME.*UID.*GID.*HOME.*SHELL.*GROUPS.*LOCKED/);
    expect(out).toMatch(/h-01 +│ root +│ 0 +│ 0 +│ \/root +│ \/bin\/bash +│ +│ false/);
    expect(out).toMatch(/h-01 +│ ops +│ 1001 .*│ adm,sudo +│ +│/);
    expect(out).toMatch(/h-02 +│ failed +│ user x does not exist on this host/);
  });

  it('groups and keys', () => {
    const groups = groupsTable({
      job_id: 'j',
      results: [
        { hostname: 'h-01', status: 'ok', groups: [{ name: 'adm', gid: 4, members: ['a', 'b'] }] },
      ],
    });
    expect(groups).toMatch(/h-01 +│ adm +│ 4 +│ a,b/);
    const keys = sshKeysTable({
      job_id: 'j',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          keys: [{ type: 'ssh-ed25519', fingerprint: 'SHA256:abc', comment: '\u001b[31mred' }],
        },
      ],
    });
    expect(keys).toMatch(/h-01 +│ ssh-ed25519 +│ SHA256:abc/);
    // What an agent sends is escaped before it reaches a terminal.
    expect(keys).not.toContain('\u001b');
  });
});
