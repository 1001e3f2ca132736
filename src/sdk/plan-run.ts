// Runs a plan (src/sdk/plan.ts) through the API, as its user: every step is
// an ordinary job of its operation's route, so it is authorised with the
// client's token, audited and idempotent. Each request carries an
// Idempotency-Key made of the plan's run id, the step, the attempt and (for a
// job sent to one host) the host: the same plan run again with the same run
// id gets back the jobs it made instead of running them a second time.
import { createHash, randomUUID } from 'node:crypto';
import type { OperationType } from '../contract/operations.js';
import { OsapiApiError, type OsapiClient } from './client.js';
import { backoffBefore, type Plan, type PlanStep, planLevels } from './plan.js';

// The package's `osapi/plan` entry: the format and the runner in one import.
export {
  checkPlan,
  type Plan,
  PlanError,
  type PlanProblem,
  type PlanRetry,
  type PlanStep,
  parsePlan,
  planLevels,
} from './plan.js';

/** How a host ended in a step. `not_selected`: a guard left it out; the step did not run there. */
export type PlanHostStatus = 'ok' | 'failed' | 'skipped' | 'no_answer' | 'not_selected';

export interface PlanHostResult {
  hostname: string;
  status: PlanHostStatus;
  /** The host's state changed (a change's `changed`, a command's). */
  changed: boolean;
  /** The runs of the step on this host (retries included); 0 when not selected. */
  attempts: number;
  error?: string;
  /** The job of the last run on this host. */
  job_id?: string;
}

/**
 * `succeeded`: it ran and every host it ran on ended ok. `skipped`: its
 * guards selected no host. `not_run`: the plan stopped before it.
 */
export type PlanStepStatus = 'succeeded' | 'failed' | 'skipped' | 'not_run';

export interface PlanStepReport {
  name: string;
  operation: OperationType;
  target: string;
  status: PlanStepStatus;
  /** Why it failed as a whole, or was not run (the API's refusal, no agent, the plan stopped). */
  error?: string;
  hosts: PlanHostResult[];
}

export interface PlanReport {
  run_id: string;
  name?: string;
  /** True when every step that ran succeeded on every host it ran on. */
  succeeded: boolean;
  steps: PlanStepReport[];
}

/** What happens while a plan runs, for a progress display. */
export type PlanEvent =
  | { kind: 'step_started'; step: string; hosts: string[] | null }
  | { kind: 'retrying'; step: string; attempt: number; hosts: string[]; delay_ms: number }
  | { kind: 'step_ended'; report: PlanStepReport };

export interface RunPlanOptions {
  client: OsapiClient;
  /**
   * Names this run in every step's Idempotency-Key; give the id of an
   * earlier run to resume it: what it ran is answered from its jobs, not run
   * again. Default: a new one (a UUID).
   */
  runId?: string;
  onEvent?: (event: PlanEvent) => void;
}

/** A run id: printable, short, so that the keys made from it stay within 255 characters. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Jobs sent to single hosts at once within a step. */
const HOST_CALLS_AT_ONCE = 16;

/** The Idempotency-Key of one request of a plan run. */
export function planIdempotencyKey(
  runId: string,
  step: string,
  attempt: number,
  host?: string,
): string {
  const key = `osapi-plan:${runId}:${step}:${attempt}${host === undefined ? '' : `:${host}`}`;
  // A long hostname could make it longer than a key may be: its digest is as unique.
  return key.length <= 255 ? key : `osapi-plan:${createHash('sha256').update(key).digest('hex')}`;
}

/** The hosts a target reaches now (the API's preview: GET /agent?target=). */
async function reachedBy(client: OsapiClient, target: string): Promise<string[]> {
  const { body } = await client.agentList(target);
  return body.agents.map((a) => a.hostname).sort();
}

interface Item {
  hostname: string;
  status: string;
  error?: string;
  changed?: boolean;
  exit_code?: number;
}

/** A host's item of an answer, as the plan reads it. */
function outcomeOf(item: Item, jobId: string): Omit<PlanHostResult, 'attempts'> {
  const base = { hostname: item.hostname, changed: item.changed === true, job_id: jobId };
  const error = item.error !== undefined ? { error: item.error } : {};
  if (item.status === 'failed' || item.status === 'skipped' || item.status === 'no_answer') {
    return { ...base, status: item.status, ...error };
  }
  if (item.exit_code !== undefined && item.exit_code !== 0) {
    return { ...base, status: 'failed', error: item.error ?? `exited with code ${item.exit_code}` };
  }
  if (item.error !== undefined) return { ...base, status: 'failed', ...error };
  return { ...base, status: 'ok' };
}

/** Failed or silent: worth another run. A host that cannot do the operation (`skipped`) is not. */
function retryable(r: PlanHostResult): boolean {
  return r.status === 'failed' || r.status === 'no_answer';
}

function apiErrorText(err: unknown): string {
  if (err instanceof OsapiApiError) return `the API answered ${err.status}: ${err.message}`;
  throw err;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `tasks` with at most `limit` at once. */
async function inPool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

class StepRun {
  readonly results = new Map<string, PlanHostResult>();
  readonly notSelected: PlanHostResult[] = [];
  error?: string;

  constructor(
    private readonly step: PlanStep,
    private readonly opts: RunPlanOptions & { runId: string },
    private readonly earlier: ReadonlyMap<string, PlanStepReport>,
  ) {}

  async run(): Promise<PlanStepReport> {
    const { step } = this;
    let hosts: { reached: string[]; list: string[] } | null = null;
    if (step.target !== '_any') {
      try {
        hosts = await this.selectHosts();
      } catch (err) {
        this.opts.onEvent?.({ kind: 'step_started', step: step.name, hosts: [] });
        return this.report(
          'failed',
          `the target preview (GET /agent?target=) failed, so the step's hosts are not known: ${apiErrorText(err)}; a plan's token needs agent:read`,
        );
      }
    }
    this.opts.onEvent?.({ kind: 'step_started', step: step.name, hosts: hosts?.list ?? null });
    if (hosts && hosts.reached.length === 0) {
      return this.report('failed', `no Ready agent matches the target ${step.target}`);
    }
    if (hosts && hosts.list.length === 0) return this.report('skipped');
    // Every host the target reaches: one broadcast job, as the operation's own command sends it.
    if (hosts === null || hosts.list.length === hosts.reached.length) {
      await this.callTarget(1, hosts?.list ?? []);
    } else await this.callHosts(1, hosts.list);
    for (let attempt = 2; attempt <= step.retry.attempts; attempt++) {
      const again = [...this.results.values()].filter(retryable).map((r) => r.hostname);
      const anyAgain = hosts === null && (this.error !== undefined || again.length > 0);
      if (again.length === 0 && !anyAgain) break;
      const delay = backoffBefore(step.retry, attempt);
      this.opts.onEvent?.({
        kind: 'retrying',
        step: step.name,
        attempt,
        hosts: anyAgain ? [] : again,
        delay_ms: delay,
      });
      await sleep(delay);
      if (anyAgain) {
        this.error = undefined;
        this.results.clear();
        await this.callTarget(attempt, []);
      } else await this.callHosts(attempt, again);
    }
    const failed =
      this.error !== undefined || [...this.results.values()].some((r) => r.status !== 'ok');
    return this.report(failed ? 'failed' : 'succeeded', this.error);
  }

  /** The hosts the target reaches now, less those its guards leave out. */
  private async selectHosts(): Promise<{ reached: string[]; list: string[] }> {
    const { step } = this;
    const reached = await reachedBy(this.opts.client, step.target);
    let list = reached;
    const leaveOut = (keep: (h: string) => boolean, why: (h: string) => string) => {
      for (const h of list.filter((x) => !keep(x))) {
        this.notSelected.push({
          hostname: h,
          status: 'not_selected',
          changed: false,
          attempts: 0,
          error: why(h),
        });
      }
      list = list.filter(keep);
    };
    if (step.when !== undefined) {
      const holds = new Set(await reachedBy(this.opts.client, step.when));
      leaveOut(
        (h) => holds.has(h),
        () => `when: ${step.when} does not hold here`,
      );
    }
    const guard = step.only_if_changed ?? step.only_if_failed;
    if (guard !== undefined) {
      const earlier = new Map(
        (this.earlier.get(guard)?.hosts ?? []).map((r) => [r.hostname, r] as const),
      );
      const changedOnly = step.only_if_changed !== undefined;
      leaveOut(
        (h) => {
          const r = earlier.get(h);
          if (!r) return false;
          return changedOnly ? r.status === 'ok' && r.changed : retryable(r);
        },
        (h) => {
          const r = earlier.get(h);
          if (!r || r.status === 'not_selected') return `step "${guard}" did not run here`;
          return changedOnly
            ? `step "${guard}" changed nothing here`
            : `step "${guard}" did not fail here`;
        },
      );
    }
    return { reached, list };
  }

  /** One job to the step's target. */
  private async callTarget(attempt: number, expected: string[]): Promise<void> {
    const key = planIdempotencyKey(this.opts.runId, this.step.name, attempt);
    try {
      const { body } = await this.call(this.step.target, key);
      for (const item of body.results) this.record(item, body.job_id, attempt);
    } catch (err) {
      const error = apiErrorText(err);
      if (expected.length === 0) this.error = error;
      for (const h of expected) this.recordError(h, error, attempt);
    }
  }

  /** A job to each of `hosts`, each its own target. */
  private async callHosts(attempt: number, hosts: string[]): Promise<void> {
    await inPool(hosts, HOST_CALLS_AT_ONCE, async (host) => {
      const key = planIdempotencyKey(this.opts.runId, this.step.name, attempt, host);
      try {
        const { body } = await this.call(host, key);
        for (const item of body.results) this.record(item, body.job_id, attempt);
        if (body.results.length === 0)
          this.recordError(host, 'the API answered no result for this host', attempt);
      } catch (err) {
        this.recordError(host, apiErrorText(err), attempt);
      }
    });
  }

  private call(target: string, idempotencyKey: string) {
    const call = this.opts.client.call.bind(this.opts.client) as (
      type: OperationType,
      target: string,
      input: Record<string, unknown>,
      opts: { idempotencyKey: string },
    ) => Promise<{ body: { job_id: string; results: Item[] } }>;
    return call(this.step.operation, target, this.step.args, { idempotencyKey });
  }

  private record(item: Item, jobId: string, attempt: number): void {
    this.results.set(item.hostname, { ...outcomeOf(item, jobId), attempts: attempt });
  }

  private recordError(hostname: string, error: string, attempt: number): void {
    this.results.set(hostname, {
      hostname,
      status: 'failed',
      changed: false,
      attempts: attempt,
      error,
    });
  }

  private report(status: PlanStepStatus, error?: string): PlanStepReport {
    const hosts = [...this.results.values(), ...this.notSelected].sort((a, b) =>
      a.hostname.localeCompare(b.hostname),
    );
    return {
      name: this.step.name,
      operation: this.step.operation,
      target: this.step.target,
      status,
      ...(error !== undefined ? { error } : {}),
      hosts,
    };
  }
}

/**
 * Runs the plan: each step once the steps it waits for have ended, those
 * ready together side by side; a step whose `on_error` is `stop` and that
 * failed lets no further step start (those running finish). Answers a
 * report per step and host; throws only when the API cannot be reached
 * (OsapiConnectionError): run it again with the same `runId` to resume.
 * @example
 * const plan = parsePlan(readFileSync('upgrade.yaml', 'utf8'), 'upgrade.yaml');
 * const report = await runPlan(plan, { client, onEvent: (e) => console.error(e) });
 * if (!report.succeeded) process.exitCode = 1;
 */
export async function runPlan(plan: Plan, opts: RunPlanOptions): Promise<PlanReport> {
  const runId = opts.runId ?? randomUUID();
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(
      `invalid run id "${runId.slice(0, 80)}": 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  const done = new Map<string, PlanStepReport>();
  const running = new Map<string, Promise<void>>();
  let stoppedBy: string | undefined;
  const ready = (s: PlanStep) =>
    !done.has(s.name) && !running.has(s.name) && s.after.every((a) => done.has(a));
  for (;;) {
    if (stoppedBy === undefined) {
      for (const step of plan.steps.filter(ready)) {
        const run = new StepRun(step, { ...opts, runId }, done).run().then((report) => {
          done.set(step.name, report);
          running.delete(step.name);
          opts.onEvent?.({ kind: 'step_ended', report });
          if (report.status === 'failed' && step.on_error === 'stop') stoppedBy ??= step.name;
        });
        running.set(step.name, run);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  const steps = plan.steps.map(
    (s): PlanStepReport =>
      done.get(s.name) ?? {
        name: s.name,
        operation: s.operation,
        target: s.target,
        status: 'not_run',
        error: `the plan stopped: step "${stoppedBy}" failed (on_error: stop)`,
        hosts: [],
      },
  );
  return {
    run_id: runId,
    ...(plan.name !== undefined ? { name: plan.name } : {}),
    succeeded: steps.every((s) => s.status === 'succeeded' || s.status === 'skipped'),
    steps,
  };
}

/** A step as a dry run shows it: where it would run now. */
export interface PlanStepPreview {
  name: string;
  operation: OperationType;
  target: string;
  after: string[];
  /** The hosts the target reaches now, less those `when` leaves out; null for `_any` (one of them). */
  hosts: string[] | null;
  when?: string;
  only_if_changed?: string;
  only_if_failed?: string;
}

export interface PlanPreview {
  name?: string;
  /** The order: each level's steps start together once the levels before have ended. */
  levels: PlanStepPreview[][];
}

/** What the plan would do, without running anything: the order and each step's hosts. */
export async function previewPlan(plan: Plan, opts: { client: OsapiClient }): Promise<PlanPreview> {
  const levels: PlanStepPreview[][] = [];
  for (const level of planLevels(plan)) {
    levels.push(
      await Promise.all(
        level.map(async (s): Promise<PlanStepPreview> => {
          let hosts: string[] | null = null;
          if (s.target !== '_any') {
            hosts = await reachedBy(opts.client, s.target);
            if (s.when !== undefined) {
              const holds = new Set(await reachedBy(opts.client, s.when));
              hosts = hosts.filter((h) => holds.has(h));
            }
          }
          return {
            name: s.name,
            operation: s.operation,
            target: s.target,
            after: s.after,
            hosts,
            ...(s.when !== undefined ? { when: s.when } : {}),
            ...(s.only_if_changed !== undefined ? { only_if_changed: s.only_if_changed } : {}),
            ...(s.only_if_failed !== undefined ? { only_if_failed: s.only_if_failed } : {}),
          };
        }),
      ),
    );
  }
  return { ...(plan.name !== undefined ? { name: plan.name } : {}), levels };
}
