// The NATS client's socket, written at most twice per turn of the event
// loop. The client gathers what one piece of code sends (a microtask) into
// one write; a busy API server or agent sends for many requests in one turn,
// each its own write, and on a host's loopback each write is the whole TCP
// path through the kernel on both ends. The first write of a turn leaves at
// once, as before (a process answering one request waits for nothing more);
// the socket is then corked until the turn's end (setImmediate), and what
// was sent meanwhile leaves in one write: the same bytes in the same order,
// in far fewer writes under load (bench/RESULTS.md).
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport.js';

export class BatchedTransport extends NodeTransport {
  /** A write went out this turn: later ones wait for its end. */
  #sentThisTurn = false;
  #corked = false;

  override send(frame: Uint8Array): void {
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      if (!this.#sentThisTurn) {
        this.#sentThisTurn = true;
        setImmediate(() => {
          this.#sentThisTurn = false;
          if (this.#corked) {
            this.#corked = false;
            socket.uncork();
          }
        });
      } else if (!this.#corked) {
        this.#corked = true;
        socket.cork();
      }
    }
    super.send(frame);
  }

  /**
   * The client's close destroys the socket in the same turn, without the
   * flush its own disconnect makes: what is corked is written first, as it
   * would have been without the cork.
   */
  override close(err?: Error): Promise<void> {
    if (this.#corked) {
      this.#corked = false;
      this.socket?.uncork();
    }
    return super.close(err);
  }
}

/** What the client's transport factory needs: a BatchedTransport per connection. */
export const batchedTransportFactory = {
  factory: () => new BatchedTransport(),
  dnsResolveFn: nodeResolveHost,
};
