import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand, commandPolicy } from '../../src/auth/command-policy.js';
import { publishJob, readResponse } from '../../src/job/store.js';
import { signingKeyPath } from '../../src/state/local.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, waitFor } from './helpers.js';

const ROLES = {
  ops: {
    permissions: ['command:execute', 'job:read', 'job:write'],
    commands: { exec: ['systemctl status *', 'echo *'], shell: false },
  },
  viewer: { permissions: ['job:read'] },
  // The roles: a shell `echo *`, an exec `cat /var/log/*`, and a cwd list.
  logs: {
    permissions: ['command:execute', 'job:read', 'job:write'],
    commands: { exec: ['cat /var/log/*', 'echo *'], shell: ['echo *'], cwd: ['/tmp', '/srv/*'] },
  },
};

describe('commandPolicy', () => {
  it('combines roles by union; a role that may run anything lifts the policy', () => {
    expect(commandPolicy(['ops'], ROLES)).toEqual({
      exec: ['systemctl status *', 'echo *'],
      shell: [],
      users: [],
      env: [],
      cwd: [],
    });
    expect(commandPolicy(['ops', 'admin'], ROLES)).toBeNull();
    // A role that cannot run commands adds nothing, and lifts nothing.
    expect(commandPolicy(['ops', 'viewer', 'read'], ROLES)).not.toBeNull();
    expect(commandPolicy(['admin'], ROLES)).toBeNull();
  });

  it('matches `*` as one argument, and nothing else loosely', () => {
    const p = commandPolicy(['ops'], ROLES);
    expect(checkCommand(p, 'exec', 'systemctl', ['status', 'nginx'])).toBeNull();
    // `*` no longer runs across spaces into more arguments (and options).
    expect(checkCommand(p, 'exec', 'systemctl', ['status', 'nginx', '--no-pager'])).toMatch(
      /matches none/,
    );
    expect(checkCommand(p, 'exec', 'systemctl', ['restart', 'nginx'])).toMatch(
      /"systemctl status \*"/,
    );
    expect(checkCommand(p, 'exec', 'xsystemctl', ['status', 'a'])).not.toBeNull();
    expect(checkCommand(p, 'shell', 'echo hi')).toMatch(/allows no shell commands/);
  });
});

let sys: TestSystem;
let dir: string;

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'api.server.security.roles': ROLES } });
  await sys.startAgent('pol-01');
  await sys.waitForAgents(['pol-01']);
  dir = mkdtempSync(join(tmpdir(), 'osapi-policy-'));
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a role with a command policy', () => {
  it('runs what the policy allows', async () => {
    const ops = await sys.token(['ops']);
    const r = await request(
      sys,
      'POST',
      '/node/pol-01/command/exec',
      { command: 'echo', args: ['allowed'] },
      ops,
    );
    expect(r.status).toBe(202);
    expect(r.body.results[0].stdout).toBe('allowed\n');
  });

  it('is refused with 403 naming the rule, before anything runs', async () => {
    const ops = await sys.token(['ops']);
    const file = join(dir, 'touched');
    const exec = await request(
      sys,
      'POST',
      '/node/pol-01/command/exec',
      { command: 'touch', args: [file] },
      ops,
    );
    expect(exec.status).toBe(403);
    expect(exec.body.error).toMatch(/allows exec only for "systemctl status \*", "echo \*"/);
    const shell = await request(
      sys,
      'POST',
      '/node/pol-01/command/shell',
      { command: `touch ${file}` },
      ops,
    );
    expect(shell.status).toBe(403);
    expect(shell.body.error).toMatch(/allows no shell commands/);
    const job = await request(
      sys,
      'POST',
      '/job',
      {
        operation: { type: 'command.shell.execute', data: { command: `touch ${file}` } },
        target_hostname: 'pol-01',
      },
      ops,
    );
    expect(job.status).toBe(403);
    expect(existsSync(file)).toBe(false);
  });

  it('is checked again by the agent, from the signed job', async () => {
    // A job the API signed with a policy that forbids its own command: what a
    // bypass of the API's check would produce.
    const store = await storeFor(sys);
    const file = join(dir, 'agent-refused');
    const job = await publishJob(store, {
      type: 'command.shell.execute',
      data: { command: `touch ${file}`, args: [], timeout: 5 },
      target: { kind: 'host', hostname: 'pol-01' },
      createdBy: 'ops-user',
      startWithinMs: 60_000,
      commandPolicy: { exec: ['echo *'], shell: [] },
    });
    let resp = await readResponse(store, job.id, 'pol-01');
    for (let i = 0; i < 200 && !resp; i++) {
      await new Promise((r) => setTimeout(r, 25));
      resp = await readResponse(store, job.id, 'pol-01');
    }
    expect(resp).toMatchObject({ status: 'failed' });
    expect(resp?.error).toMatch(/refused, not run: .*allows no shell commands/);
    expect(existsSync(file)).toBe(false);
  });
});

// The attacks of the issue "The command policy cannot be talked around", end
// to end: each was allowed before `*` became one argument or word.
describe('a policy that cannot be talked around', () => {
  it('refuses a second command after an allowed shell prefix, with 403 naming the rule', async () => {
    const logs = await sys.token(['logs']);
    const file = join(dir, 'shell-attack');
    for (const command of [
      `echo hi; touch ${file}`,
      `echo $(touch ${file})`,
      `echo \`touch ${file}\``,
      `uptime && touch ${file}`,
      `echo hi\ntouch ${file}`,
    ]) {
      const r = await request(sys, 'POST', '/node/pol-01/command/shell', { command }, logs);
      expect(r.status, command).toBe(403);
      expect(r.body.error).toMatch(
        /allows shell only for "echo \*"; .* matches none \(the line must be a pattern as written/,
      );
    }
    expect(existsSync(file)).toBe(false);
    // The pattern itself still runs.
    const ok = await request(
      sys,
      'POST',
      '/node/pol-01/command/shell',
      { command: 'echo hi' },
      logs,
    );
    expect(ok.status).toBe(202);
    expect(ok.body.results[0].stdout).toBe('hi\n');
  });

  it('refuses an exec path that climbs out of the directory its pattern names', async () => {
    const logs = await sys.token(['logs']);
    for (const path of [
      `/var/log/../..${signingKeyPath(sys.config.state_dir)}`,
      '/var/log/..',
      '/var/log/./syslog',
      '//var/log/syslog',
      '/var/log/apt/history.log',
    ]) {
      const r = await request(
        sys,
        'POST',
        '/node/pol-01/command/exec',
        { command: 'cat', args: [path] },
        logs,
      );
      expect(r.status, path).toBe(403);
      expect(r.body.error).toMatch(/allows exec only for "cat \/var\/log\/\*", "echo \*"/);
      expect(r.body.error).toMatch(/a \* matches characters other than "\/"/);
    }
  });

  it('allows only the cwd a policy lists, and none to a policy without a list', async () => {
    const logs = await sys.token(['logs']);
    const exec = (cwd: string, token: string) =>
      request(
        sys,
        'POST',
        '/node/pol-01/command/exec',
        { command: 'echo', args: ['here'], cwd },
        token,
      );
    const ok = await exec('/tmp', logs);
    expect(ok.status).toBe(202);
    expect(ok.body.results[0].stdout).toBe('here\n');
    for (const cwd of ['/', dir, '/tmp/..', '/srv/../etc', '/srv/a/b']) {
      const r = await exec(cwd, logs);
      expect(r.status, cwd).toBe(403);
      expect(r.body.error).toMatch(/allows cwd "\/tmp", "\/srv\/\*" only; .* matches none/);
    }
    const ops = await exec('/tmp', await sys.token(['ops']));
    expect(ops.status).toBe(403);
    expect(ops.body.error).toMatch(
      /lists no cwd directories, so a command may not set cwd "\/tmp"/,
    );
    // A role without a policy may run anything, anywhere.
    const admin = await exec('/', await sys.token(['admin']));
    expect(admin.status).toBe(202);
  });

  it('is refused by the agent too, from the policy the job was signed with', async () => {
    // Jobs the API would never sign for these policies: what a bypass of its
    // check would produce. Each would leave a file behind if it ran.
    const store = await storeFor(sys);
    const policy = {
      exec: ['touch /var/log/*', 'touch *'],
      shell: ['echo *'],
      users: [],
      env: [],
      cwd: ['/srv/*'],
    };
    const run = async (data: { command: string; args?: string[]; cwd?: string }, p: object) => {
      const job = await publishJob(store, {
        type: data.args ? 'command.exec.execute' : 'command.shell.execute',
        data: { args: [], timeout: 5, ...data },
        target: { kind: 'host', hostname: 'pol-01' },
        createdBy: 'ops-user',
        startWithinMs: 60_000,
        commandPolicy: p as typeof policy,
      });
      return waitFor(
        'the agent to answer',
        async () => (await readResponse(store, job.id, 'pol-01')) ?? undefined,
      );
    };
    const refused = [
      { data: { command: `echo hi; touch ${join(dir, 'a1')}` }, policy, file: 'a1' },
      {
        data: { command: 'touch', args: [`/var/log/../..${join(dir, 'a2')}`] },
        policy,
        file: 'a2',
      },
      { data: { command: 'touch', args: ['a3'], cwd: dir }, policy, file: 'a3' },
      // Signed before `cwd` existed: no cwd at all.
      {
        data: { command: 'touch', args: ['a4'], cwd: dir },
        policy: { exec: ['touch *'], shell: [] },
        file: 'a4',
      },
    ];
    for (const c of refused) {
      const resp = await run(c.data, c.policy);
      expect(resp).toMatchObject({ status: 'failed', data: null, state: 'refused' });
      expect(resp.error).toMatch(/^refused, not run: the command policy of this token's roles /);
      expect(existsSync(join(dir, c.file)), c.file).toBe(false);
    }
    // The same job runs where its signed policy lists the cwd: the check can pass.
    const allowed = await run(
      { command: 'touch', args: ['a5'], cwd: dir },
      { ...policy, cwd: [dir] },
    );
    expect(allowed).toMatchObject({ status: 'completed' });
    expect(existsSync(join(dir, 'a5'))).toBe(true);
  });
});
