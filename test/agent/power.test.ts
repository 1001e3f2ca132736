// The power handlers on the agent alone. Nothing is ever powered off: the
// power tool is a stand-in that records its arguments. The handler answers
// without running it; the run is the outcome's `after`, which the agent
// calls once the answer is stored.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import { shutdownArgs } from '../../src/agent/handlers/power.js';
import { operationDataProblems } from '../../src/job/data-checks.js';
import { waitFor } from '../api/helpers.js';

let dir: string;
let tool: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-power-'));
  tool = join(dir, 'shutdown');
  writeFileSync(
    tool,
    `#!/bin/sh\nline=''\nfor a in "$@"; do line="$line[$a]"; done\nprintf '%s\\n' "$line" >> '${dir}/calls'\n`,
  );
  chmodSync(tool, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The stand-in's calls, whole lines only: one still being written is not a call yet. */
const calls = () => {
  if (!existsSync(join(dir, 'calls'))) return [];
  const lines = readFileSync(join(dir, 'calls'), 'utf8').split('\n');
  lines.pop();
  return lines;
};

function ctx(powerTool = tool): HandlerContext {
  return {
    hostname: 'h-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: { unitDir: join(dir, 'units'), powerTool },
  };
}

describe('power', () => {
  it('answers first; the tool runs only when the agent calls after()', async () => {
    const r = await runJob('power.reboot', { delay: 90, message: 'kernel update' }, ctx());
    expect(r).toMatchObject({
      status: 'completed',
      data: { action: 'reboot', delay: 120, changed: true },
    });
    expect(calls()).toEqual([]);
    r.after?.();
    await waitFor('the power tool to run', () => calls().length === 1);
    expect(calls()).toEqual(['[-r][--][+2][kernel update]']);
  });

  it('shutdown at once, without a message', async () => {
    const r = await runJob('power.shutdown', {}, ctx());
    expect(r.data).toEqual({ action: 'shutdown', delay: 0, changed: true });
    r.after?.();
    await waitFor('the power tool to run', () => calls().length === 1);
    expect(calls()).toEqual(['[-h][--][now]']);
  });

  it('a host without the tool is skipped, and nothing is left to run', async () => {
    const r = await runJob('power.reboot', {}, ctx(join(dir, 'none')));
    expect(r).toMatchObject({ status: 'failed', state: 'skipped' });
    expect(r.error).toMatch(/is not installed/);
    expect(r.after).toBeUndefined();
  });

  it('delays round up to whole minutes', () => {
    expect(shutdownArgs('reboot', { delay: 0 })).toEqual({ args: ['-r', '--', 'now'], delay: 0 });
    expect(shutdownArgs('reboot', { delay: 1 }).delay).toBe(60);
    expect(shutdownArgs('shutdown', { delay: 3600 }).args).toEqual(['-h', '--', '+60']);
  });

  it('refuses a message that could read as an option or break a line, and a bad delay', () => {
    for (const data of [{ message: '-h now' }, { message: 'a\nb' }, { message: 'x'.repeat(257) }]) {
      expect(operationDataProblems('power.reboot', data)).toEqual([
        { field: 'message', message: expect.any(String) },
      ]);
    }
    for (const delay of [-1, 86_401, 1.5]) {
      expect(operationDataProblems('power.reboot', { delay })).toEqual([
        { field: 'delay', message: expect.any(String) },
      ]);
    }
    expect(operationDataProblems('power.reboot', { delay: 60, message: 'bye' })).toEqual([]);
  });
});
