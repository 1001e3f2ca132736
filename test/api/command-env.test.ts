// Per-command environment, stdin and user, end to end: API, NATS, agents and
// the process runner. The refusals too: bad input (400 naming the field), the
// command policy (403 naming the rule, and the agent's own check of the signed
// job) and an agent that is not root asked to run as someone else.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandPolicy } from '../../src/auth/command-policy.js';
import { ENV_MAX_VARS, STDIN_MAX_CHARS } from '../../src/contract/command.js';
import { publishJob, readResponse } from '../../src/job/store.js';
import { jobPublicKeyPath } from '../../src/state/local.js';
import { runsAsNobody } from '../support/nobody.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, type TempDir, tempDir, waitFor } from './helpers.js';

const isRoot = process.getuid?.() === 0;
// Where a non-root agent runs: a separate process as `nobody` when the tests run as
// root, else the in-process agents, which are not root themselves.
const NON_ROOT_AGENT = runsAsNobody ? 'env-nobody' : 'env-01';

const ROLES = {
  // May run anything, as nobody else and with no env of its own.
  plain: {
    permissions: ['command:execute', 'job:read', 'job:write'],
    commands: { exec: true, shell: true },
  },
  ops: {
    permissions: ['command:execute', 'job:read', 'job:write'],
    commands: { exec: true, shell: true, users: ['nobody', 'www-*'], env: ['LANG', 'APP_*'] },
  },
};

let sys: TestSystem;
let admin: string;
let dir: TempDir;
let nobodyAgent: ChildProcess | undefined;

/** Starts an agent as `nobody`, in its own process, on the test system's NATS. */
async function startNobodyAgent(): Promise<ChildProcess> {
  const home = tempDir('env-nobody');
  chmodSync(home.path, 0o777);
  const script = join(home.path, 'agent.mts');
  writeFileSync(
    script,
    `import { main } from ${JSON.stringify(resolve('src/cli/main.ts'))};
process.exitCode = await main(['node', 'osapi', 'agent', 'start']);`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: process.cwd(),
    uid: 65534,
    gid: 65534,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home.path,
      OSAPI_STATE_DIR: home.path,
      OSAPI_AGENT_HOSTNAME: 'env-nobody',
      OSAPI_AGENT_NATS_SERVERS: sys.nats.url,
      OSAPI_AGENT_NATS_NAMESPACE: sys.config.agent.nats.namespace,
      OSAPI_AGENT_SECURITY_JOB_VERIFY_KEY: readFileSync(
        jobPublicKeyPath(sys.config.state_dir),
        'utf8',
      ),
    },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`nobody agent exited ${code}: ${stderr}`);
  });
  child.once('close', () => home.remove());
  return child;
}

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'api.server.security.roles': ROLES } });
  await sys.startAgent('env-01');
  await sys.startAgent('env-02');
  if (runsAsNobody) {
    nobodyAgent = await startNobodyAgent();
    // Loading the CLI from source through tsx takes seconds on a busy machine.
    const seen = await sys.api.registry.waitFor(
      (v) => v.agents().some((a) => a.ready && a.info.hostname === 'env-nobody'),
      60_000,
    );
    if (!seen) throw new Error('the agent running as nobody never registered');
  }
  await sys.waitForAgents(runsAsNobody ? ['env-01', 'env-02', 'env-nobody'] : ['env-01', 'env-02']);
  admin = await sys.token();
  dir = tempDir('cmd-env');
  chmodSync(dir.path, 0o777);
  // Part of the agents' own environment (they run in this process): an
  // ordinary variable, and one of the agent's own OSAPI_* settings.
  process.env.TEST_AGENT_VAR = 'from-agent';
  process.env.OSAPI_TEST_AGENT_SECRET = 'agent-only';
}, 90_000);

afterAll(async () => {
  delete process.env.TEST_AGENT_VAR;
  delete process.env.OSAPI_TEST_AGENT_SECRET;
  if (nobodyAgent && nobodyAgent.exitCode === null) {
    const closed = new Promise((r) => nobodyAgent?.once('close', r));
    nobodyAgent.kill('SIGTERM');
    await closed;
  }
  await sys?.stop();
  dir?.remove();
});

const exec = (target: string, body: object, token = admin) =>
  request(sys, 'POST', `/node/${target}/command/exec`, body, token);
const shell = (target: string, body: object, token = admin) =>
  request(sys, 'POST', `/node/${target}/command/shell`, body, token);
const jobAdd = (type: string, data: object, target: string, token = admin) =>
  request(sys, 'POST', '/job', { operation: { type, data }, target_hostname: target }, token);

/** A result per host, in host order, only for the in-process agents. */
function byHost(body: { results: Array<{ hostname: string }> }) {
  return Object.fromEntries(body.results.map((r) => [r.hostname, r]));
}

describe('env', () => {
  it('sets variables over the agent environment on every host, taken literally', async () => {
    const r = await shell('env-01', {
      command: 'printf "%s|%s|%s" "$GREETING" "$TEST_AGENT_VAR" "$QUOTED"',
      env: { GREETING: 'hello world', QUOTED: `it's $(not run) \`either\`` },
    });
    expect(r.status).toBe(202);
    expect(r.body.results[0]).toMatchObject({
      hostname: 'env-01',
      status: 'completed',
      stdout: "hello world|from-agent|it's $(not run) `either`",
    });
  });

  it('replaces a variable of the agent, in exec mode too', async () => {
    const r = await request(
      sys,
      'POST',
      '/node/_all/command/exec',
      {
        command: 'printenv',
        args: ['TEST_AGENT_VAR'],
        env: { TEST_AGENT_VAR: 'mine' },
      },
      admin,
    );
    expect(r.status).toBe(202);
    const hosts = byHost(r.body);
    for (const h of ['env-01', 'env-02']) expect(hosts[h]).toMatchObject({ stdout: 'mine\n' });
  });

  it("never passes the agent's own OSAPI_* settings to a command, with or without env", async () => {
    for (const body of [{ command: 'env' }, { command: 'env', env: { OTHER: '1' } }]) {
      const r = await shell('env-01', body);
      expect(r.status).toBe(202);
      expect(r.body.results[0].stdout).toContain('TEST_AGENT_VAR=from-agent');
      expect(r.body.results[0].stdout).not.toContain('OSAPI_TEST_AGENT_SECRET');
      expect(r.body.results[0].stdout).not.toContain('agent-only');
    }
  });

  it('is kept in the job, where GET /job shows it', async () => {
    const r = await jobAdd(
      'command.exec.execute',
      { command: 'printenv', args: ['X_JOB'], env: { X_JOB: 'via-job' } },
      'env-02',
    );
    expect(r.status).toBe(201);
    const detail = await waitFor('the job to complete', async () => {
      const d = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin);
      return d.body.status === 'completed' ? d.body : undefined;
    });
    expect(detail.operation.data.env).toEqual({ X_JOB: 'via-job' });
    expect(detail.result.stdout).toBe('via-job\n');
  });
});

describe('stdin', () => {
  it('is written to the command, then closed', async () => {
    const r = await exec('env-01', { command: 'cat', stdin: 'line 1\nline 2\n' });
    expect(r.status).toBe(202);
    expect(r.body.results[0]).toMatchObject({ stdout: 'line 1\nline 2\n', exit_code: 0 });
  });

  it('reaches the command as UTF-8, and up to the cap whole', async () => {
    const r = await shell('env-01', { command: 'wc -c', stdin: 'é€'.repeat(10) });
    expect(r.body.results[0].stdout.trim()).toBe('50');
    const big = await shell('env-01', { command: 'wc -c', stdin: 'x'.repeat(STDIN_MAX_CHARS) });
    expect(big.status).toBe(202);
    expect(big.body.results[0].stdout.trim()).toBe(String(STDIN_MAX_CHARS));
  });

  it('is /dev/null when not given: a reader does not wait for input', async () => {
    const r = await exec('env-01', { command: 'cat', timeout: 5 });
    expect(r.body.results[0]).toMatchObject({ stdout: '', exit_code: 0, status: 'completed' });
  });

  it('works in a job made with POST /job', async () => {
    const r = await jobAdd(
      'command.shell.execute',
      { command: 'tr a-z A-Z', stdin: 'shout' },
      'env-02',
    );
    expect(r.status).toBe(201);
    const detail = await waitFor('the job to complete', async () => {
      const d = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin);
      return d.body.status === 'completed' ? d.body : undefined;
    });
    expect(detail.result.stdout).toBe('SHOUT');
  });
});

describe('user', () => {
  it.runIf(isRoot)(
    'runs as that user, with its identity and a reset environment, from a root agent',
    async () => {
      const r = await shell('env-01', {
        command: 'id -un; printf "%s|%s|%s|%s" "$HOME" "$USER" "$TEST_AGENT_VAR" "$APP_MODE"',
        user: 'nobody',
        env: { APP_MODE: 'test' },
      });
      expect(r.status).toBe(202);
      const nobodyHome = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('nobody:'))
        ?.split(':')[5];
      // The agent's own variables stay with the agent; the request's env still applies.
      expect(r.body.results[0]).toMatchObject({
        status: 'completed',
        stdout: `nobody\n${nobodyHome}|nobody||test`,
      });
    },
  );

  it('fails on a host without that user, saying so, running nothing', async () => {
    const marker = join(dir.path, 'unknown-user');
    const r = await exec('env-01', {
      command: 'touch',
      args: [marker],
      user: 'osapi-no-such-user',
    });
    expect(r.status).toBe(202);
    expect(r.body.results[0]).toMatchObject({
      status: 'failed',
      state: 'failed',
      exit_code: 125,
      changed: false,
      error: 'cannot run as "osapi-no-such-user": no such user in /etc/passwd on this host',
    });
    expect(existsSync(marker)).toBe(false);
  });

  it.runIf(!isRoot || runsAsNobody)(
    'is refused by an agent that is not root, running nothing',
    async () => {
      const marker = join(dir.path, 'non-root');
      const r = await exec(NON_ROOT_AGENT, { command: 'touch', args: [marker], user: 'root' });
      expect(r.status).toBe(202);
      expect(r.body.results[0]).toMatchObject({
        hostname: NON_ROOT_AGENT,
        status: 'failed',
        state: 'refused',
      });
      expect(r.body.results[0].error).toMatch(
        /^refused, not run: cannot run as "root": this agent runs as .*uid \d+\)?, not root, so it runs commands only as itself$/,
      );
      expect(existsSync(marker)).toBe(false);
    },
  );

  it.runIf(runsAsNobody)('runs as its own user on an agent that is not root', async () => {
    const r = await exec('env-nobody', { command: 'id', args: ['-un'], user: 'nobody' });
    expect(r.body.results[0]).toMatchObject({ status: 'completed', stdout: 'nobody\n' });
  });
});

describe('bad input is a 400 naming the field, and runs nothing', () => {
  const marker = () => join(dir.path, 'bad-input');
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'env name starting with a digit',
      { env: { '1A': 'x' } },
      /env\.1A is not a valid name: must be letters, digits and _/,
    ],
    ['env name with a dash', { env: { 'A-B': 'x' } }, /env\.A-B is not a valid name/],
    ['env name empty', { env: { '': 'x' } }, /env.* is not a valid name/],
    [
      'env name too long',
      { env: { [`A${'B'.repeat(256)}`]: 'x' } },
      /is not a valid name: must NOT have more than 256 characters/,
    ],
    ['env value with NUL', { env: { A: 'a\u0000b' } }, /env\.A must not contain NUL bytes/],
    ['env value a number', { env: { A: 1 } }, /env\.A must be string/],
    [
      'env value too long',
      { env: { A: 'x'.repeat(32769) } },
      /env\.A must NOT have more than 32768 characters/,
    ],
    ['env an array', { env: ['A=1'] }, /env must be object/],
    ['env a string', { env: 'A=1' }, /env must be object/],
    [
      'env with too many names',
      {
        env: Object.fromEntries(Array.from({ length: ENV_MAX_VARS + 1 }, (_, i) => [`V${i}`, ''])),
      },
      new RegExp(`env must NOT have more than ${ENV_MAX_VARS} properties`),
    ],
    [
      'stdin too long',
      { stdin: 'x'.repeat(STDIN_MAX_CHARS + 1) },
      new RegExp(`stdin must NOT have more than ${STDIN_MAX_CHARS} characters`),
    ],
    ['stdin not a string', { stdin: ['a'] }, /stdin must be string/],
    ['user empty', { user: '' }, /user must not be empty/],
    ['user with a shell word', { user: 'root;id' }, /user must be a login name/],
    ['user starting with a digit', { user: '0day' }, /user must be a login name/],
    ['user too long', { user: 'u'.repeat(33) }, /user must NOT have more than 32 characters/],
    ['user a number', { user: 0 }, /user must be string/],
  ];
  it.each(cases)('%s', async (_name, extra, message) => {
    for (const send of [
      () => shell('env-01', { command: `touch ${marker()}`, ...extra }),
      () => exec('env-01', { command: 'touch', args: [marker()], ...extra }),
    ]) {
      const r = await send();
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ reason: 'invalid_request' });
      expect(r.body.error).toMatch(message);
    }
    expect(existsSync(marker())).toBe(false);
  });

  it('names the field in a POST /job body too', async () => {
    const r = await jobAdd(
      'command.shell.execute',
      { command: `touch ${marker()}`, env: { 'bad-name': 'x' }, user: '0day' },
      'env-01',
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/operation\.data\.env\.bad-name must be letters, digits and _/);
    expect(r.body.error).toMatch(/operation\.data\.user must be a login name/);
    expect(existsSync(marker())).toBe(false);
  });
});

describe('the command policy', () => {
  it('lists users and env names per role, combined by union', () => {
    expect(commandPolicy(['plain', 'ops'], ROLES)).toEqual({
      exec: true,
      shell: true,
      users: ['nobody', 'www-*'],
      env: ['LANG', 'APP_*'],
      cwd: [],
    });
  });

  it('refuses user and env to a role that lists none, with a 403 naming the rule', async () => {
    const plain = await sys.token(['plain']);
    const marker = join(dir.path, 'plain');
    const asUser = await exec(
      'env-01',
      { command: 'touch', args: [marker], user: 'nobody' },
      plain,
    );
    expect(asUser.status).toBe(403);
    expect(asUser.body.error).toBe(
      `the command policy of this token's roles lists no users, so a command may not run as "nobody"`,
    );
    const withEnv = await shell(
      'env-01',
      { command: `touch ${marker}`, env: { LANG: 'C', PATH: '/tmp' } },
      plain,
    );
    expect(withEnv.status).toBe(403);
    expect(withEnv.body.error).toBe(
      `the command policy of this token's roles lists no env names, so a command may not set LANG, PATH`,
    );
    const job = await jobAdd(
      'command.exec.execute',
      { command: 'touch', args: [marker], user: 'nobody' },
      'env-01',
      plain,
    );
    expect(job.status).toBe(403);
    expect(job.body.error).toMatch(/lists no users/);
    // Without user and env, the same role runs the command.
    const ok = await exec('env-01', { command: 'true' }, plain);
    expect(ok.body.results[0]).toMatchObject({ status: 'completed' });
    expect(existsSync(marker)).toBe(false);
  });

  it('allows only the users and env names a role lists', async () => {
    const ops = await sys.token(['ops']);
    const marker = join(dir.path, 'ops');
    const otherUser = await exec(
      'env-01',
      { command: 'touch', args: [marker], user: 'postgres' },
      ops,
    );
    expect(otherUser.status).toBe(403);
    expect(otherUser.body.error).toBe(
      `the command policy of this token's roles allows running as "nobody", "www-*" only; "postgres" matches none`,
    );
    const preload = await shell(
      'env-01',
      { command: `touch ${marker}`, env: { APP_MODE: 'x', LD_PRELOAD: '/tmp/x.so', PATH: '/tmp' } },
      ops,
    );
    expect(preload.status).toBe(403);
    expect(preload.body.error).toBe(
      `the command policy of this token's roles allows env names "LANG", "APP_*" only; LD_PRELOAD, PATH match none`,
    );
    expect(existsSync(marker)).toBe(false);
    const allowed = await shell(
      'env-01',
      { command: 'printf %s "$APP_MODE"', env: { APP_MODE: 'blue', LANG: 'C' } },
      ops,
    );
    expect(allowed.status).toBe(202);
    expect(allowed.body.results[0]).toMatchObject({ status: 'completed', stdout: 'blue' });
    const asNobody = await exec(
      NON_ROOT_AGENT,
      { command: 'id', args: ['-un'], user: 'nobody' },
      ops,
    );
    expect(asNobody.status).toBe(202);
    if (isRoot) {
      expect(asNobody.body.results[0]).toMatchObject({ status: 'completed', stdout: 'nobody\n' });
    } else {
      expect(asNobody.body.results[0].error).toMatch(/^refused, not run: cannot run as "nobody"/);
    }
  });

  it('is checked again by the agent from the signed job', async () => {
    // What a bypass of the API's check would produce: jobs whose own signed
    // policy forbids their user or env. A policy signed without `users` and
    // `env` (as before they existed) allows neither.
    const store = await storeFor(sys);
    const cases = [
      {
        data: { user: 'nobody' },
        policy: { exec: true as const, shell: true as const, users: ['www-data'], env: [] },
        error: /^refused, not run: .*allows running as "www-data" only; "nobody" matches none$/,
      },
      {
        data: { env: { LD_PRELOAD: '/tmp/x.so' } },
        policy: { exec: true as const, shell: true as const, users: [], env: ['LANG'] },
        error: /^refused, not run: .*allows env names "LANG" only; LD_PRELOAD matches none$/,
      },
      {
        data: { user: 'nobody' },
        policy: { exec: true as const, shell: true as const },
        error: /^refused, not run: .*lists no users/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      const marker = join(dir.path, `agent-refused-${i}`);
      const job = await publishJob(store, {
        type: 'command.shell.execute',
        data: { command: `touch ${marker}`, args: [], timeout: 5, ...c.data },
        target: { kind: 'host', hostname: 'env-02' },
        createdBy: 'ops-user',
        startWithinMs: 60_000,
        commandPolicy: c.policy,
      });
      const resp = await waitFor(
        'the agent to answer',
        async () => (await readResponse(store, job.id, 'env-02')) ?? undefined,
      );
      expect(resp).toMatchObject({ status: 'failed', data: null, state: 'refused' });
      expect(resp.error).toMatch(c.error);
      expect(existsSync(marker)).toBe(false);
    }
  });
});

describe('audit', () => {
  it('records the user asked for and the env names, never their values', async () => {
    const r = await shell('env-01', {
      command: 'true',
      env: { APP_SECRET: 'hunter2-value' },
      user: 'osapi-no-such-user',
    });
    expect(r.status).toBe(202);
    const entry = await waitFor('the audit entry', async () => {
      const list = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
      return list.body.items?.find((e: { env_names?: string[] }) =>
        e.env_names?.includes('APP_SECRET'),
      );
    });
    expect(entry).toMatchObject({ run_as: 'osapi-no-such-user', env_names: ['APP_SECRET'] });
    expect(JSON.stringify(entry)).not.toContain('hunter2-value');
  });
});
