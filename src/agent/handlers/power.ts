import type { OperationType } from '../../contract/operations.js';
import type { PowerData } from '../../contract/power.js';
import { nodeHandler } from './checked.js';
import { needsRoot, runsAsRoot, runTool, toolRunnable } from './host-tools.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

type Action = 'reboot' | 'shutdown';

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
      if (!(await toolRunnable(tool))) {
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
