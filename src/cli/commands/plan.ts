// `osapi plan run FILE`: runs a plan (docs/plans.md) through the API with the
// client's token, as `osapi client` reaches it. Progress goes to stderr as
// each step starts, retries and ends; the report, a row per step and host,
// to stdout (-j: the report as JSON). Exit 0 only when every step succeeded
// on every host it ran on; 2 when the plan file is not valid (nothing ran).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Plan, PlanError, parsePlan } from '../../sdk/plan.js';
import {
  type PlanEvent,
  type PlanPreview,
  type PlanReport,
  previewPlan,
  RUN_ID_PATTERN,
  runPlan,
} from '../../sdk/plan-run.js';
import { clientFor } from '../api-client.js';
import { ExitError, printJson, say, UsageError } from '../context.js';
import { escapeLine } from '../escape.js';
import { newTable, row, shorten } from '../output.js';

function readPlan(file: string): Plan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read the plan ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    return parsePlan(text, file);
  } catch (err) {
    if (err instanceof PlanError) {
      throw new UsageError(
        `the plan is not valid; nothing ran:\n${err.problems
          .map(
            (p) =>
              `  ${p.where}: ${p.step !== undefined ? `step "${p.step}": ` : ''}${escapeLine(p.message)}`,
          )
          .join('\n')}`,
      );
    }
    throw err;
  }
}

function hostsText(hosts: readonly string[] | null): string {
  if (hosts === null) return 'one agent the API picks (_any)';
  return hosts.length === 0 ? 'no host' : hosts.join(', ');
}

/** One line of progress on stderr. */
function progress(e: PlanEvent): void {
  switch (e.kind) {
    case 'step_started':
      say(escapeLine(`[${e.step}] running on ${hostsText(e.hosts)}`));
      return;
    case 'retrying':
      say(
        escapeLine(
          `[${e.step}] attempt ${e.attempt} in ${e.delay_ms} ms on ${e.hosts.length > 0 ? e.hosts.join(', ') : 'the target again'}`,
        ),
      );
      return;
    case 'step_ended': {
      const r = e.report;
      const count = (s: string) => r.hosts.filter((h) => h.status === s).length;
      const tally = ['ok', 'failed', 'skipped', 'no_answer', 'not_selected']
        .map((s) => [s, count(s)] as const)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      const why = r.error ? `: ${r.error}` : '';
      say(escapeLine(`[${r.name}] ${r.status}${tally ? ` (${tally})` : ''}${why}`));
    }
  }
}

function reportTable(report: PlanReport): string {
  const t = newTable(['STEP', 'STATUS', 'HOST', 'HOST STATUS', 'CHANGED', 'ATTEMPTS', 'ERROR']);
  for (const s of report.steps) {
    if (s.hosts.length === 0) {
      t.push(row([s.name, s.status, '-', '-', '-', '-', shorten(s.error ?? '')]));
      continue;
    }
    for (const h of s.hosts) {
      t.push(
        row([
          s.name,
          s.status,
          h.hostname,
          h.status,
          String(h.changed),
          String(h.attempts),
          shorten(h.error ?? ''),
        ]),
      );
    }
  }
  return `Run ID: ${escapeLine(report.run_id)}\n${t.toString()}\n`;
}

function previewText(preview: PlanPreview): string {
  const lines = ['Order (the steps of a level run side by side):'];
  preview.levels.forEach((level, i) => {
    for (const s of level) {
      const guards = [
        s.after.length > 0 ? `after ${s.after.join(', ')}` : '',
        s.when !== undefined ? `when ${s.when}` : '',
        s.only_if_changed !== undefined ? `only where "${s.only_if_changed}" changed` : '',
        s.only_if_failed !== undefined ? `only where "${s.only_if_failed}" failed` : '',
      ].filter(Boolean);
      lines.push(
        escapeLine(
          `${i + 1}. ${s.name}: ${s.operation} on ${s.target} → ${hostsText(s.hosts)}${guards.length > 0 ? ` (${guards.join('; ')})` : ''}`,
        ),
      );
    }
  });
  return `${lines.join('\n')}\n`;
}

export function registerPlanCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description('Plans: several operations across the fleet, in order (docs/plans.md).');
  plan
    .command('run')
    .description(
      'Run a plan file: its steps as jobs through the API, in the order after: gives, with guards and retries; a report per step and host.',
    )
    .argument('<file>', 'the plan (YAML)')
    .option('--dry-run', 'print the order and the hosts each step would reach; run nothing')
    .option(
      '--run-id <id>',
      "this run's id, in every step's Idempotency-Key: the id of an earlier run resumes it (what it ran is not run again)",
    )
    .option('--url <url>', 'API base URL (overrides api.client.url)')
    .action(async (file: string, opts: { dryRun?: boolean; runId?: string }, cmd: Command) => {
      const parsed = readPlan(file);
      if (opts.runId !== undefined && !RUN_ID_PATTERN.test(opts.runId)) {
        throw new UsageError(
          "--run-id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        );
      }
      const { ctx, client } = clientFor(cmd);
      if (opts.dryRun) {
        const preview = await previewPlan(parsed, { client });
        if (ctx.json) printJson(preview);
        else process.stdout.write(previewText(preview));
        return;
      }
      const runId = opts.runId ?? crypto.randomUUID();
      say(`Run ID: ${runId} (run again with --run-id ${runId} to resume this run)`);
      const report = await runPlan(parsed, { client, runId, onEvent: progress });
      if (ctx.json) printJson(report);
      else process.stdout.write(reportTable(report));
      if (!report.succeeded) throw new ExitError(1);
    });
}
