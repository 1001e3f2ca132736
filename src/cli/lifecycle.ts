// Runs a long-lived command until SIGINT/SIGTERM or until a part dies on its
// own, then stops every part within a bound and sets the exit code.
import type { Logger } from '../log/logger.js';

export interface Stoppable {
  name: string;
  stop(): Promise<unknown>;
}

/**
 * Installed first thing by a long-lived command: a signal during start-up
 * must stop what already started (never orphan nats-server), not kill the
 * process where it stands.
 */
export function shutdownSignal(): AbortSignal {
  const ac = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`osapi: ${signal} again; exiting now.\n`);
      process.exit(130);
    }
    ac.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return ac.signal;
}

export interface RunUntilStoppedOptions {
  shutdown: AbortSignal;
  /** Parts in start order; stopped in reverse order. */
  parts: Stoppable[];
  logger: Logger;
  /** Resolves with a reason when a part dies on its own (e.g. nats-server exits). */
  died?: Promise<string>;
  /** Hard bound on the whole shutdown. */
  stopWithinMs?: number;
}

export async function runUntilStopped(opts: RunUntilStoppedOptions): Promise<number> {
  const reason = await new Promise<{ died?: string }>((resolve) => {
    if (opts.shutdown.aborted) resolve({});
    opts.shutdown.addEventListener('abort', () => resolve({}), { once: true });
    void opts.died?.then((died) => resolve({ died }));
  });
  if (reason.died) process.stderr.write(`osapi: ${reason.died}; stopping.\n`);
  const bound = opts.stopWithinMs ?? 9000;
  const timer = setTimeout(() => {
    process.stderr.write('osapi: parts did not stop in time; exiting anyway.\n');
    process.exit(1);
  }, bound);
  timer.unref();
  for (const part of [...opts.parts].reverse()) {
    try {
      await part.stop();
    } catch (err) {
      opts.logger.warn({ part: part.name, err: String(err) }, 'stop failed');
    }
  }
  clearTimeout(timer);
  return reason.died ? 1 : 0;
}
