// The ways of running one command on N hosts that the comparison times: ours
// (a warm SDK call and a cold CLI invocation, both `_all`) and the peers' (pdsh,
// clush and Ansible ad-hoc, each over cold and over ControlMaster-warm ssh).
// Each run checks its own answer, so a fast failure is never timed as a result.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { OsapiClient } from '../../src/sdk/client.js';
import { envWithoutOsapi, ROOT } from '../fleet.js';
import type { SshFleet } from './ssh.js';

export type Command = 'true' | 'hostname';

export interface Variant {
  id: string;
  /** As the tables and the chart name it. */
  label: string;
  ours: boolean;
  ssh: 'cold' | 'warm' | null;
  /** Runs `command` on all n hosts once and throws unless every host answered correctly. */
  run(n: number, command: Command): Promise<void>;
}

/** No single run may take longer than this; a hung tool fails the bench. */
const RUN_TIMEOUT_MS = 180_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns a tool in its own process group, so that a timeout ends everything it started. */
export function runTool(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b) => {
      stdout += b;
    });
    child.stderr?.on('data', (b) => {
      stderr += b;
    });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      reject(new Error(`${cmd} took over ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function fail(what: string, r: Ran, why: string): never {
  throw new Error(
    `${what}: ${why} (exit ${r.code})\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 500)}`,
  );
}

/** Lines of `out` that say `hostname` answered, as `prefix host: output` tools print them. */
function countLines(out: string, re: RegExp): number {
  return out.split('\n').filter((l) => re.test(l)).length;
}

interface CommandResult {
  hostname: string;
  exit_code?: number;
  stdout?: string;
}

function checkOurs(
  what: string,
  n: number,
  command: Command,
  results: CommandResult[] | undefined,
): void {
  const ok =
    results?.length === n &&
    new Set(results.map((r) => r.hostname)).size === n &&
    results.every((r) => r.exit_code === 0 && (command === 'true' || r.stdout?.trim()));
  if (!ok)
    throw new Error(`${what}: not ${n} good results: ${JSON.stringify(results).slice(0, 500)}`);
}

export function ourVariants(url: string, token: string, stateDir: string): Variant[] {
  const client = new OsapiClient({ url, token });
  return [
    {
      id: 'osapi-sdk',
      label: 'OSAPI `_all`, SDK call (warm)',
      ours: true,
      ssh: null,
      async run(n, command) {
        const { status, body } = await client.commandExec('_all', { command });
        if (status !== 202) throw new Error(`SDK call answered ${status}`);
        checkOurs('SDK call', n, command, body.results as CommandResult[]);
      },
    },
    {
      id: 'osapi-cli',
      label: 'OSAPI `_all`, CLI invocation (cold)',
      ours: true,
      ssh: null,
      async run(n, command) {
        const r = await runTool(
          join(ROOT, 'bin/osapi'),
          ['client', 'node', 'command', 'exec', '--command', command, '-T', '_all', '-y', '-j'],
          {
            ...envWithoutOsapi(),
            OSAPI_API_CLIENT_URL: url,
            OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: token,
            // No local client file there: the URL and token above are what it uses.
            OSAPI_STATE_DIR: stateDir,
          },
        );
        if (r.code !== 0) fail('osapi CLI', r, 'failed');
        let body: { results?: CommandResult[] };
        try {
          body = JSON.parse(r.stdout);
        } catch {
          fail('osapi CLI', r, 'printed no JSON');
        }
        checkOurs('osapi CLI', n, command, body.results);
      },
    },
  ];
}

/**
 * The floor: the command itself on N "hosts" as N processes spawned at once
 * from this Node process, nothing carried anywhere. No tool that starts a
 * process per host can be faster on one machine.
 */
export function floorVariant(): Variant {
  const once = (command: Command) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(command, [], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout?.on('data', (b) => {
        out += b;
      });
      child.once('error', reject);
      child.once('close', (code) => {
        if (code !== 0 || (command === 'hostname' && !out.trim())) {
          reject(new Error(`bare ${command} exited ${code} with ${JSON.stringify(out)}`));
        } else resolve();
      });
    });
  return {
    id: 'floor',
    label: 'floor: N bare spawns at once from Node',
    ours: false,
    ssh: null,
    async run(n, command) {
      await Promise.all(Array.from({ length: n }, () => once(command)));
    },
  };
}

export function peerVariants(fleet: SshFleet, machineHostname: string): Variant[] {
  const hostLine = (command: Command) =>
    command === 'hostname' ? new RegExp(`^127\\.0\\.0\\.\\d+: ${machineHostname}$`) : null;
  const out: Variant[] = [];
  for (const ssh of ['cold', 'warm'] as const) {
    const cfg = fleet.sshConfig[ssh];
    out.push({
      id: `pdsh-${ssh}`,
      label: `pdsh, ${ssh} ssh`,
      ours: false,
      ssh,
      async run(n, command) {
        const r = await runTool(
          'pdsh',
          ['-R', 'ssh', '-S', '-f', String(n), '-w', fleet.hosts(n).join(','), command],
          // pdsh puts the host where %h stands; the rest comes from our ssh config.
          { ...process.env, PDSH_SSH_ARGS: `-F ${cfg} %h` },
        );
        if (r.code !== 0) fail('pdsh', r, 'failed');
        const re = hostLine(command);
        if (re && countLines(r.stdout, re) !== n) fail('pdsh', r, `not ${n} host lines`);
      },
    });
    out.push({
      id: `clush-${ssh}`,
      label: `clush, ${ssh} ssh`,
      ours: false,
      ssh,
      async run(n, command) {
        const r = await runTool('clush', [
          '-S',
          '-f',
          String(n),
          '-o',
          `-F ${cfg}`,
          '-w',
          fleet.hosts(n).join(','),
          command,
        ]);
        if (r.code !== 0) fail('clush', r, 'failed');
        const re = hostLine(command);
        if (re && countLines(r.stdout, re) !== n) fail('clush', r, `not ${n} host lines`);
      },
    });
    out.push({
      id: `ansible-${ssh}`,
      label: `Ansible ad-hoc, ${ssh} ssh`,
      ours: false,
      ssh,
      async run(n, command) {
        const r = await runTool(
          'ansible',
          ['all', '-i', fleet.inventory(n), '-f', String(n), '-m', 'command', '-a', command, '-o'],
          { ...process.env, ANSIBLE_CONFIG: fleet.ansibleConfig[ssh] },
        );
        if (r.code !== 0) fail('ansible', r, 'failed');
        const want =
          command === 'hostname'
            ? new RegExp(`\\| CHANGED \\| rc=0 \\| \\(stdout\\) ${machineHostname}$`)
            : /\| CHANGED \| rc=0 \|/;
        if (countLines(r.stdout, want) !== n) fail('ansible', r, `not ${n} hosts with rc=0`);
      },
    });
  }
  return out;
}
