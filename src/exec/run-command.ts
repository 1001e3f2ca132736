// Runs one command to its end, whatever that end is, and reports it as data: the agent turns every
// outcome into a job result, so only a malformed request makes this reject.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { EarlyEnd } from './bad-cwd.js';
import { cancelledEnd, onCancel } from './cancel.js';
import { type StartedProcess, startProcess } from './direct-spawn.js';
import { isErrnoError } from './errno.js';
import { exitCodeFor } from './exit-code.js';
import { isProcessGroupAlive, signalGroupQuietly } from './kill-process-group.js';
import { DRAIN_MS, killLeftovers } from './leftovers.js';
import { OutputCap } from './output-cap.js';
import { exitEnd } from './process-exit.js';
import { type ResolvedRequest, resolveRequest } from './request.js';
import { environmentForAccount, type RunAs, resolveRunAs } from './run-as.js';
import { describeSpawnError } from './spawn-error.js';
import { type Termination, terminateGroup } from './terminate.js';
import { startTimeout, timedOutEnd } from './timeout.js';
import type { OutputListener, RunEnd, RunRequest, RunResult } from './types.js';

// How often to look whether a terminated group has emptied, so the run need not wait the whole grace.
const GROUP_POLL_MS = 50;

export async function runCommand(req: RunRequest): Promise<RunResult> {
  const opts = resolveRequest(req);
  const startedAt = performance.now();
  const early = (ending: EarlyEnd): RunResult => ({
    ...describe(ending),
    ...noOutput(),
    durationMs: Math.round(performance.now() - startedAt),
  });

  if (opts.signal?.aborted) return early(cancelledEnd(false));
  let runAs: RunAs | undefined;
  if (opts.user !== undefined) {
    const resolved = await resolveRunAs(opts.user);
    if ('end' in resolved) return early(resolved);
    runAs = resolved;
    if (!opts.cwdGiven) opts.cwd = resolved.defaultCwd;
  }
  // No stat of the cwd up front: it would cost every run two trips to the
  // thread pool. When spawn fails, describeSpawnError looks at the cwd to say
  // whether it or the program is at fault.

  let child: StartedProcess;
  try {
    // The command leads its own session and process group, so the whole tree can be signalled as one.
    child = startProcess(opts.file, opts.args, {
      cwd: opts.cwd,
      env: runAs
        ? { ...runAs.identity, ...(opts.env ?? environmentForAccount(process.env)) }
        : (opts.env ?? process.env),
      ...(runAs?.uid !== undefined ? { uid: runAs.uid, gid: runAs.gid } : {}),
      stdin: opts.stdin === undefined ? 'ignore' : 'pipe',
    });
  } catch (err) {
    // Some errnos (ENOTDIR, E2BIG...) are thrown rather than emitted; argument errors are our caller's.
    if (!isErrnoError(err)) throw err;
    return early(await describeSpawnError(err, opts.program, opts.cwd));
  }

  if (child.pid === undefined) {
    // Not started: 'error' follows on the next tick with the reason.
    const [err] = (await once(child, 'error')) as [unknown];
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    if (!isErrnoError(err)) throw err;
    return early(await describeSpawnError(err, opts.program, opts.cwd));
  }

  if (child.stdin) {
    // EPIPE when the command exits or closes stdin without reading it all: not the run's business.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin);
  }
  return supervise(child, child.pid, opts, startedAt);
}

function supervise(
  child: StartedProcess,
  pid: number,
  opts: ResolvedRequest,
  startedAt: number,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const stdout = new OutputCap(opts.maxOutputBytes);
    const stderr = new OutputCap(opts.maxOutputBytes);
    const pipes = [child.stdout, child.stderr];
    const tell = opts.onOutput;
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (tell) tellQuietly(tell, 'stdout', chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      if (tell) tellQuietly(tell, 'stderr', chunk);
    });
    // A read error only ends a stream early, and the ChildProcess itself only emits 'error' after
    // start for calls we never make (kill, send). The run's outcome comes from the exit; a listener
    // is still needed, since an unheard 'error' would crash the agent.
    for (const pipe of pipes) pipe?.on('error', () => {});
    child.on('error', () => {});

    let stoppedBy: EarlyEnd | undefined;
    let termination: Termination | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let closed = false;
    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;
    let pollTimer: NodeJS.Timeout | undefined;
    let cancelAbandon: (() => void) | undefined;

    const stop = (ending: EarlyEnd): void => {
      if (stoppedBy !== undefined || exited !== undefined) return;
      stoppedBy = ending;
      termination = terminateGroup(pid, opts.killGraceMs, () => {
        cancelAbandon ??= killLeftovers(pid, pipes);
        if (closed) finish();
      });
    };
    const cancelTimeout = startTimeout(opts.timeoutMs, () => stop(timedOutEnd(opts.timeoutMs)));
    const cancelAbort = onCancel(opts.signal, () => stop(cancelledEnd(true)));

    child.once('exit', (code, signal) => {
      exited = { code, signal };
      cancelTimeout();
      cancelAbort();
      // After a timeout or cancel the group keeps its grace; otherwise leftovers get a short drain.
      if (stoppedBy === undefined) {
        drainTimer = setTimeout(() => {
          cancelAbandon ??= killLeftovers(pid, pipes);
        }, DRAIN_MS);
      }
    });

    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      closed = true;
      exited ??= { code, signal };
      if (termination?.pending && isProcessGroupAlive(pid)) {
        // Members are still handling SIGTERM; finish as soon as they are gone, or at the grace's end.
        // (Orphaned zombies count as members until reaped, so on a host whose init does not reap
        // them this waits the whole grace.)
        pollTimer = setInterval(() => {
          if (!isProcessGroupAlive(pid)) finish();
        }, GROUP_POLL_MS);
        return;
      }
      finish();
    });

    function finish(): void {
      if (finished) return;
      finished = true;
      cancelTimeout();
      cancelAbort();
      termination?.cancel();
      cancelAbandon?.();
      clearTimeout(drainTimer);
      clearInterval(pollTimer);
      // Input a leftover process outside the group never read is dropped with the run.
      child.stdin?.destroy();
      // Background processes that closed their pipes would otherwise live on unseen (leftovers.ts).
      signalGroupQuietly(pid, 'SIGKILL');
      const ending = stoppedBy ?? exitEnd(exited?.code ?? null, exited?.signal ?? null);
      const out = stdout.finish();
      const err = stderr.finish();
      resolve({
        ...describe(ending),
        stdout: out.text,
        stderr: err.text,
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        stdoutBytes: out.bytes,
        stderrBytes: err.bytes,
        durationMs: Math.round(performance.now() - startedAt),
        pid,
      });
    }
  });
}

/** A listener that throws must not cost the run its output or its end. */
function tellQuietly(tell: OutputListener, stream: 'stdout' | 'stderr', chunk: Buffer): void {
  try {
    tell(stream, chunk);
  } catch {
    // Live output is a courtesy; the result keeps the output either way.
  }
}

function describe(ending: {
  end: RunEnd;
  error?: string;
}): Pick<RunResult, 'end' | 'exitCode' | 'error'> {
  const described: Pick<RunResult, 'end' | 'exitCode' | 'error'> = {
    end: ending.end,
    exitCode: exitCodeFor(ending.end),
  };
  if (ending.error !== undefined) described.error = ending.error;
  return described;
}

function noOutput(): Omit<RunResult, 'end' | 'exitCode' | 'durationMs'> {
  return {
    stdout: '',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutBytes: 0,
    stderrBytes: 0,
  };
}
