// power.reboot and power.shutdown: the agent answers first and acts after.
// The handler checks what it can (root, the tool is there) and answers; the
// agent stores that answer and only then runs `shutdown -r|-h -- WHEN
// [MESSAGE]` (HandlerOutcome.after), so the person who asked hears back
// before the host goes away. shutdown counts in minutes: a delay is rounded
// up to whole minutes.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { OperationType } from '../../contract/operations.js';
import type { PowerData } from '../../contract/power.js';
import { nodeHandler } from './checked.js';
import { needsRoot, runsAsRoot, runTool } from './host-tools.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

type Action = 'reboot' | 'shutdown';

/** Whether `tool` can be run: a path that is executable, or a name found on PATH. */
async function runnable(tool: string): Promise<boolean> {
  const candidates = tool.includes('/')
    ? [tool]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, tool));
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return true;
    } catch {
      // Not here: the next one.
    }
  }
  return false;
}

/** The delay shutdown takes, in whole minutes: `now` or `+N`. */
export function shutdownArgs(action: Action, data: PowerData): { args: string[]; delay: number } {
  const minutes = Math.ceil((data.delay ?? 0) / 60);
  const when = minutes === 0 ? 'now' : `+${minutes}`;
  const message = data.message ? [data.message] : [];
  return { args: [action === 'reboot' ? '-r' : '-h', '--', when, ...message], delay: minutes * 60 };
}

function powerHandler(type: OperationType & `power.${Action}`, action: Action): JobHandler {
  return async (data: unknown, ctx: HandlerContext): Promise<HandlerOutcome> => {
    let act: (() => void) | undefined;
    const outcome = await nodeHandler(type, async (d: PowerData, c) => {
      const tool = c.host?.powerTool ?? 'shutdown';
      if (!(await runnable(tool))) {
        return { unsupported: `${tool} is not installed: this host cannot ${action} through it` };
      }
      if (!runsAsRoot()) return needsRoot(action === 'reboot' ? 'rebooting' : 'shutting down');
      const { args, delay } = shutdownArgs(action, d);
      act = () => {
        // Its own signal: the agent stopping (as a reboot stops it) must not cancel the run.
        void runTool(tool, args, { signal: new AbortController().signal }).catch(() => {});
      };
      return { ok: true, result: { action, delay, changed: true } };
    })(data, ctx);
    return act && outcome.status === 'completed' ? { ...outcome, after: act } : outcome;
  };
}

export const powerRebootHandler: JobHandler = powerHandler('power.reboot', 'reboot');
export const powerShutdownHandler: JobHandler = powerHandler('power.shutdown', 'shutdown');
