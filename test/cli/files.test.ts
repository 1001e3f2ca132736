// `osapi client file ...` and `osapi client node file deploy|status|undeploy`
// end to end against one `osapi start` child: a template uploaded from a
// local file, rendered on the host with its facts and a --vars value.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  BIN,
  childEnv,
  cleanup,
  type RunResult,
  runOsapi,
  type StartedOsapi,
  startOsapi,
  tempDir,
} from './helpers.js';

let sys: StartedOsapi;
const dir = mkdtempSync(join(tmpdir(), 'osapi-cli-files-'));

beforeAll(async () => {
  sys = await startOsapi(tempDir('osapi-cli-files-state-'));
}, 30_000);

afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

function osapi(args: string[]): Promise<RunResult> {
  return runOsapi(args, { env: childEnv(sys.stateDir) });
}

describe('a reader that stops early', () => {
  test('`osapi ... | head` ends quietly, with the exit code of the command', async () => {
    const child = spawn(process.execPath, [BIN, '-j', 'client', 'node', 'package', 'list'], {
      env: childEnv(sys.stateDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Closed before the command writes a byte: every write of it meets a closed pipe.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });
});

describe('files through the CLI', () => {
  test('upload, deploy a template with --vars, see it in sync, undeploy', async () => {
    const local = join(dir, 'motd.tmpl');
    writeFileSync(local, 'host={{hostname}} team={{vars.team}}\n');
    const up = await osapi([
      'client',
      'file',
      'upload',
      '--name',
      'motd',
      '--file',
      local,
      '--content-type',
      'template',
    ]);
    // What it did is said on stderr, as every message for people is.
    expect(up.code).toBe(0);
    expect(up.stderr).toMatch(/^motd: stored \(37 bytes, sha256 [0-9a-f]{64}\)/);
    const again = await osapi([
      'client',
      'file',
      'upload',
      '--name',
      'motd',
      '--file',
      local,
      '--content-type',
      'template',
    ]);
    expect(again.stderr).toMatch(/^motd: unchanged/);

    const target = join(dir, 'motd');
    const dep = await osapi([
      'client',
      'node',
      'file',
      'deploy',
      '--object-name',
      'motd',
      '--path',
      target,
      '--content-type',
      'template',
      '--vars',
      'team=web',
    ]);
    expect(dep.stderr).toBe('');
    expect(dep.code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(`host=${sys.ready.hostname} team=web\n`);

    const status = await osapi(['client', 'node', 'file', 'status', '--path', target]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain('in-sync');
    // The item's status is the file's: one STATUS column.
    expect(status.stdout.match(/STATUS/g)).toHaveLength(1);

    const un = await osapi(['client', 'node', 'file', 'undeploy', '--path', target]);
    expect(un.code).toBe(0);
    expect(existsSync(target)).toBe(false);
  });

  test('bad flags are usage errors naming the flag; other content needs --force', async () => {
    const bogus = await osapi([
      'client',
      'node',
      'file',
      'deploy',
      '--object-name',
      'motd',
      '--path',
      join(dir, 'x'),
      '--content-type',
      'bogus',
    ]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('--content-type: must be raw or template (got "bogus")');
    const rel = await osapi([
      'client',
      'node',
      'file',
      'deploy',
      '--object-name',
      'motd',
      '--path',
      'relative',
      '--content-type',
      'raw',
    ]);
    expect(rel.code).toBe(2);
    expect(rel.stderr).toContain('--path: must be an absolute path');
    const vars = await osapi([
      'client',
      'node',
      'file',
      'deploy',
      '--object-name',
      'motd',
      '--path',
      join(dir, 'y'),
      '--content-type',
      'template',
      '--vars',
      'novalue',
    ]);
    expect(vars.code).toBe(2);
    expect(vars.stderr).toContain('--vars: expected name=value');

    const other = join(dir, 'other');
    writeFileSync(other, 'other\n');
    const clash = await osapi(['client', 'file', 'upload', '--name', 'motd', '--file', other]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain('--force');
    const forced = await osapi([
      'client',
      'file',
      'upload',
      '--name',
      'motd',
      '--file',
      other,
      '--force',
    ]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/^motd: stored/);
  });
});
