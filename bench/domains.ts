// The managed domains against a fleet (issue: manage hosts, part 1): reading
// every host's packages and users, and a templated file deployed to every
// host, each judged against `command exec true` on the same fleet in the
// same run (a ratio: absolute numbers on this machine are not comparable).
//
//   npm run bench:domains                 # 50 agents, writes its section of bench/RESULTS.md
//   npm run bench:domains -- --agents 10 --rounds 5
//
// Agents run as their own processes (bench/fleet.ts), all on this machine:
// 50 of them reading dpkg's database at once is what the machine's two
// cores do, not what 50 hosts would.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isOperationType } from '../src/contract/operations.js';
import { type AnyJson, post, request, startTestSystem } from '../test/support/system.js';
import { startAgentChild, stats } from './fleet.js';
import { writeSection } from './results.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '10' },
  },
});
const AGENTS = Number(values.agents);
const ROUNDS = Number(values.rounds);

const sys = await startTestSystem({ overrides: { 'agent.max_jobs': 10 } });
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'osapi-bench-domains-'));
try {
  const hosts = Array.from({ length: AGENTS }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  for (const h of hosts) children.push(await startAgentChild(sys, h));
  await sys.waitForAgents(hosts);
  const admin = await sys.token(['admin']);

  /** One request to every host; fails the run unless every host answered ok. */
  const everyHost = async (
    what: string,
    send: () => Promise<{ status: number; body: AnyJson }>,
  ) => {
    const r = await send();
    const results = (r.body?.results ?? []) as AnyJson[];
    const good = results.filter((x) => x.status === 'ok' || x.status === 'completed');
    if (good.length !== AGENTS) {
      throw new Error(
        `${what}: ${good.length} of ${AGENTS} hosts ok (HTTP ${r.status}): ${JSON.stringify(results.find((x) => !good.includes(x)))}`,
      );
    }
  };
  const time = async (fn: () => Promise<void>) => {
    const samples: number[] = [];
    await fn(); // warm-up, not counted
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    return stats(samples);
  };

  await post(
    sys,
    '/file',
    {
      name: 'bench-template',
      content: Buffer.from(
        'host={{hostname}} arch={{facts.architecture}} port={{vars.port}}\n',
      ).toString('base64'),
      content_type: 'template',
    },
    admin,
  );

  const cases: Array<[string, () => Promise<void>]> = [
    [
      'command exec true (baseline)',
      () =>
        everyHost('exec', () => post(sys, '/node/_all/command/exec', { command: 'true' }, admin)),
    ],
    [
      'GET /node/_all/package',
      () =>
        everyHost('packages', () => request(sys, 'GET', '/node/_all/package', undefined, admin)),
    ],
  ];
  if (isOperationType('user.list')) {
    cases.push([
      'GET /node/_all/user',
      () => everyHost('users', () => request(sys, 'GET', '/node/_all/user', undefined, admin)),
    ]);
  }
  let round = 0;
  cases.push([
    'file deploy, template (changed each round)',
    () =>
      everyHost('deploy', () =>
        post(
          sys,
          '/node/_all/file/deploy',
          {
            object_name: 'bench-template',
            path: join(dir, 'conf-@fact.hostname'),
            content_type: 'template',
            // A new value each round, so every host writes its file.
            vars: { port: 8000 + round++ },
          },
          admin,
        ),
      ),
  ]);

  const measured: Array<[string, { p50: number; p95: number }]> = [];
  for (const [name, fn] of cases) {
    measured.push([name, await time(fn)]);
    console.log(name, measured.at(-1)?.[1]);
  }
  const base = measured[0]?.[1].p50 ?? Number.NaN;
  // Measured apart: serialising the answer again is not part of what was timed.
  const packageBytes = Buffer.byteLength(
    JSON.stringify((await request(sys, 'GET', '/node/_all/package', undefined, admin)).body),
  );
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  writeSection('domains', [
    `## Managed domains on ${AGENTS} agents (${new Date().toISOString().slice(0, 10)}, ${ROUNDS} rounds each)`,
    '',
    '`npm run bench:domains`: every agent its own process on this machine; each request goes to `_all` and waits for every host.',
    '',
    '| request | p50 | p95 | p50 / exec true |',
    '|---|---|---|---|',
    ...measured.map(
      ([n, s]) => `| ${n} | ${ms(s.p50)} | ${ms(s.p95)} | ${(s.p50 / base).toFixed(2)}× |`,
    ),
    '',
    `The package list answers every host's whole dpkg list (${(packageBytes / AGENTS / 1024).toFixed(0)} KiB a host here, ${(packageBytes / 1024 / 1024).toFixed(1)} MiB an answer): what it costs over \`exec true\` is carrying and checking that. No process runs for it while dpkg's database is unchanged: each agent keeps the list it read (src/agent/handlers/package.ts). Users are read from /etc/passwd, /etc/group and /etc/shadow without a process; the deploy reads the object, renders it and writes a file on each host.`,
  ]);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sys.stop();
  rmSync(dir, { recursive: true, force: true });
}
