// A slowloris against a server on loopback, for the connection-limit tests: a
// bounded number of connections that each hold a descriptor of the server
// without ever finishing a request. Three kinds, in turn:
//   silent:  connects and sends nothing (a half-open client);
//   trickle: sends a request line, then one header line at a time, never the
//            blank line that ends the headers;
//   idle:    sends one whole request, reads the answer, then keeps the
//            connection open without a second one.
// It stops by itself at its deadline, destroying whatever is still open, and
// says how each connection ended: closed by the server, or by itself.
import { connect, type Socket } from 'node:net';

export type LorisKind = 'silent' | 'trickle' | 'idle';
const KINDS: readonly LorisKind[] = ['silent', 'trickle', 'idle'];

export interface SlowlorisOptions {
  port: number;
  /** Connections made, all at once. */
  count: number;
  /** The attack's own deadline: what is still open then is destroyed. */
  forMs: number;
  /** How often each trickling connection sends one more header line. */
  everyMs: number;
}

export interface SlowlorisOutcome {
  /** Connections the server ended: refused at once, timed out (408), or closed when idle. */
  closedByServer: number;
  /** Connections still open at the deadline, closed by the attacker. */
  stoppedByAttacker: number;
  /** Per kind, how many the server ended. */
  byKind: Record<LorisKind, number>;
}

export interface Slowloris {
  /** Resolves when every connection has closed, whoever closed it. */
  done: Promise<SlowlorisOutcome>;
  /** Ends the attack now (for afterAll, should a test fail first). */
  stop(): void;
}

export function slowloris(opts: SlowlorisOptions): Slowloris {
  const sockets = new Set<Socket>();
  const outcome: SlowlorisOutcome = {
    closedByServer: 0,
    stoppedByAttacker: 0,
    byKind: { silent: 0, trickle: 0, idle: 0 },
  };
  let stopping = false;
  let resolveDone: (o: SlowlorisOutcome) => void = () => {};
  const done = new Promise<SlowlorisOutcome>((r) => {
    resolveDone = r;
  });
  let remaining = opts.count;
  const finish = () => {
    clearInterval(trickle);
    clearTimeout(deadline);
    resolveDone(outcome);
  };

  const trickling = new Set<Socket>();
  let line = 0;
  const trickle = setInterval(() => {
    line++;
    for (const s of trickling) if (s.writable) s.write(`X-Slow-${line}: ${'a'.repeat(8)}\r\n`);
  }, opts.everyMs);

  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const s of sockets) s.destroy();
  };
  const deadline = setTimeout(stop, opts.forMs);

  for (let i = 0; i < opts.count; i++) {
    const kind = KINDS[i % KINDS.length] ?? 'silent';
    const s = connect({ host: '127.0.0.1', port: opts.port });
    sockets.add(s);
    // What the server sends (a 200, a 408) is read and dropped, so its writes never block.
    s.on('data', () => {});
    s.on('error', () => {}); // a reset is the server closing it too
    s.once('connect', () => {
      if (kind === 'trickle') {
        s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        trickling.add(s);
      } else if (kind === 'idle') {
        s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      }
    });
    s.once('close', () => {
      sockets.delete(s);
      trickling.delete(s);
      if (stopping) outcome.stoppedByAttacker++;
      else {
        outcome.closedByServer++;
        outcome.byKind[kind]++;
      }
      if (--remaining === 0) finish();
    });
  }
  if (opts.count === 0) finish();
  return { done, stop };
}
