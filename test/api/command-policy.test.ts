import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand, commandPolicy } from '../../src/auth/command-policy.js';
import { publishJob, readResponse } from '../../src/job/store.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor } from './helpers.js';

const ROLES = {
  ops: {
    permissions: ['command:execute', 'job:read', 'job:write'],
    commands: { exec: ['systemctl status *', 'echo *'], shell: false },
  },
  viewer: { permissions: ['job:read'] },
};

describe('commandPolicy', () => {
  it('combines roles by union; a role that may run anything lifts the policy', () => {
    expect(commandPolicy(['ops'], ROLES)).toEqual({
      exec: ['systemctl status *', 'echo *'],
      shell: [],
      users: [],
      env: [],
    });
    expect(commandPolicy(['ops', 'admin'], ROLES)).toBeNull();
    // A role that cannot run commands adds nothing, and lifts nothing.
    expect(commandPolicy(['ops', 'viewer', 'read'], ROLES)).not.toBeNull();
    expect(commandPolicy(['admin'], ROLES)).toBeNull();
  });

  it('matches `*` across spaces, and nothing else loosely', () => {
    const p = commandPolicy(['ops'], ROLES);
    expect(checkCommand(p, 'exec', 'systemctl status nginx')).toBeNull();
    expect(checkCommand(p, 'exec', 'systemctl status nginx --no-pager')).toBeNull();
    expect(checkCommand(p, 'exec', 'systemctl restart nginx')).toMatch(/"systemctl status \*"/);
    expect(checkCommand(p, 'exec', 'xsystemctl status a')).not.toBeNull();
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
