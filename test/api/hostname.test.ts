// PUT /node/{hostname}/hostname (node:write) against a real nats-server and
// agents in this process. This machine's name is never changed: each agent
// sets the kernel's name through a stand-in `hostname` tool keeping it in a
// file and recording its calls, and writes its own temp /etc/hostname.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsapiClient } from '../../src/sdk/client.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost } from './helpers.js';

const HOSTS = ['hn-01', 'hn-02', 'hn-03'];
let sys: TestSystem;
let admin: string;
let writer: string;
let reader: string;
let dir: string;

const state = (host: string) => join(dir, host);
const kernelName = (host: string) => readFileSync(join(state(host), 'name'), 'utf8').trim();
const calls = (host: string) => {
  try {
    return readFileSync(join(state(host), 'calls'), 'utf8')
      .trim()
      .split('\n');
  } catch {
    return [];
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-hn-'));
  sys = await startTestSystem();
  for (const h of HOSTS) {
    mkdirSync(state(h));
    writeFileSync(join(state(h), 'name'), `${h}\n`);
    writeFileSync(join(state(h), 'etc-hostname'), `${h}\n`);
    const tool = join(state(h), 'hostname');
    writeFileSync(
      tool,
      `#!/bin/sh\necho "$*" >> '${state(h)}/calls'\nprintf '%s\\n' "$1" > '${state(h)}/name'\n`,
    );
    chmodSync(tool, 0o755);
    await sys.startAgent(
      h,
      { group: 'hn' },
      { node: { hostname_file: join(state(h), 'etc-hostname') } },
      {
        systemdRunDir: join(dir, 'no-systemd'),
        hostnameTool: tool,
        kernelHostname: () => kernelName(h),
      },
    );
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

const put = (target: string, body: unknown, token = admin) =>
  request(sys, 'PUT', `/node/${target}/hostname`, body, token);

describe('PUT /node/{hostname}/hostname', () => {
  it('a read token may not set it: 403, nothing run', async () => {
    const r = await put('hn-01', { hostname: 'osapitest-x' }, reader);
    expect(r.status).toBe(403);
    expect(calls('hn-01')).toEqual([]);
  });

  it('a name that is not a host name: 400 naming the field, nothing sent', async () => {
    for (const body of [
      { hostname: '-n' },
      { hostname: 'a b' },
      { hostname: 'x'.repeat(65) },
      { hostname: 'a;reboot' },
      {},
    ]) {
      const r = await put('hn-01', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.fields, JSON.stringify(body)).toEqual([
        { field: 'hostname', message: expect.any(String) },
      ]);
    }
    expect(calls('hn-01')).toEqual([]);
  });

  it('one name on three hosts at once, by a write token; the same again changes nothing', async () => {
    const r = await put('_all', { hostname: 'osapitest-same' }, writer);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(byHost(r.body.results)).toEqual(
      HOSTS.map((h) => ({
        hostname: h,
        status: 'ok',
        name: 'osapitest-same',
        changed: true,
        agent_hostname: h,
      })),
    );
    for (const h of HOSTS) {
      expect(kernelName(h)).toBe('osapitest-same');
      expect(readFileSync(join(state(h), 'etc-hostname'), 'utf8')).toBe('osapitest-same\n');
    }
    // The agents still answer under the names they registered with.
    const again = await put('_all', { hostname: 'osapitest-same' }, writer);
    expect(byHost(again.body.results).map((x: AnyJson) => [x.hostname, x.changed])).toEqual(
      HOSTS.map((h) => [h, false]),
    );
    for (const h of HOSTS) expect(calls(h)).toEqual(['osapitest-same']);
  });

  it('the SDK names it', async () => {
    const client = new OsapiClient({ url: sys.url, token: admin });
    const r = await client.nodeHostnameUpdate('hn-02', { hostname: 'osapitest-sdk' });
    expect(r.body.results).toEqual([
      {
        hostname: 'hn-02',
        status: 'ok',
        name: 'osapitest-sdk',
        changed: true,
        agent_hostname: 'hn-02',
      },
    ]);
  });
});
