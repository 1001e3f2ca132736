// The command operations in the handler table: runs the job through
// command-handler.ts and adds what the agent reports beside the result.
import { CommandResult, finalStateOf } from '../../job/records.js';
import { validatorOf } from '../../job/schema-check.js';
import { type HandlerOutcome as CommandOutcome, runCommandJob } from '../command-handler.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

function commandHandler(mode: 'exec' | 'shell'): JobHandler {
  return async (data: unknown, ctx: HandlerContext): Promise<HandlerOutcome> => {
    const outcome = await runCommandJob(
      mode,
      data,
      {
        maxOutputBytes: ctx.maxOutputBytes,
        ...(ctx.onOutput ? { onOutput: ctx.onOutput } : {}),
      },
      ctx.signal,
    );
    const result = outcome.data;
    if (ctx.signal.aborted && result?.end === 'cancelled') {
      // The agent aborts with a sentence saying who cancelled: an operator, or its own stop.
      const why: unknown = ctx.signal.reason;
      outcome.error =
        typeof why === 'string' ? why : 'cancelled: the agent was stopped while the command ran';
    }
    return { ...outcome, ...(result ? { message: `exit code ${result.exit_code}` } : {}) };
  };
}

export const execHandler = commandHandler('exec');
export const shellHandler = commandHandler('shell');

/** A command job's outcome with its result typed again, for whoever reads its fields (metrics). */
export function commandOutcome(o: HandlerOutcome): CommandOutcome {
  return {
    status: o.status,
    state: finalStateOf(o),
    data: validatorOf(CommandResult).Check(o.data) ? o.data : null,
    ...(o.error !== undefined ? { error: o.error } : {}),
  };
}
