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
import type { HandlerContext, JobHandler } from './types.js';

export const DEFAULT_HOSTNAME_FILE = '/etc/hostname';
const HOSTNAME_QUEUE = 'hostname';

type Outcome = NodeOutcome<'node.hostname.update'>;

/** The first line of the hostname file; null where there is none. */
async function nameInFile(path: string): Promise<string | null> {
  const bytes = await readFileIfPresent(path);
  return bytes === null ? null : (bytes.toString('utf8').split('\n')[0]?.trim() ?? '');
}

function done(ctx: HandlerContext, name: string, changed: boolean): Outcome {
  return { ok: true, result: { name, changed, agent_hostname: ctx.hostname } };
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

export const hostnameUpdateHandler: JobHandler = nodeHandler('node.hostname.update', (data, ctx) =>
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
