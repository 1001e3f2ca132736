// The CLI's --follow, in process against a real nats-server with several
// agents: lines appear as `host: line` while the command still runs, stdout
// and stderr apart, a last line without a newline is not lost, colours only
// on a terminal without NO_COLOR, and a job that goes quiet is let go with
// the silent hosts named.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FollowOutput, followJob, followSummary, useColour } from '../../src/cli/follow.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { type TempDir, tempDir, waitFor } from '../api/helpers.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

const HOSTS = ['fo-01', 'fo-02', 'fo-03'];

let sys: TestSystem;
let client: OsapiClient;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'f' });
  await sys.waitForAgents(HOSTS);
  client = new OsapiClient({ url: sys.url, token: await sys.token() });
  dir = tempDir('follow');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

function sink(isTTY = false) {
  const lines: string[] = [];
  return {
    stream: { isTTY, write: (t: string) => lines.push(t) },
    text: () => lines.join(''),
  };
}

function output(tty = false) {
  const stdout = sink(tty);
  const stderr = sink(tty);
  const out: FollowOutput = { stdout: stdout.stream, stderr: stderr.stream };
  return { out, stdout, stderr };
}

describe('--follow', () => {
  it('prints host: line as lines come, stdout and stderr apart, then the summary', async () => {
    const go = join(dir.path, 'go');
    const { body } = await client.commandShell(
      '_all',
      {
        command: `echo first; echo 'to stderr' >&2; while [ ! -e '${go}' ]; do sleep 0.05; done; printf 'second\\nno newline'; exit 0`,
      },
      { async: true },
    );
    const { out, stdout, stderr } = output();
    const following = followJob(client, {
      jobId: body.job_id,
      expectedHosts: body.expected_hosts ?? [],
      idleMs: 30_000,
      json: false,
      output: out,
      env: {},
    });
    // Every host's first line is printed while every command still waits.
    await waitFor('the first line of every host', () =>
      HOSTS.every((h) => stdout.text().includes(`${h}: first\n`)),
    );
    expect(existsSync(go)).toBe(false);
    expect(stdout.text()).not.toContain('second');
    writeFileSync(go, '');
    const outcome = await following;
    expect(outcome.ended).toBe('end');
    for (const h of HOSTS) {
      // Hosts interleave; each host's own lines keep their order.
      const own = stdout
        .text()
        .split('\n')
        .filter((l) => l.startsWith(`${h}: `));
      expect(own).toEqual([`${h}: first`, `${h}: second`, `${h}: no newline`]);
      expect(stderr.text()).toContain(`${h}: to stderr\n`);
    }
    expect(stdout.text()).not.toContain('to stderr');
    // Piped: no colour codes.
    expect(stdout.text()).not.toContain('\u001b[');
    expect(outcome.results.map((r) => [r.hostname, r.status, r.exit_code])).toEqual(
      HOSTS.map((h) => [h, 'completed', 0]),
    );
    expect(followSummary(body.job_id, outcome)).toEqual({ stdout: '3 ok\n', stderr: '' });
  });

  it('colours the host on a terminal, unless NO_COLOR is set', async () => {
    const { body } = await client.commandExec('fo-01', { command: 'echo', args: ['hi'] });
    const tty = output(true);
    await followJob(client, {
      jobId: body.job_id,
      expectedHosts: [],
      idleMs: 10_000,
      json: false,
      output: tty.out,
      env: {},
    });
    const esc = String.fromCharCode(27);
    // The host in a foreground colour, then the default colour again.
    expect(tty.stdout.text().startsWith(`${esc}[`)).toBe(true);
    expect(tty.stdout.text()).toMatch(/^.\[\d+mfo-01:.\[39m hi\n$/);
    const plain = output(true);
    await followJob(client, {
      jobId: body.job_id,
      expectedHosts: [],
      idleMs: 10_000,
      json: false,
      output: plain.out,
      env: { NO_COLOR: '1' },
    });
    expect(plain.stdout.text()).toBe('fo-01: hi\n');
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });

  it('with --json prints each event as one JSON line', async () => {
    const { body } = await client.commandExec('fo-02', { command: 'echo', args: ['j'] });
    const { out, stdout } = output();
    await followJob(client, {
      jobId: body.job_id,
      expectedHosts: [],
      idleMs: 10_000,
      json: true,
      output: out,
      env: {},
    });
    const events = stdout
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; data: Record<string, unknown> });
    expect(events.map((e) => e.event)).toEqual(['output', 'result', 'end']);
    expect(events[0]?.data).toEqual({ hostname: 'fo-02', stream: 'stdout', data: 'j\n' });
  });

  it('lets go of a job that has gone quiet, naming the hosts without a result', async () => {
    const { body } = await client.commandShell(
      'fo-03',
      { command: 'echo started; sleep 8', timeout: 10 },
      { async: true },
    );
    const { out, stdout } = output();
    const outcome = await followJob(client, {
      jobId: body.job_id,
      expectedHosts: body.expected_hosts ?? [],
      // Long enough for the first line to arrive on a loaded machine.
      idleMs: 2000,
      json: false,
      output: out,
      env: {},
    });
    expect(outcome.ended).toBe('idle');
    expect(stdout.text()).toBe('fo-03: started\n');
    expect(outcome.results).toMatchObject([{ hostname: 'fo-03', status: 'no_answer' }]);
    const last = followSummary(body.job_id, outcome);
    expect(last.stdout).toBe('0 ok, 1 failed: fo-03 (no answer)\n');
    expect(last.stderr).toContain(`osapi client job get --job-id ${body.job_id}`);
  });

  it('reports an unknown job at once', async () => {
    const err = await followJob(client, {
      jobId: crypto.randomUUID(),
      expectedHosts: [],
      idleMs: 10_000,
      json: false,
      output: output().out,
      env: {},
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404 });
  });
});
