// Whether the agent reaches NATS: a round trip to the server (a flush waits
// for the server's answer to a ping), tried again until a deadline, since a
// connection that a network change broke comes back by itself (the client
// reconnects) when the network allows it.
import type { NatsConnection } from '../nats/connection.js';
import { waitAtMost } from '../wait-at-most.js';

/** How long one try may take; a flush on a dead connection would wait long. */
const TRY_MS = 2000;
/** Between tries that failed at once (a closed or reconnecting connection). */
const RETRY_MS = 250;

export async function natsReachable(nc: NatsConnection, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const started = Date.now();
    const answered = await waitAtMost(nc.flush(), Math.min(TRY_MS, left)).catch(() => false);
    if (answered) return true;
    if (nc.isClosed()) return false;
    const spent = Date.now() - started;
    if (spent < RETRY_MS) await new Promise((r) => setTimeout(r, RETRY_MS - spent));
  }
}
