// The power routes (power:execute, admin only) against a real nats-server and
// agents in this process. Nothing is powered off: each agent's power tool is
// a stand-in that records its arguments. Each agent stores its answer first
// and runs the tool after, so the answer is here before the tool has run.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost, waitFor } from './helpers.js';

const HOSTS = ['pw-01', 'pw-02', 'pw-03'];
let sys: TestSystem;
let admin: string;
let writer: string;
let reader: string;
let dir: string;

/** The stand-in's calls on a host, whole lines only: one still being written is not a call yet. */
const calls = (host: string) => {
  const path = join(dir, host, 'calls');
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop();
  return lines;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-power-'));
  sys = await startTestSystem();
  for (const h of HOSTS) {
    mkdirSync(join(dir, h));
    const tool = join(dir, h, 'shutdown');
    writeFileSync(
      tool,
      `#!/bin/sh\nline=''\nfor a in "$@"; do line="$line[$a]"; done\nprintf '%s\\n' "$line" >> '${dir}/${h}/calls'\n`,
    );
    chmodSync(tool, 0o755);
    await sys.startAgent(h, { group: 'pw' }, {}, { powerTool: tool });
  }
  await sys.waitForAgents(HOSTS);
  admin = await sys.token(['admin']);
  writer = await sys.token(['write']);
  reader = await sys.token(['read']);
});
afterAll(async () => {
  await sys?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const power = (target: string, action: string, body: unknown, token = admin) =>
  request(sys, 'POST', `/node/${target}/power/${action}`, body, token);

describe('power', () => {
  it('admin only: a write or read token gets 403, nothing run', async () => {
    for (const token of [writer, reader]) {
      expect((await power('pw-01', 'reboot', {}, token)).status).toBe(403);
      expect((await power('pw-01', 'shutdown', {}, token)).status).toBe(403);
    }
    expect(calls('pw-01')).toEqual([]);
  });

  it('bad delay or message: 400 naming the field, nothing sent', async () => {
    for (const [body, field] of [
      [{ delay: -1 }, 'delay'],
      [{ delay: 'soon' }, 'delay'],
      [{ message: '-h now' }, 'message'],
      [{ message: 'one\ntwo' }, 'message'],
      [{ force: true }, 'force'],
    ] as const) {
      const r = await power('pw-01', 'reboot', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.fields.map((f: AnyJson) => f.field)).toEqual([field]);
    }
    expect(calls('pw-01')).toEqual([]);
  });

  it('reboots three hosts at once: each answers, then runs its tool', async () => {
    const r = await power('_all', 'reboot', { delay: 300, message: 'osapitest maintenance' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((h) => ({
        hostname: h,
        status: 'ok',
        action: 'reboot',
        delay: 300,
        changed: true,
      })),
    );
    for (const h of HOSTS) {
      await waitFor(`${h} to run its power tool`, () => calls(h).length === 1);
      expect(calls(h)).toEqual(['[-r][--][+5][osapitest maintenance]']);
    }
  });

  it('shuts one host down, through the SDK', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const r = await client.powerShutdown('pw-02', {});
    expect(r.body.results).toEqual([
      { hostname: 'pw-02', status: 'ok', action: 'shutdown', delay: 0, changed: true },
    ]);
    await waitFor('pw-02 to run its power tool', () => calls('pw-02').length === 2);
    expect(calls('pw-02')[1]).toBe('[-h][--][now]');
  });
});
