// Command execution benchmark (issue: command execution). One run measures
// OSAPI and, in the same run, the baselines it is judged against, and prints
// ratios: machines here are noisy, absolute numbers are not comparable.
//
//   npm run bench            # writes its section of bench/RESULTS.md
//
// Loopback only; every loop is bounded in count.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { spawnMode, startProcess } from '../src/exec/direct-spawn.js';
import { ATTR, SPAN, startTracing, stopTracing } from '../src/trace/tracing.js';
import { type ReceivedSpan, startOtlpReceiver } from '../test/support/otlp-receiver.js';
import { startTestSystem, type TestSystem } from '../test/support/system.js';
import { median, startAgentChild, stats, stopChild } from './fleet.js';
import { writeSection } from './results.js';

const ms = (n: number) => `${n.toFixed(1)} ms`;
const ms2 = (n: number) => `${n.toFixed(2)} ms`;

/** The baseline: `child_process.spawn('true')` as is (its output piped), until it is done. */
function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('true');
    c.once('error', reject);
    c.once('close', () => resolve());
  });
}

/**
 * The same through posix_spawn (src/exec/direct-spawn.ts), which agents use
 * where the module is built: the floor of what an agent's run can cost here.
 */
function barePosixSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = startProcess('true', [], { cwd: process.cwd(), env: process.env, stdin: 'ignore' });
    c.stdout?.resume();
    c.stderr?.resume();
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
 * The mean of the middle 80 % of `values`: robust to a few stalls, and not
 * snapped to whole milliseconds as a median of ms-rounded differences is.
 */
function middleMean(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length / 10);
  const middle = sorted.slice(cut, sorted.length - cut);
  return middle.reduce((a, b) => a + b, 0) / middle.length;
}

/**
 * The hops of a round trip, in order, and what each holds (the table's
 * words); then the whole, and two spans inside the hops.
 */
const HOPS = [
  ['httpIn', 'HTTP in', "the client's request until the API's span starts"],
  ['apiBefore', 'API before the job', 'authentication, validation, audit, the plan'],
  ['notified', 'job to the agent', "signing, the definition's KV write and the notification"],
  ['agentBefore', 'agent before the run', "the job's signature checked, the claim's KV write"],
  ['run', 'the run', 'spawn to exit, as the agent timed it'],
  ['resultBack', 'result to the API', 'the result signed and stored, the API noticing it'],
  ['reply', 'reply', 'the response built and sent'],
  ['httpOut', 'HTTP out', "the API's span's end until the client has the parsed answer"],
  ['total', 'round trip', ''],
] as const;

/** In ms over the traced requests: each hop a mean of the middle 80 % (see tracedHops), the round trip a median. */
type Hops = Record<(typeof HOPS)[number][0] | 'publishSpan' | 'storeSpan', number>;

/**
 * Where one host's round trip goes, from traces: the API server (in this
 * process) and an agent process of its own export their spans to a receiver
 * here (docs/tracing.md), and each request's client-side send and answer are
 * read from the same clock. A span's duration is exact, but its start is the
 * system clock's millisecond (the tracing SDK's choice, against drift), so a
 * hop between two spans' times is off by under a millisecond either way: its
 * mean over many requests is right (the fractions are spread evenly), its
 * median snaps to whole milliseconds. The client's times are read the same
 * way (Date.now) for that reason. Tracing costs a little, so this is a pass
 * of its own, after the untraced figures, on an agent started for it.
 */
async function tracedHops(
  sys: TestSystem,
  token: string,
  n: number,
): Promise<{ hops: Hops; count: number }> {
  const receiver = await startOtlpReceiver();
  const hostname = 'bench-traced';
  const agent = await startAgentChild(sys, hostname, {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'osapi-agent',
  });
  const sent = new Map<string, { at: number; answered: number; elapsed: number }>();
  try {
    await sys.waitForAgents([hostname]);
    await startTracing({ url: receiver.url, serviceName: 'osapi-api' });
    for (let i = 0; i < n + 20; i++) {
      const at = Date.now();
      const t = performance.now();
      const res = await fetch(`${sys.url}/node/${hostname}/command/exec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ command: 'true' }),
      });
      const { job_id } = (await res.json()) as { job_id: string };
      // The first 20 warm the agent's and the API's traced paths.
      if (i >= 20) sent.set(job_id, { at, answered: Date.now(), elapsed: performance.now() - t });
    }
  } finally {
    await stopTracing();
    await stopChild(agent);
    await receiver.stop();
  }
  const spansOf = new Map<string, ReceivedSpan[]>();
  for (const span of receiver.spans) {
    const id = span.attributes[ATTR.jobId];
    if (typeof id !== 'string' || !sent.has(id)) continue;
    spansOf.set(id, [...(spansOf.get(id) ?? []), span]);
  }
  const rows: Hops[] = [];
  for (const [id, client] of sent) {
    const spans = spansOf.get(id) ?? [];
    const one = (name: string) => spans.find((s) => s.name === name);
    const request = spans.find((s) => s.name.startsWith('POST '));
    const [publish, receive, run, store, collect] = [
      SPAN.publish,
      SPAN.receive,
      SPAN.run,
      SPAN.store,
      SPAN.collect,
    ].map(one);
    if (!request || !publish || !receive || !run || !store || !collect) continue;
    rows.push({
      httpIn: request.startMs - client.at,
      apiBefore: publish.startMs - request.startMs,
      notified: receive.startMs - publish.startMs,
      agentBefore: run.startMs - receive.startMs,
      run: run.endMs - run.startMs,
      resultBack: collect.endMs - run.endMs,
      reply: request.endMs - collect.endMs,
      httpOut: client.answered - request.endMs,
      total: client.elapsed,
      publishSpan: publish.endMs - publish.startMs,
      storeSpan: store.endMs - store.startMs,
    });
  }
  if (rows.length < n / 2) {
    throw new Error(`bench: only ${rows.length} of ${n} traced requests had all their spans`);
  }
  const hops = Object.fromEntries(
    Object.keys(rows[0] as Hops).map((k) => {
      const values = rows.map((r) => r[k as keyof Hops]);
      return [k, k === 'total' ? median(values) : middleMean(values)];
    }),
  ) as Hops;
  return { hops, count: rows.length };
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
    const direct = spawnMode() === 'posix_spawn';
    const barePosix = direct ? stats(await timeEach(300, barePosixSpawn)) : undefined;
    const one = stats(await timeEach(300, () => exec(sys, token, 'bench-01', 1)));

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

    // Where the one-host time goes, on an agent of its own exporting spans.
    const hop = await tracedHops(sys, token, 100);
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
      `| one host, \`exec true\` p50 | ${ms(one.p50)} | bare spawn ${ms(bare.p50)} | ${(one.p50 / bare.p50).toFixed(2)}× | ≤ 1.5× |`,
    );
    out(
      `| one host, \`exec true\` p95 | ${ms(one.p95)} | bare spawn ${ms(bare.p95)} | ${(one.p95 / bare.p95).toFixed(2)}× | ≤ 2× |`,
    );
    if (barePosix) {
      out(
        `| one host, \`exec true\` p50 / p95, against posix_spawn | ${ms(one.p50)} / ${ms(one.p95)} | bare posix_spawn ${ms(barePosix.p50)} / ${ms(barePosix.p95)} | ${(one.p50 / barePosix.p50).toFixed(2)}× / ${(one.p95 / barePosix.p95).toFixed(2)}× | |`,
      );
    }
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
      `The one-host figures are end to end: HTTP request, job written to KV, notification on the stream, the agent (a separate process) claiming it, spawning \`true\`, storing the result, and the API answering. The baseline is Node's \`child_process.spawn\` from this process (a fork of it, then exec). The agent ${direct ? 'started its commands with posix_spawn (src/exec/direct-spawn.ts), which does not copy its memory; the row against posix_spawn compares it with that way of starting `true` alone' : "started its commands with Node's spawn too: dist/native/direct-spawn.node was not built (no C compiler at setup)"}.`,
    );
    out();
    out(
      `Where a one-host round trip goes, from traces (${hop.count} more requests to an agent exporting its spans, after the figures above; each hop the mean of the middle 80 %, the round trip a median: they need not add up):`,
    );
    out();
    out('| hop | ms | what it holds |');
    out('|---|---|---|');
    const inside: Partial<Record<keyof Hops, string>> = {
      notified: ` (the publish span: ${ms2(hop.hops.publishSpan)})`,
      resultBack: ` (the store span: ${ms2(hop.hops.storeSpan)})`,
    };
    for (const [key, name, what] of HOPS) {
      out(`| ${name} | ${ms2(hop.hops[key])} | ${what}${inside[key] ?? ''} |`);
    }
    // Only this benchmark's section: bench/jobs-list.ts keeps its own in the same file.
    writeSection('command', lines);
  } finally {
    await sys.stop();
  }
}

await main();
