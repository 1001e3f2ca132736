// Start-up of the single executable (scripts/build-release.mjs), against a
// bare Node start (`node -e 0`) in the same run: `osapi --version` and one
// `client node command exec` sent to an agent, each a fresh process, as an
// operator's shell or a script runs them. The package's `bin/osapi` (Node
// with the bundled CLI) and an executable built without its code cache are
// timed in the same rounds, for comparison. Rounds interleave every variant,
// so that a busy moment of the machine falls on all of them alike.
//
//   npm run bench:startup    # writes its section of bench/RESULTS.md
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSystem } from '../test/support/system.js';
import { envWithoutOsapi, median, ROOT, startAgentChild, stopChild } from './fleet.js';
import { writeSection } from './results.js';

const ROUNDS = 30;
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

/** Milliseconds from spawn to exit; throws unless it exited 0. */
function timeRun(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(performance.now() - t);
      else reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

function buildExecutable(outDir: string, codeCache: boolean): string {
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'scripts', 'build-release.mjs'),
      '--out',
      outDir,
      ...(codeCache ? [] : ['--no-code-cache']),
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return join(outDir, `osapi-${version}-${process.platform}-${process.arch}`);
}

interface Variant {
  id: string;
  label: string;
  file: string;
  args: string[];
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'osapi-bench-startup-'));
  const sys = await startTestSystem();
  let agent: Awaited<ReturnType<typeof startAgentChild>> | undefined;
  try {
    process.stderr.write('building the executable, with and without its code cache\n');
    const executable = buildExecutable(join(work, 'cached'), true);
    const uncached = buildExecutable(join(work, 'uncached'), false);
    agent = await startAgentChild(sys, 'startup-01');
    await sys.waitForAgents(['startup-01']);
    const env = {
      ...envWithoutOsapi(),
      HOME: work,
      OSAPI_API_CLIENT_URL: sys.url,
      OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: await sys.token(),
    };
    const exec = ['client', 'node', 'command', 'exec', '-T', 'startup-01', '--command', 'true'];
    const bin = join(ROOT, 'bin', 'osapi');
    const variants: Variant[] = [
      { id: 'node', label: '`node -e 0`', file: process.execPath, args: ['-e', '0'] },
      { id: 'exe-version', label: 'executable `--version`', file: executable, args: ['--version'] },
      {
        id: 'exe-exec',
        label: 'executable `client node command exec`',
        file: executable,
        args: exec,
      },
      {
        id: 'nocache-version',
        label: 'executable without code cache `--version`',
        file: uncached,
        args: ['--version'],
      },
      {
        id: 'nocache-exec',
        label: 'executable without code cache `client node command exec`',
        file: uncached,
        args: exec,
      },
      { id: 'bin-version', label: 'package `bin/osapi --version`', file: bin, args: ['--version'] },
      {
        id: 'bin-exec',
        label: 'package `bin/osapi client node command exec`',
        file: bin,
        args: exec,
      },
    ];
    const samples = new Map<string, number[]>(variants.map((v) => [v.id, []]));
    // One of each first, unrecorded: the files into the page cache.
    for (const v of variants) await timeRun(v.file, v.args, env);
    const load: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of variants) samples.get(v.id)?.push(await timeRun(v.file, v.args, env));
      load.push(loadavg()[0] ?? Number.NaN);
    }
    const node = median(samples.get('node') ?? []);
    const lines: string[] = [];
    const out = (s = '') => {
      lines.push(s);
      process.stdout.write(`${s}\n`);
    };
    out('# Benchmark results: start-up of the single executable');
    out();
    out(
      `Made by \`npm run bench:startup\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores, load average ${median(load).toFixed(1)} (median over the rounds). Medians of ${ROUNDS} fresh processes each, the variants interleaved round by round; ratios are to \`node -e 0\` in the same rounds. \`client node command exec\` runs \`true\` on one agent (its own process) through a test API server and NATS, and waits for the result.`,
    );
    out();
    out('| process | median | to `node -e 0` |');
    out('|---|---|---|');
    for (const v of variants) {
      const m = median(samples.get(v.id) ?? []);
      out(`| ${v.label} | ${m.toFixed(1)} ms | ${(m / node).toFixed(2)}× |`);
    }
    writeSection('startup', lines);
  } finally {
    if (agent) await stopChild(agent);
    await sys.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
