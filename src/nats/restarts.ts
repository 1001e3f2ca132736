// `osapi start`'s nats-server, started again when it dies on its own: on the
// same port and store, so the API server and the agent (whose clients
// reconnect for ever) carry on where they were, with what JetStream had
// stored. A server that keeps dying is given up: after `maxRestarts` deaths
// within `withinMs` nothing is started again, and `gaveUp` says why.
import type { Logger } from '../log/logger.js';
import { waitAtMost } from '../wait-at-most.js';
import { describeExit, type NatsServerExit, type NatsServerHandle } from './server.js';

export interface RestartPolicy {
  /** Deaths tolerated within `withinMs`; one more and the server is given up. */
  maxRestarts: number;
  withinMs: number;
  /** Waits between failed starts: the first, then doubled up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRestarts: 5,
  withinMs: 60_000,
  firstDelayMs: 250,
  maxDelayMs: 4_000,
};

export interface RestartedNatsServer {
  /** The server running now (a new process after each restart, on the same port). */
  readonly current: NatsServerHandle;
  readonly url: string;
  /** How many times it was started again. */
  readonly restarts: number;
  /** Resolves with the reason once the server is given up (never when stopped). */
  readonly gaveUp: Promise<string>;
  /** Stops the server; it is not started again. */
  stop(): Promise<void>;
}

export interface RestartOptions {
  logger: Logger;
  policy?: RestartPolicy;
  now?: () => number;
  /**
   * Run on each server started again, before it is announced: what lived in
   * memory (the live-output stream) is gone with the old process, and the
   * JetStream layout is made again.
   */
  onRestarted?: (server: NatsServerHandle) => Promise<void>;
}

/**
 * Starts the server with `start(port)` (the port asked, then the one it got,
 * so a restart listens where the clients were told), and starts it again
 * each time it exits while not being stopped.
 */
export async function restartingNatsServer(
  start: (port: number) => Promise<NatsServerHandle>,
  port: number,
  opts: RestartOptions,
): Promise<RestartedNatsServer> {
  const { logger, policy = DEFAULT_RESTART_POLICY, now = Date.now } = opts;
  const onRestarted = opts.onRestarted ?? (async () => {});
  let current = await start(port);
  const url = current.url;
  const fixedPort = current.port;
  let stopping = false;
  let markStopped!: () => void;
  // Ends a wait between failed starts at once.
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });
  let restarts = 0;
  let giveUp!: (why: string) => void;
  const gaveUp = new Promise<string>((resolve) => {
    giveUp = resolve;
  });
  const deaths: number[] = [];

  /** One more death: false once there have been too many of them lately. */
  const anotherDeath = (): boolean => {
    const at = now();
    deaths.push(at);
    while (deaths.length > 0 && (deaths[0] as number) <= at - policy.withinMs) deaths.shift();
    return deaths.length <= policy.maxRestarts;
  };

  const watch = async (server: NatsServerHandle): Promise<void> => {
    let exit: NatsServerExit | string = await server.exited;
    let delay = policy.firstDelayMs;
    for (;;) {
      if (stopping) return;
      const what = typeof exit === 'string' ? exit : describeExit(exit);
      if (!anotherDeath()) {
        giveUp(
          `nats-server exited unexpectedly (${what}), ${deaths.length} times within ${policy.withinMs / 1000} s; not starting it again`,
        );
        return;
      }
      logger.warn(
        { exit: what, restart: deaths.length, of: policy.maxRestarts },
        `nats-server exited unexpectedly (${what}); starting it again on ${url}`,
      );
      try {
        const next = await start(fixedPort);
        if (stopping) {
          await next.stop();
          return;
        }
        current = next;
        restarts++;
        await onRestarted(next).catch((err: unknown) =>
          logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'nats-server runs again, but its JetStream layout could not be made again; restart osapi if live output stays unavailable',
          ),
        );
        // A warning too: it closes the one above, which the default level shows.
        logger.warn({ server_pid: next.pid }, `nats-server is running again on ${url}`);
        void watch(next);
        return;
      } catch (err) {
        exit = `could not start it again: ${err instanceof Error ? err.message : String(err)}`;
        await waitAtMost(stopped, delay);
        delay = Math.min(policy.maxDelayMs, delay * 2);
      }
    }
  };
  void watch(current);

  return {
    get current() {
      return current;
    },
    url,
    get restarts() {
      return restarts;
    },
    gaveUp,
    async stop() {
      stopping = true;
      markStopped();
      await current.stop();
    },
  };
}
