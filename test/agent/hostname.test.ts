// The host name handler on the agent alone. This machine's name is never
// changed: the kernel's name is set through a stand-in `hostname` tool that
// keeps it in a file and records its calls, or through the real `hostname`
// inside a UTS namespace of its own (`unshare -u`), and /etc/hostname is a
// temp file. The hostnamectl way runs a stand-in too.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname as osHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerContext, runJob } from '../../src/agent/handlers/index.js';
import type { HostSettings } from '../../src/agent/handlers/types.js';
import { operationDataProblems } from '../../src/job/data-checks.js';

/** Whether this machine gives a process a UTS namespace of its own: without, nothing is tried. */
const CAN_UNSHARE_UTS = (() => {
  try {
    execFileSync('unshare', ['-u', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapitest-hn-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hostnameFile = () => join(dir, 'etc-hostname');
const lines = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n') : [];

/** A stand-in tool (hostname or hostnamectl) keeping the kernel's name in a file, recording each call. */
function standIn(tool: string, name: string, body: string) {
  const state = join(dir, tool);
  mkdirSync(state);
  writeFileSync(join(state, 'name'), `${name}\n`);
  const path = join(state, tool);
  writeFileSync(path, `#!/bin/sh\necho "$*" >> '${state}/calls'\n${body}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    calls: () => lines(join(state, 'calls')),
    name: () => readFileSync(join(state, 'name'), 'utf8').trim(),
    nameFile: join(state, 'name'),
  };
}

function ctx(host: Partial<HostSettings>): HandlerContext {
  return {
    hostname: 'agent-01',
    labels: {},
    maxOutputBytes: 1024,
    signal: new AbortController().signal,
    host: {
      unitDir: join(dir, 'units'),
      hostnameFile: hostnameFile(),
      systemdRunDir: join(dir, 'no-systemd'),
      ...host,
    },
  };
}

describe('host names', () => {
  it('refuses what is not a host name, naming the field', () => {
    for (const hostname of ['-web', 'web-', 'a..b', 'a b', 'a/b', '.web', 'x'.repeat(65), '']) {
      expect(operationDataProblems('node.hostname.update', { hostname }), hostname).toEqual([
        { field: 'hostname', message: expect.any(String) },
      ]);
    }
    for (const hostname of ['web-01', 'web-01.example.com', 'A1']) {
      expect(operationDataProblems('node.hostname.update', { hostname }), hostname).toEqual([]);
    }
  });
});

describe('without systemd: the kernel name and /etc/hostname', () => {
  it('sets both; the same again changes nothing; the agent keeps its name', async () => {
    const tool = standIn('hostname', 'old-01', `printf '%s\\n' "$1" > '${dir}/hostname/name'`);
    writeFileSync(hostnameFile(), 'old-01\n');
    const c = ctx({ hostnameTool: tool.path, kernelHostname: tool.name });
    const r = await runJob('node.hostname.update', { hostname: 'osapitest-new' }, c);
    expect(r).toEqual({
      status: 'completed',
      data: { name: 'osapitest-new', changed: true, agent_hostname: 'agent-01' },
    });
    expect(tool.calls()).toEqual(['osapitest-new']);
    expect(readFileSync(hostnameFile(), 'utf8')).toBe('osapitest-new\n');
    const again = await runJob('node.hostname.update', { hostname: 'osapitest-new' }, c);
    expect(again.data).toMatchObject({ changed: false });
    expect(tool.calls()).toEqual(['osapitest-new']);
  });

  it('only a stale /etc/hostname: the file alone is written', async () => {
    const tool = standIn('hostname', 'web-01', 'exit 0');
    writeFileSync(hostnameFile(), 'old\n');
    const c = ctx({ hostnameTool: tool.path, kernelHostname: tool.name });
    const r = await runJob('node.hostname.update', { hostname: 'web-01' }, c);
    expect(r.data).toMatchObject({ changed: true });
    expect(tool.calls()).toEqual([]);
    expect(readFileSync(hostnameFile(), 'utf8')).toBe('web-01\n');
  });

  it('a file that cannot be written sets the kernel name back', async () => {
    const tool = standIn('hostname', 'old-01', `printf '%s\\n' "$1" > '${dir}/hostname/name'`);
    const c = ctx({
      hostnameTool: tool.path,
      kernelHostname: tool.name,
      hostnameFile: join(dir, 'missing-dir', 'hostname'),
    });
    const r = await runJob('node.hostname.update', { hostname: 'web-02' }, c);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/^cannot write .*; the kernel's name was set back to old-01$/);
    expect(tool.calls()).toEqual(['web-02', 'old-01']);
    expect(tool.name()).toBe('old-01');
  });

  it('a host without the hostname tool is skipped, nothing written', async () => {
    writeFileSync(hostnameFile(), 'old\n');
    const c = ctx({ hostnameTool: join(dir, 'no-such-tool'), kernelHostname: () => 'old' });
    const r = await runJob('node.hostname.update', { hostname: 'web-03' }, c);
    expect(r).toMatchObject({ status: 'failed', state: 'skipped' });
    expect(r.error).toMatch(/is not installed/);
    expect(readFileSync(hostnameFile(), 'utf8')).toBe('old\n');
  });

  it.skipIf(!CAN_UNSHARE_UTS)(
    'the real hostname tool, in a UTS namespace of its own, takes the name',
    async () => {
      const before = osHostname();
      const seen = join(dir, 'seen');
      const wrapper = join(dir, 'hostname-in-namespace');
      // The real tool sets the name of a throwaway UTS namespace, then reads it back.
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec unshare -u /bin/sh -c 'hostname "$1" && hostname > "$2"' sh "$1" '${seen}'\n`,
      );
      chmodSync(wrapper, 0o755);
      const r = await runJob(
        'node.hostname.update',
        { hostname: 'osapitest-uts' },
        ctx({ hostnameTool: wrapper }),
      );
      expect(r.status, r.error).toBe('completed');
      expect(readFileSync(seen, 'utf8').trim()).toBe('osapitest-uts');
      expect(osHostname()).toBe(before);
    },
  );
});

describe('hostnamectl (systemd runs)', () => {
  it('runs hostnamectl set-hostname, once', async () => {
    mkdirSync(join(dir, 'systemd'));
    const ctl = standIn('hostnamectl', 'old', `printf '%s\\n' "$3" > '${dir}/hostnamectl/name'`);
    writeFileSync(hostnameFile(), 'old\n');
    const c = ctx({
      systemdRunDir: join(dir, 'systemd'),
      hostnamectl: ctl.path,
      kernelHostname: ctl.name,
      hostnameTool: join(dir, 'no-such-tool'),
    });
    const r = await runJob('node.hostname.update', { hostname: 'web-04' }, c);
    expect(r.data).toEqual({ name: 'web-04', changed: true, agent_hostname: 'agent-01' });
    expect(ctl.calls()).toEqual(['set-hostname -- web-04']);
  });
});
