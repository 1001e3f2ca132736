// The single executable (`npm run build:release`), built once for this file
// from dist/, then copied alone into an empty directory with an empty HOME,
// as onto a new host: it prints its version, runs an agent that an operator
// accepts and that runs a command sent through the API, runs the whole
// single-host `start` (nats-server found on PATH, the console served from
// inside the executable) and an API server of its own, and says how to
// install nats-server where there is none.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXPECTED_COMMAND_SPAWN } from '../support/native-spawn.js';
import { startTestSystem, type TestSystem } from '../support/system.js';
import {
  agentRunsACommand,
  apiServesTheConsole,
  cleanup,
  hostEnv,
  ROOT,
  requireBuilt,
  run,
  startReady,
  tempDir,
  VERSION,
} from './helpers.js';

const NAME = `osapi-${VERSION}-${process.platform}-${process.arch}`;

let host: string;
let home: string;
let osapi: string;
let sys: TestSystem;

beforeAll(async () => {
  requireBuilt();
  const out = tempDir('osapi-release-');
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'scripts', 'build-release.mjs'), '--out', out],
    {
      cwd: ROOT,
    },
  );
  // The host: a directory holding nothing but the file, and an empty HOME.
  host = tempDir('osapi-host-');
  home = join(host, 'home');
  mkdirSync(home);
  osapi = join(host, 'osapi');
  copyFileSync(join(out, NAME), osapi);
  copyFileSync(join(out, `${NAME}.sha256`), join(host, `${NAME}.sha256`));
  // The test system's own agents are accepted by an operator, as on a fleet.
  sys = await startTestSystem({ overrides: { 'agent.enrollment.auto_accept': false } });
}, 120_000);

afterAll(async () => {
  await cleanup();
  await sys?.stop();
}, 30_000);

describe('the single executable, alone on a host', () => {
  test('is named for its version and platform, with a sha256sum file that checks it', async () => {
    const sum = readFileSync(join(host, `${NAME}.sha256`), 'utf8');
    expect(sum).toMatch(new RegExp(`^[0-9a-f]{64}  ${NAME}\\n$`));
    // sha256sum -c reads the name from the file: give it the name it was built under.
    copyFileSync(osapi, join(host, NAME));
    const r = await run('sha256sum', ['-c', `${NAME}.sha256`], hostEnv(home), host);
    expect(r.stdout).toBe(`${NAME}: OK\n`);
  });

  test('--version prints the version, and nothing on stderr', async () => {
    const r = await run(osapi, ['--version'], hostEnv(home), host);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('an agent started from it is accepted by its fingerprint, then runs a command sent through the API', async () => {
    // Its posix_spawn module is an asset, loaded through a temp file.
    await agentRunsACommand(osapi, host, home, sys, undefined, (agent) => {
      expect(agent.ready.command_spawn).toBe(EXPECTED_COMMAND_SPAWN);
    });
  }, 60_000);

  test('`start` runs nats-server from PATH, the API with the console inside the executable, and an agent', async () => {
    const stateDir = join(host, 'single');
    // A page lying beside the executable is not its console: it serves the one it carries.
    mkdirSync(join(host, 'dist', 'ui'), { recursive: true });
    writeFileSync(join(host, 'dist', 'ui', 'index.html'), '<p>not the console</p>');
    const env = hostEnv(home, {
      OSAPI_STATE_DIR: stateDir,
      OSAPI_API_SERVER_PORT: '0',
      OSAPI_NATS_SERVER_PORT: '0',
    });
    const started = await startReady(osapi, ['-j', 'start'], env, host);
    try {
      const url = started.ready.api_url as string;
      const page = await fetch(`${url}/ui/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).not.toContain('not the console');
      const script = /(app-[A-Z0-9]+\.js)/.exec(html)?.[1];
      expect(script).toBeDefined();
      const js = await fetch(`${url}/ui/${script}`);
      expect(js.status).toBe(200);
      expect(Buffer.from(await js.arrayBuffer())).toEqual(
        readFileSync(join(ROOT, 'dist', 'ui', script as string)),
      );
      // The client finds the local API and its token in the state dir, as after any `start`.
      const exec = await run(
        osapi,
        ['-j', 'client', 'node', 'command', 'exec', '--command', 'echo', '--args', 'single'],
        hostEnv(home, { OSAPI_STATE_DIR: stateDir }),
        host,
      );
      expect(exec.stderr).toBe('');
      expect(JSON.parse(exec.stdout).results[0].stdout).toBe('single\n');
    } finally {
      expect(await started.stop()).toBe(0);
    }
  }, 60_000);

  test('says how to install nats-server when there is none', async (ctx) => {
    // Hidden from this one process only: /dev/null over every nats-server it
    // would find, in a mount namespace of its own (the machine's stay as they are).
    const env = hostEnv(home, { OSAPI_STATE_DIR: join(host, 'no-nats') });
    const found = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/usr/bin']
      .filter(Boolean)
      .map((dir) => join(dir, 'nats-server'))
      .filter((file) => existsSync(file));
    const probe = await run('unshare', ['--mount', '--propagation', 'private', 'true'], env, host);
    if (probe.code !== 0) ctx.skip('no mount namespace here (unshare --mount needs root)');
    const r = await run(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'exe="$1"; shift; for f in "$@"; do mount --bind /dev/null "$f" || exit 97; done; exec "$exe" nats server start',
        'sh',
        osapi,
        ...found,
      ],
      env,
      host,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nats-server was not found on PATH');
    expect(r.stderr).toContain('apt-get install nats-server');
    expect(r.stderr).toContain('https://github.com/nats-io/nats-server/releases');
  });

  test('`api server start` serves the API and the console on the test NATS', async () => {
    await apiServesTheConsole(osapi, host, home, sys);
  }, 60_000);
});
