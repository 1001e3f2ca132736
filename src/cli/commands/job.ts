// `osapi client job …`: create, run, list, inspect, delete and retry jobs.
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { JobDetail, JobOperation } from '../../sdk/client.js';
import { clientFor } from '../api-client.js';
import { ExitError, printJson, say, UsageError } from '../context.js';
import { escapeLine } from '../escape.js';
import { durationFlag, intFlag } from '../flags.js';
import { jobDetailText, jobListTable } from '../output.js';

function readJobFile(path: string): JobOperation {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--json-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--json-file: ${path} is not valid JSON (${(err as Error).message})`);
  }
  if (
    !body ||
    typeof body !== 'object' ||
    Array.isArray(body) ||
    typeof (body as { type?: unknown }).type !== 'string'
  ) {
    throw new UsageError(
      `--json-file: ${path} must hold a job body {"type": "...", "data": {...}}`,
    );
  }
  // The API validates type and data; its answer names what is wrong.
  return body as JobOperation;
}

const FINAL = new Set(['completed', 'failed', 'partial_failure']);

export function registerJobCommands(client: Command): void {
  const job = client.command('job').description('Jobs: every operation is one.');

  job
    .command('add')
    .description('Create a job (POST /job) and print its id; agents run it.')
    .requiredOption(
      '--json-file <file>',
      'the job body: {"type": "command.exec.execute", "data": {...}}',
    )
    .requiredOption(
      '--target-hostname <target>',
      '_any, _all, a hostname, key:value or fact:<key><op><value>',
    )
    .action(async (opts: { jsonFile: string; targetHostname: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobAdd(readJobFile(opts.jsonFile), opts.targetHostname);
      if (ctx.json) printJson(body);
      else
        process.stdout.write(
          `Job ID: ${escapeLine(body.job_id)}\nStatus: ${escapeLine(body.status)}\n`,
        );
    });

  job
    .command('run')
    .description('Create a job and wait for its end, polling GET /job/{id}.')
    .requiredOption('--json-file <file>', 'the job body: {"type": ..., "data": {...}}')
    .requiredOption(
      '--target-hostname <target>',
      '_any, _all, a hostname, key:value or fact:<key><op><value>',
    )
    // The defaults are kept in ms; their descriptions say them as a user types them.
    .addOption(
      new Option('-t, --timeout <time>', 'give up after this long (seconds or a duration)')
        .argParser(durationFlag('--timeout'))
        .default(60_000, '60s'),
    )
    .addOption(
      new Option('-p, --poll-interval <time>', 'time between polls (seconds or a duration)')
        .argParser(durationFlag('--poll-interval'))
        .default(500, '500ms'),
    )
    .action(
      async (
        opts: { jsonFile: string; targetHostname: string; timeout: number; pollInterval: number },
        cmd: Command,
      ) => {
        const { ctx, client: api } = clientFor(cmd);
        const { body: created } = await api.jobAdd(readJobFile(opts.jsonFile), opts.targetHostname);
        const until = Date.now() + opts.timeout;
        let detail: JobDetail;
        for (;;) {
          detail = (await api.jobGet(created.job_id)).body;
          if (FINAL.has(detail.status) || Date.now() >= until) break;
          await new Promise((r) =>
            setTimeout(r, Math.min(opts.pollInterval, Math.max(0, until - Date.now()))),
          );
        }
        if (ctx.json) printJson(detail);
        else process.stdout.write(jobDetailText(detail));
        if (!FINAL.has(detail.status)) {
          say(
            `job ${escapeLine(detail.id)} is still ${escapeLine(detail.status)} after ${opts.timeout / 1000} s; follow it with: osapi client job get --job-id ${escapeLine(detail.id)}`,
          );
          throw new ExitError(1);
        }
        if (detail.status !== 'completed') throw new ExitError(1);
      },
    );

  job
    .command('list')
    .description('Jobs, newest first (GET /job).')
    .option('--status <status>', 'submitted, processing, completed, failed or partial_failure')
    .option('--limit <n>', 'how many (1..100, default 20)', intFlag('--limit', 1, 100))
    .option('--offset <n>', 'skip this many', intFlag('--offset', 0))
    .action(async (opts: { status?: string; limit?: number; offset?: number }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobList(opts);
      if (ctx.json) printJson(body);
      else {
        process.stdout.write(jobListTable(body.items));
        say(`${body.items.length} of ${body.total_items} job${body.total_items === 1 ? '' : 's'}`);
      }
    });

  job
    .command('get')
    .description('One job: per-host results, agent states and timeline (GET /job/{id}).')
    .requiredOption('--job-id <id>', 'the job')
    .action(async (opts: { jobId: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobGet(opts.jobId);
      if (ctx.json) printJson(body);
      else process.stdout.write(jobDetailText(body));
    });

  job
    .command('delete')
    .description('Delete a job and everything stored about it (DELETE /job/{id}).')
    .requiredOption('--job-id <id>', 'the job')
    .action(async (opts: { jobId: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      await api.jobDelete(opts.jobId);
      if (ctx.json) printJson({ job_id: opts.jobId, deleted: true });
      else say(`Deleted job ${opts.jobId}.`);
    });

  job
    .command('retry')
    .description('Run a job again as a new job (POST /job/{id}/retry).')
    .requiredOption('--job-id <id>', 'the job')
    .option('--target-hostname <target>', 'another target; default the same one')
    .action(async (opts: { jobId: string; targetHostname?: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobRetry(opts.jobId, opts.targetHostname);
      if (ctx.json) printJson(body);
      else
        process.stdout.write(
          `Job ID: ${escapeLine(body.job_id)}\nStatus: ${escapeLine(body.status)}\n`,
        );
    });

  job
    .command('cancel')
    .description(
      'Stop a job: kill it on every host still running it, keep the rest from starting (POST /job/{id}/cancel).',
    )
    .requiredOption('--job-id <id>', 'the job')
    .action(async (opts: { jobId: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobCancel(opts.jobId);
      if (ctx.json) printJson(body);
      else process.stdout.write(jobDetailText(body));
    });

  job
    .command('status')
    .description('Counts by status and operation, and the dead-letter count (GET /job/status).')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.jobStatus();
      if (ctx.json) {
        printJson(body);
        return;
      }
      const lines = [
        `Total jobs: ${body.total_jobs}`,
        `Dead letters: ${body.dlq_count}`,
        'By status:',
      ];
      // Operation names are as stored in the jobs bucket: escaped like any stored field.
      for (const [k, v] of Object.entries(body.status_counts))
        lines.push(`  ${escapeLine(`${k}: ${v}`)}`);
      lines.push('By operation:');
      for (const [k, v] of Object.entries(body.operation_counts))
        lines.push(`  ${escapeLine(`${k}: ${v}`)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
