// `osapi client node container docker ...` end to end: one `osapi start`
// child whose agent uses a dockerd of this file's own (test/support/dockerd.ts)
// through agent.docker.socket; and the docker tables on their own. The end to
// end tests are skipped, saying why, where dockerd cannot start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerExecTable, dockerListTable } from '../../src/cli/docker-output.js';
import { type DockerdStart, startTestDockerd, throwawayName } from '../support/dockerd.js';
import {
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

/** The table's rows as their cells, borders dropped. */
const rows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.includes('│'))
    .map((l) =>
      l
        .split('│')
        .map((c) => c.trim())
        .filter(Boolean),
    );

describe('docker tables', () => {
  it('lists each host’s containers, the id short, then the hosts without an answer', () => {
    const out = dockerListTable({
      job_id: '00000000-0000-4000-8000-000000000001',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          containers: [
            {
              id: 'a'.repeat(64),
              name: 'web\u001b[31m',
              image: 'debian:12',
              state: 'running',
              created: '2026-12-07T02:00:00Z',
            },
          ],
        },
        { hostname: 'h-02', status: 'skipped', error: 'no Docker daemon answers on /x.sock' },
      ],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'NAME', 'ID', 'IMAGE', 'STATE', 'CREATED'],
      ['h-01', 'web\\e[31m', 'aaaaaaaaaaaa', 'debian:12', 'running', '2026-12-07T02:00:00Z'],
      ['HOSTNAME', 'STATUS', 'ERROR'],
      ['h-02', 'skipped', 'no Docker daemon answers on /x.sock'],
    ]);
  });

  it('shows an exec’s output and exit code per host, and a failure’s error', () => {
    const out = dockerExecTable({
      job_id: '00000000-0000-4000-8000-000000000002',
      results: [
        {
          hostname: 'h-01',
          status: 'ok',
          changed: true,
          stdout: 'hi\n',
          stderr: '',
          exit_code: 0,
          stdout_truncated: false,
          stderr_truncated: false,
        },
        { hostname: 'h-02', status: 'failed', changed: false, error: 'no container "x"' },
      ],
    });
    expect(rows(out)).toEqual([
      ['HOSTNAME', 'STATUS', 'STDOUT', 'STDERR', 'EXIT CODE'],
      ['h-01', 'ok', 'hi', '0'],
      ['h-02', 'failed', 'error: no container "x"'],
    ]);
  });
});

let daemon: DockerdStart = { ok: false, reason: 'not started yet' };
let sys: StartedOsapi | undefined;

beforeAll(async () => {
  daemon = await startTestDockerd();
  if (!daemon.ok) {
    console.warn(`docker CLI tests skipped: ${daemon.reason}`);
    return;
  }
  sys = await startOsapi(tempDir('osapi-cli-docker-state-'), {
    env: { OSAPI_AGENT_DOCKER_SOCKET: daemon.daemon.socket },
  });
}, 90_000);

afterAll(async () => {
  try {
    await cleanup();
  } finally {
    if (daemon.ok) await daemon.daemon.stop();
  }
}, 60_000);

function osapi(args: string[], json = false): Promise<RunResult> {
  if (!sys) throw new Error('no osapi started');
  return runOsapi([...(json ? ['-j'] : []), 'client', 'node', 'container', 'docker', ...args], {
    env: childEnv(sys.stateDir),
  });
}

describe('node container docker', () => {
  it('creates without starting (--no-auto-start), starts, lists, execs and removes', async (t) => {
    if (!daemon.ok) t.skip(`no dockerd here: ${daemon.reason}`);
    if (!daemon.ok) return;
    const image = daemon.daemon.image;
    const name = throwawayName();
    const made = await osapi(
      ['create', '--image', image, '--name', name, '--command', 'sleep,600', '--no-auto-start'],
      true,
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout).results[0]).toMatchObject({
      name,
      state: 'created',
      changed: true,
    });
    const started = await osapi(['start', '--id', name]);
    expect(started.code).toBe(0);
    const list = await osapi(['list', '--state', 'running']);
    expect(list.code).toBe(0);
    const row = rows(list.stdout).find((r) => r.includes(name));
    expect(row).toEqual([
      expect.any(String),
      name,
      expect.any(String),
      image,
      'running',
      expect.any(String),
    ]);
    const exec = await osapi(['exec', '--id', name, '--command', 'echo,from the CLI']);
    expect(exec.code).toBe(0);
    expect(rows(exec.stdout)[1]).toEqual([expect.any(String), 'ok', 'from the CLI', '0']);
    const removed = await osapi(['remove', '--id', name, '--force']);
    expect(removed.code).toBe(0);
    // A bad flag value is refused before any request, naming the flag.
    const bad = await osapi(['create', '--image', '-rf']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--image: must be an image reference/);
  }, 90_000);
});
