// The restart policy of `osapi start`'s nats-server (src/nats/restarts.ts),
// on stand-in server handles whose deaths the test decides: started again on
// the port it first got, given up after too many deaths in the window, a
// failed start tried again, nothing started once stopped. The real server
// killed under `osapi start`: test/cli/nats-dies.test.ts.
import { describe, expect, it } from 'vitest';
import { type RestartPolicy, restartingNatsServer } from '../../src/nats/restarts.js';
import type { NatsServerExit, NatsServerHandle } from '../../src/nats/server.js';
import { silentLogger } from '../support/nats.js';

interface FakeServer extends NatsServerHandle {
  die(exit?: NatsServerExit): void;
  stopped: boolean;
}

let pids = 1000;
function fakeServer(port: number): FakeServer {
  let end!: (e: NatsServerExit) => void;
  const exited = new Promise<NatsServerExit>((resolve) => {
    end = resolve;
  });
  const server: FakeServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    clusterPort: 0,
    pid: pids++,
    exited,
    stopped: false,
    die: (exit = { code: null, signal: 'SIGKILL' }) => end(exit),
    async stop() {
      server.stopped = true;
      end({ code: 0, signal: null });
      return exited;
    },
  };
  return server;
}

/** A start function that records its calls; `call(n)` resolves with what its nth call gave. */
function starter(fail: (call: number) => boolean = () => false) {
  const ports: number[] = [];
  const servers: FakeServer[] = [];
  const outcomes: Array<FakeServer | Error> = [];
  const waiting = new Map<number, Array<(s: FakeServer | Error) => void>>();
  /** Told once every microtask queued meanwhile has run, the caller's taking of the server among them. */
  const tell = (n: number) =>
    setImmediate(() => {
      const outcome = outcomes[n - 1];
      if (!outcome) return;
      for (const w of waiting.get(n) ?? []) w(outcome);
      waiting.delete(n);
    });
  const start = async (port: number) => {
    ports.push(port);
    const n = ports.length;
    if (fail(n)) {
      const err = new Error(`port ${port} is taken`);
      outcomes.push(err);
      tell(n);
      throw err;
    }
    // Port 0 asks for any: this one "gets" 4333.
    const s = fakeServer(port === 0 ? 4333 : port);
    servers.push(s);
    outcomes.push(s);
    tell(n);
    return s;
  };
  // Asked before or after the call was made: a restart after a short delay
  // can come before the test asks for it.
  const call = (n: number) =>
    new Promise<FakeServer | Error>((resolve) => {
      waiting.set(n, [...(waiting.get(n) ?? []), resolve]);
      if (outcomes.length >= n) tell(n);
    });
  return { start, ports, servers, call };
}

const POLICY: RestartPolicy = { maxRestarts: 2, withinMs: 60_000, firstDelayMs: 1, maxDelayMs: 2 };

describe('restartingNatsServer', () => {
  it('starts a server that died again, on the port the first one got, and remakes its layout', async () => {
    const s = starter();
    const remade: NatsServerHandle[] = [];
    const nats = await restartingNatsServer(s.start, 0, {
      logger: silentLogger,
      policy: POLICY,
      onRestarted: async (x) => {
        remade.push(x);
      },
    });
    expect(nats.url).toBe('nats://127.0.0.1:4333');
    const again = s.call(2);
    s.servers[0]?.die();
    const second = await again;
    expect(second).not.toBeInstanceOf(Error);
    expect(s.ports).toEqual([0, 4333]);
    expect(nats.current).toBe(second);
    expect(nats.restarts).toBe(1);
    expect(remade).toEqual([second]);
    await nats.stop();
    expect((second as FakeServer).stopped).toBe(true);
  });

  it('gives up after more deaths than allowed within the window, saying how it ended', async () => {
    let clock = 0;
    const s = starter();
    const nats = await restartingNatsServer(s.start, 0, {
      logger: silentLogger,
      policy: POLICY,
      now: () => clock,
    });
    for (let i = 0; i < POLICY.maxRestarts; i++) {
      const again = s.call(i + 2);
      s.servers[i]?.die();
      await again;
      clock += 1_000;
    }
    s.servers[POLICY.maxRestarts]?.die({ code: 1, signal: null });
    expect(await nats.gaveUp).toBe(
      'nats-server exited unexpectedly (exit code 1), 3 times within 60 s; not starting it again',
    );
    expect(s.servers).toHaveLength(POLICY.maxRestarts + 1);
  });

  it('forgets deaths older than the window', async () => {
    let clock = 0;
    const s = starter();
    const nats = await restartingNatsServer(s.start, 0, {
      logger: silentLogger,
      policy: POLICY,
      now: () => clock,
    });
    for (let i = 0; i < 5; i++) {
      const again = s.call(i + 2);
      s.servers[i]?.die();
      expect(await again).not.toBeInstanceOf(Error);
      clock += 40_000;
    }
    expect(nats.restarts).toBe(5);
    await nats.stop();
  });

  it('tries a failed start again, and counts it as a death', async () => {
    // The second call (the first restart) fails: the port was taken meanwhile.
    const s = starter((call) => call === 2);
    const nats = await restartingNatsServer(s.start, 0, { logger: silentLogger, policy: POLICY });
    const failed = s.call(2);
    s.servers[0]?.die();
    expect(await failed).toBeInstanceOf(Error);
    // Tried again after a millisecond: possibly before this line runs.
    const third = await s.call(3);
    expect(third).not.toBeInstanceOf(Error);
    expect(s.ports).toEqual([0, 4333, 4333]);
    expect(nats.current).toBe(third);
    await nats.stop();
  });

  it('starts nothing once stopped', async () => {
    const s = starter();
    const nats = await restartingNatsServer(s.start, 0, { logger: silentLogger, policy: POLICY });
    await nats.stop();
    // Its exit came from the stop, not a death. The watch heard the exit
    // before the stop returned (it listened first), and a restart would have
    // called start at once.
    expect(s.servers[0]?.stopped).toBe(true);
    expect(s.ports).toEqual([0]);
    expect(nats.restarts).toBe(0);
  });
});
