// Job listing benchmark (issue: operator view): with 10,000 jobs in the
// job-queue bucket, how fast the API answers `GET /job?limit=20`,
// `GET /job?status=submitted&limit=20` and `GET /job/status`, against a plain
// `GET /health` measured in the same run (ratios: machines here are noisy),
// and what the jobs view costs the API process in memory.
//
//   npm run bench:jobs       # writes its section of bench/RESULTS.md
//
// Loopback only; every loop is bounded in count and time.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/job/clock.js';
import { appendStatus, type JobStore, openJobStore, publishJob } from '../src/job/store.js';
import { infraNames } from '../src/names/names.js';
import { startTestSystem, type TestSystem } from '../test/support/system.js';
import { writeSection } from './results.js';

const ROOT = join(import.meta.dirname, '..');
const JOBS = 10_000;
/** One job in this many gets `started` and `completed` events, so the status filter has work to do. */
const COMPLETED_EVERY = 4;
/** A host with no agent: the jobs are stored and announced, and nothing runs them. */
const NOBODY = 'bench-nobody';
const SAMPLES = 200;
const WARMUP = 20;
/** Per measured route, whatever SAMPLES says. */
const ROUTE_BUDGET_MS = 60_000;
const LOAD_BUDGET_MS = 180_000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
function stats(samples: number[]): { p50: number; p95: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), n: s.length };
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * The API server in its own process, through bin/osapi as an installed one
 * runs, so its memory is its own and not this script's (which writes the jobs).
 */
async function startApiChild(sys: TestSystem): Promise<{ child: ChildProcess; url: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OSAPI_')) env[k] = v;
  const child = spawn(join(ROOT, 'bin/osapi'), ['api', 'server', 'start', '-j'], {
    env: {
      ...env,
      OSAPI_API_SERVER_HOST: '127.0.0.1',
      OSAPI_API_SERVER_PORT: '0',
      OSAPI_API_SERVER_NATS_SERVERS: sys.nats.url,
      OSAPI_API_SERVER_NATS_NAMESPACE: sys.config.api.server.nats.namespace,
      // The same layout settings as the test system's, so nothing is "updated".
      OSAPI_NATS_KV_STORAGE: sys.config.nats.kv.storage,
      OSAPI_NATS_STREAM_STORAGE: sys.config.nats.stream.storage,
      OSAPI_STATE_DIR: sys.config.state_dir,
      // Tokens from sys.token() are valid for it too.
      OSAPI_API_SERVER_SECURITY_SIGNING_KEY: sys.signingKey,
      // Hundreds of requests with one token in a few seconds: the bench
      // measures listing, not the audit log's rate per token subject.
      OSAPI_API_SERVER_SECURITY_AUDIT_USER_RATE: '1000000',
      OSAPI_API_SERVER_SECURITY_AUDIT_USER_BURST: '1000000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b;
      const m = /"api_url":\s*"([^"]+)"/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the API server exited ${code}`)));
  });
  return { child, url };
}

async function pool(total: number, concurrency: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

async function loadJobs(store: JobStore): Promise<void> {
  const deadline = Date.now() + LOAD_BUDGET_MS;
  await pool(JOBS, 64, async (i) => {
    if (Date.now() > deadline)
      throw new Error(`writing ${JOBS} jobs took over ${LOAD_BUDGET_MS} ms`);
    const job = await publishJob(store, {
      type: 'command.exec.execute',
      data: { command: 'true', args: [], timeout: 30 },
      target: { kind: 'host', hostname: NOBODY },
      createdBy: 'bench@example.com',
      startWithinMs: 10 * 60_000,
    });
    if (i % COMPLETED_EVERY === 0) {
      // As an agent would leave it: the job then derives as completed.
      await appendStatus(store, job.id, 'started', NOBODY);
      await appendStatus(store, job.id, 'completed', NOBODY);
    }
  });
}

let requests = 0;

async function get(url: string, token: string): Promise<unknown> {
  requests++;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body: unknown = await res.json();
  if (res.status !== 200) {
    throw new Error(`${url} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return body;
}

/** Polls GET /job/status until the API's jobs view holds every job (bounded). */
async function waitForView(base: string, token: string): Promise<number> {
  const t0 = performance.now();
  const deadline = Date.now() + LOAD_BUDGET_MS;
  for (;;) {
    const s = (await get(`${base}/job/status`, token)) as {
      total_jobs: number;
      status_counts: Record<string, number>;
    };
    if (s.total_jobs === JOBS && s.status_counts.completed === JOBS / COMPLETED_EVERY) {
      return performance.now() - t0;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the jobs view holds ${s.total_jobs} of ${JOBS} jobs after ${LOAD_BUDGET_MS} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function measure(
  url: string,
  token: string,
): Promise<{ p50: number; p95: number; n: number }> {
  for (let i = 0; i < WARMUP; i++) await get(url, token);
  const out: number[] = [];
  const deadline = Date.now() + ROUTE_BUDGET_MS;
  for (let i = 0; i < SAMPLES && Date.now() < deadline; i++) {
    const t = performance.now();
    await get(url, token);
    out.push(performance.now() - t);
  }
  return stats(out);
}

async function main(): Promise<void> {
  const sys = await startTestSystem();
  let api: ChildProcess | undefined;
  try {
    const token = await sys.token();
    const started = await startApiChild(sys);
    api = started.child;
    const base = started.url;
    const pid = api.pid ?? 0;
    const rssEmpty = rssMb(pid);

    const names = infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
    const store = await openJobStore(sys.api.nc, names, systemClock, sys.api.signer);
    const t0 = performance.now();
    await loadJobs(store);
    const writeMs = performance.now() - t0;
    const settleMs = await waitForView(base, token);
    const rssLoaded = rssMb(pid);
    requests = 0;

    // Interleaved rounds would spread noise evenly; sequential blocks keep
    // each route's p95 its own. The baseline goes first and last.
    const health = await measure(`${base}/health`, token);
    const list = await measure(`${base}/job?limit=20`, token);
    const submitted = await measure(`${base}/job?status=submitted&limit=20`, token);
    const counts = await measure(`${base}/job/status`, token);
    const healthAfter = await measure(`${base}/health`, token);
    const rssAfter = rssMb(pid);
    const measured = requests;
    const baseline = {
      p50: Math.min(health.p50, healthAfter.p50),
      p95: Math.min(health.p95, healthAfter.p95),
    };

    const page = (await get(`${base}/job?status=submitted&limit=20`, token)) as {
      total_items: number;
    };
    const lines: string[] = [];
    const out = (s = '') => lines.push(s);
    out('# Benchmark results: job listing with 10,000 jobs');
    out();
    out(
      `Made by \`npm run bench:jobs\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, nats-server ${sys.api.nc.info?.version}, ${cpus().length} cores. ${JOBS.toLocaleString('en')} jobs for a host with no agent (one in ${COMPLETED_EVERY} given \`started\` and \`completed\` events, so ${page.total_items.toLocaleString('en')} are \`submitted\`), written in ${(writeMs / 1000).toFixed(1)} s; the API's jobs view held them all ${(settleMs / 1000).toFixed(1)} s after the last write. The API server runs in its own process (\`bin/osapi api server start\`); ${SAMPLES} requests per route, one at a time, after ${WARMUP} warm-up requests. Ratios are against \`GET /health\` in the same run (the lower of its two runs, before and after).`,
    );
    out();
    out('| request | p50 | p95 | p50 ratio to `GET /health` | p95 ratio |');
    out('|---|---|---|---|---|');
    const row = (name: string, s: { p50: number; p95: number }) =>
      out(
        `| ${name} | ${ms(s.p50)} | ${ms(s.p95)} | ${(s.p50 / baseline.p50).toFixed(1)}× | ${(s.p95 / baseline.p95).toFixed(1)}× |`,
      );
    out(
      `| \`GET /health\` (baseline, before / after) | ${ms(health.p50)} / ${ms(healthAfter.p50)} | ${ms(health.p95)} / ${ms(healthAfter.p95)} | 1× | 1× |`,
    );
    row('`GET /job?limit=20`', list);
    row('`GET /job?status=submitted&limit=20`', submitted);
    row('`GET /job/status`', counts);
    out();
    out(
      `API process RSS: ${rssEmpty.toFixed(0)} MB with an empty bucket, ${rssLoaded.toFixed(0)} MB holding ${JOBS.toLocaleString('en')} jobs, ${rssAfter.toFixed(0)} MB after the ${measured.toLocaleString('en')} requests of the measurements.`,
    );
    for (const l of lines) process.stdout.write(`${l}\n`);
    writeSection('jobs', lines);
  } finally {
    if (api && api.exitCode === null) {
      const exited = new Promise((r) => api?.once('exit', r));
      api.kill('SIGTERM');
      await exited;
    }
    await sys.stop();
  }
}

await main();
