// Command execution benchmark (issue: command execution). One run measures
// OSAPI and, in the same run, the baselines it is judged against, and prints
// ratios: machines here are noisy, absolute numbers are not comparable.
//
//   npm run bench            # writes its section of bench/RESULTS.md
//
// Loopback only; every loop is bounded in count.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startTestSystem, type TestSystem } from '../test/support/system.js';
import { median, startAgentChild, stats } from './fleet.js';
import { writeSection } from './results.js';

const ms = (n: number) => `${n.toFixed(1)} ms`;

/** The baseline: `child_process.spawn('true')` as is (its output piped), until it is done. */
function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('true');
    c.once('error', reject);
    c.once('close', () => resolve());
  });
}

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

async function throughput(
  total: number,
  concurrency: number,
  fn: () => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        await fn();
      }
    }),
  );
  return total / ((performance.now() - t) / 1000);
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
}

async function exec(sys: TestSystem, token: string, target: string, expect: number): Promise<void> {
  const res = await fetch(`${sys.url}/node/${target}/command/exec`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ command: 'true' }),
  });
  const body = (await res.json()) as { results?: unknown[] };
  if (res.status !== 202 || body.results?.length !== expect) {
    throw new Error(`unexpected answer ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
}

/**
 * Where one host's round trip goes, from each job's own timestamps (one
 * clock: everything runs on this machine): the request until the API made
 * the job (HTTP, auth, audit), until the agent started it (the definition
 * stored, the notification, the agent's check and claim), the run itself
 * (the spawn until the exit, as the agent measured it), and from its end
 * until the answer arrived (the result stored, the API noticing it, the
 * HTTP answer). Medians, in ms; a job whose `started` event the API had not
 * read yet when asked is left out.
 */
async function hops(sys: TestSystem, token: string, n: number) {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const sent = Date.now();
    const res = await fetch(`${sys.url}/node/bench-01/command/exec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ command: 'true' }),
    });
    const answered = Date.now();
    const { job_id } = (await res.json()) as { job_id: string };
    const job = (await (
      await fetch(`${sys.url}/job/${job_id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as {
      created: string;
      result: { duration_ms: number } | null;
      timeline: Array<{ event: string; timestamp: string }>;
    };
    const created = Date.parse(job.created);
    const started = Date.parse(job.timeline.find((e) => e.event === 'started')?.timestamp ?? '');
    const run = job.result?.duration_ms ?? Number.NaN;
    const row = [created - sent, started - created, run, answered - started - run];
    if (row.every(Number.isFinite)) rows.push(row);
  }
  const mid = (k: number) => median(rows.map((r) => r[k] as number));
  return { made: mid(0), started: mid(1), run: mid(2), answered: mid(3), count: rows.length };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const out = (s = '') => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  const sys = await startTestSystem({
    resultMarginMs: 5000,
    // Thousands of requests with one token: the bench measures commands, not
    // the audit log's rate per token subject (a 429 beyond it).
    overrides: {
      'api.server.security.audit.user_rate': 1_000_000,
      'api.server.security.audit.user_burst': 1_000_000,
    },
  });
  const token = await sys.token();
  try {
    // 1. One host: API round trip against a bare spawn.
    const agent = await startAgentChild(sys, 'bench-01');
    await sys.waitForAgents(['bench-01']);
    const rssIdle = rssMb(agent.pid ?? 0);
    await timeEach(50, () => exec(sys, token, 'bench-01', 1)); // warm-up
    await timeEach(50, bareSpawn);
    const bare = stats(await timeEach(300, bareSpawn));
    const one = stats(await timeEach(300, () => exec(sys, token, 'bench-01', 1)));
    const hop = await hops(sys, token, 100);

    // 2. Throughput: `_any` with one agent (max_jobs 10) against 10 parallel bare spawns.
    const bareRate = await throughput(1000, 10, bareSpawn);
    const anyRate = await throughput(1000, 10, () => exec(sys, token, '_any', 1));

    // 3. Memory: the agent process idle, then after 1,000 more jobs.
    const rssAfterFirst = rssMb(agent.pid ?? 0);
    await throughput(1000, 10, () => exec(sys, token, 'bench-01', 1));
    const rssAfterSecond = rssMb(agent.pid ?? 0);
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    await sys.waitForAgents([]);

    // 4. Broadcast to 10 and 50 agents (instances in this process, own connections).
    const fan: Record<number, { p50: number; p95: number }> = {};
    let started = 0;
    for (const n of [10, 50]) {
      for (; started < n; started++)
        await sys.startAgent(`fan-${String(started).padStart(3, '0')}`);
      await sys.waitForAgents(
        Array.from({ length: n }, (_, i) => `fan-${String(i).padStart(3, '0')}`),
      );
      await timeEach(10, () => exec(sys, token, '_all', n));
      fan[n] = stats(await timeEach(100, () => exec(sys, token, '_all', n)));
    }

    out('# Benchmark results: command execution');
    out();
    out(
      `Made by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, nats-server ${sys.api.nc.info?.version}, ${(await import('node:os')).cpus().length} cores. Ratios are against baselines measured in the same run.`,
    );
    out();
    out('| measure | OSAPI | baseline | ratio | target |');
    out('|---|---|---|---|---|');
    out(
      `| one host, \`exec true\` p50 | ${ms(one.p50)} | bare spawn ${ms(bare.p50)} | ${(one.p50 / bare.p50).toFixed(2)}× | ≤ 2× |`,
    );
    out(
      `| one host, \`exec true\` p95 | ${ms(one.p95)} | bare spawn ${ms(bare.p95)} | ${(one.p95 / bare.p95).toFixed(2)}× | |`,
    );
    out(
      `| \`_any\` throughput, 1 agent, max_jobs 10 | ${anyRate.toFixed(0)} jobs/s | ${bareRate.toFixed(0)} spawns/s (10 parallel) | ${((100 * anyRate) / bareRate).toFixed(0)}% | ≥ 50% |`,
    );
    for (const n of [10, 50]) {
      const f = fan[n];
      if (f)
        out(
          `| \`_all\` to ${n} agents p50 / p95 | ${ms(f.p50)} / ${ms(f.p95)} | reference: 3,000 ms quiet period | ${(f.p50 / 3000).toFixed(3)}× | p50 ≤ 500 ms at 50 |`,
        );
    }
    out(
      `| agent RSS idle / after ~1,750 jobs / after ~2,750 | ${rssIdle.toFixed(0)} MB / ${rssAfterFirst.toFixed(0)} MB / ${rssAfterSecond.toFixed(0)} MB | | growth over the last 1,000: ${(rssAfterSecond - rssAfterFirst).toFixed(1)} MB | ≤ 80 MB, no growth after the first 1,000 |`,
    );
    out();
    out(
      'The one-host figures are end to end: HTTP request, job written to KV, notification on the stream, the agent (a separate process) claiming it, spawning `true`, storing the result, and the API answering.',
    );
    out();
    out(
      `Where a one-host round trip goes (medians of ${hop.count} more, from each job's timestamps, ms granularity): request to job made ${ms(hop.made)} (HTTP, auth, audit); to the agent starting it ${ms(hop.started)} (definition stored, notification, the agent's check and claim); the run ${ms(hop.run)} (spawn to exit, as the agent measured it); its end to the answer ${ms(hop.answered)} (result stored, the API noticing it, the HTTP answer).`,
    );
    // Only this benchmark's section: bench/jobs-list.ts keeps its own in the same file.
    writeSection('command', lines);
  } finally {
    await sys.stop();
  }
}

await main();
