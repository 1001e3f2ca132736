import { hostname as osHostname } from 'node:os';
import { errorText } from '../../exec/errno.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import {
  needsRoot,
  readFileIfPresent,
  replaceFile,
  runsAsRoot,
  runTool,
  systemdRuns,
} from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

export const DEFAULT_HOSTNAME_FILE = '/etc/hostname';
const HOSTNAME_QUEUE = 'hostname';

type Outcome = NodeOutcome<'node.hostname.update'>;

/** The first line of the hostname file; null where there is none. */
async function nameInFile(path: string): Promise<string | null> {
  const bytes = await readFileIfPresent(path);
  return bytes === null ? null : (bytes.toString('utf8').split('\n')[0]?.trim() ?? '');
}

/** Whether the agent takes the host's new name once the answer is stored. */
function agentFollows(ctx: HandlerContext, name: string): boolean {
  return ctx.renameAgent !== undefined && name !== ctx.hostname;
}

function done(ctx: HandlerContext, name: string, changed: boolean): Outcome {
  const agent_hostname = agentFollows(ctx, name) ? name : ctx.hostname;
  return { ok: true, result: { name, changed, agent_hostname } };
}

/** Sets the kernel's name with the hostname tool: null when done, else what went wrong. */
async function setKernelName(
  ctx: HandlerContext,
  name: string,
): Promise<null | { unsupported: string } | { ok: false; error: string }> {
  const tool = ctx.host?.hostnameTool ?? 'hostname';
  const run = await runTool(tool, [name], { signal: ctx.signal });
  if (run.kind === 'missing') {
    return { unsupported: `${tool} is not installed: this host cannot set its kernel's name` };
  }
  if (run.kind === 'failed') return { ok: false, error: run.error };
  return null;
}

async function updateByFiles(ctx: HandlerContext, name: string): Promise<Outcome> {
  const file = ctx.host?.hostnameFile ?? DEFAULT_HOSTNAME_FILE;
  const kernelBefore = ctx.host?.kernelHostname?.() ?? osHostname();
  const fileBefore = await nameInFile(file);
  if (kernelBefore === name && fileBefore === name) return done(ctx, name, false);
  // The kernel's name first: setting the old one again undoes it exactly.
  if (kernelBefore !== name) {
    const set = await setKernelName(ctx, name);
    if (set) return set;
  }
  if (fileBefore !== name) {
    try {
      await replaceFile(file, `${name}\n`);
    } catch (err) {
      const why = `cannot write ${file}: ${errorText(err)}`;
      if (kernelBefore === name) return { ok: false, error: why };
      const back = await setKernelName(ctx, kernelBefore);
      return back === null
        ? { ok: false, error: `${why}; the kernel's name was set back to ${kernelBefore}` }
        : {
            ok: false,
            changed: true,
            error: `${why}; setting the kernel's name back to ${kernelBefore} failed too: the kernel's name is ${name}`,
          };
    }
  }
  return done(ctx, name, true);
}

const setHostname = nodeHandler('node.hostname.update', (data, ctx) =>
  serializedOn(HOSTNAME_QUEUE, async (): Promise<Outcome> => {
    const name = data.hostname;
    if (!runsAsRoot()) return needsRoot('setting the host name');
    if (ctx.signal.aborted)
      return { ok: false, error: 'the agent stopped before changing anything' };
    if (await systemdRuns(ctx)) {
      const file = ctx.host?.hostnameFile ?? DEFAULT_HOSTNAME_FILE;
      const kernel = ctx.host?.kernelHostname?.() ?? osHostname();
      if (kernel === name && (await nameInFile(file)) === name) return done(ctx, name, false);
      const run = await runTool(
        ctx.host?.hostnamectl ?? 'hostnamectl',
        ['set-hostname', '--', name],
        {
          signal: ctx.signal,
        },
      );
      if (run.kind === 'failed') return { ok: false, error: run.error };
      if (run.kind === 'ok') return done(ctx, name, true);
      // hostnamectl is not installed: the file and the kernel's name are the way.
    }
    try {
      return await updateByFiles(ctx, name);
    } catch (err) {
      return { ok: false, error: `cannot set the host name: ${errorText(err)}` };
    }
  }),
);

/**
 * Sets the name, then (an agent named after its host) re-registers the agent
 * under it: only once the answer is stored, under the name it was asked by.
 */
export const hostnameUpdateHandler: JobHandler = async (data, ctx): Promise<HandlerOutcome> => {
  const outcome = await setHostname(data, ctx);
  const name = (outcome.data as { name?: unknown } | null)?.name;
  if (outcome.status !== 'completed' || typeof name !== 'string' || !agentFollows(ctx, name)) {
    return outcome;
  }
  return { ...outcome, after: () => ctx.renameAgent?.(name) };
};
