// The NATS client's writes (src/nats/batched-transport.ts): the first of a
// turn leaves at once, the rest of the turn in one write at its end, and
// nothing is lost, reordered or held back, on a close included.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { NatsConnectionImpl } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchedTransport } from '../../src/nats/batched-transport.js';
import { closeNats, connectNats } from '../../src/nats/connection.js';
import { silentLogger, useTestNats } from '../support/nats.js';
import { testClient } from '../support/settings.js';

const t = useTestNats();
const text = (s: string) => new TextEncoder().encode(s);
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Each write the socket makes from now on, as the number of chunks it carries. */
function countWrites(s: Socket): number[] {
  const writes: number[] = [];
  const write = s._write.bind(s);
  const writev = s._writev?.bind(s);
  s._write = (chunk, enc, cb) => {
    writes.push(1);
    write(chunk, enc, cb);
  };
  s._writev = (chunks, cb) => {
    writes.push(chunks.length);
    writev?.(chunks, cb);
  };
  return writes;
}

describe('BatchedTransport', () => {
  let server: Server | undefined;
  let socket: Socket | undefined;
  afterEach(() => {
    socket?.destroy();
    server?.close();
  });

  /** A transport writing to a plain TCP server, and what that server has read. */
  async function transportToServer(): Promise<{ transport: BatchedTransport; read: () => string }> {
    let received = '';
    server = createServer((peer) => peer.on('data', (b: Buffer) => (received += b.toString())));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    socket = connect(address.port, '127.0.0.1');
    await once(socket, 'connect');
    const transport = new BatchedTransport();
    // What the client's connect would have set.
    transport.options = {};
    transport.socket = socket;
    return { transport, read: () => received };
  }

  it('sends the first write of a turn at once and the rest of the turn in one write at its end', async () => {
    const { transport, read } = await transportToServer();
    const s = socket as Socket;
    const writes = countWrites(s);

    transport.send(text('a'));
    expect(s.writableCorked).toBe(0);
    expect(writes).toEqual([1]);
    for (const c of 'bcdef') transport.send(text(c));
    expect(s.writableCorked).toBe(1);
    expect(writes).toEqual([1]);

    await nextTurn();
    expect(s.writableCorked).toBe(0);
    // The five of the turn, in one writev.
    expect(writes).toEqual([1, 5]);
    await expect.poll(read).toBe('abcdef');

    // The next turn starts over: its first write leaves at once.
    transport.send(text('g'));
    expect(writes).toEqual([1, 5, 1]);
    await expect.poll(read).toBe('abcdefg');
  });

  /** A connection of connectNats, and its socket, which a BatchedTransport writes. */
  async function batchedConnection(name: string) {
    const nc = await connectNats({
      settings: testClient(t.server.url, name),
      logger: silentLogger,
    });
    const transport = (nc as unknown as NatsConnectionImpl).protocol.transport;
    expect(transport).toBeInstanceOf(BatchedTransport);
    return { nc, socket: (transport as BatchedTransport).socket };
  }

  /** What the test's own connection hears on `subject`, from now on. */
  async function heard(subject: string) {
    const got: string[] = [];
    const sub = t.nc.subscribe(subject, {
      callback: (_e, m) => {
        got.push(m.string());
      },
    });
    await t.nc.flush();
    return { got, sub };
  }

  it('carries every message of a burst in order, and a drain at once after it loses none', async () => {
    const { nc: publisher, socket: publisherSocket } = await batchedConnection('batched-publisher');
    const writes = countWrites(publisherSocket);
    const { got, sub } = await heard('batched.test');
    try {
      const sent = Array.from({ length: 2000 }, (_, i) => `m${i}`);
      // One turn, each publish in a microtask of its own, so each is a send
      // of its own: the first is written at once, the other 1,999 corked
      // until the turn's end.
      for (const m of sent) {
        publisher.publish('batched.test', m);
        await null;
      }
      // Gathered: not one write per publish.
      expect(writes.length).toBeLessThan(10);
      await publisher.drain();
      await t.nc.flush();
      await expect.poll(() => got.length).toBe(sent.length);
      expect(got).toEqual(sent);
    } finally {
      sub.unsubscribe();
      if (!publisher.isClosed()) await closeNats(publisher);
    }
  });

  it('a close in the turn of a gathered write sends it first', async () => {
    const { nc: publisher } = await batchedConnection('batched-closer');
    const { got, sub } = await heard('batched.close');
    try {
      // Two sends in one turn: the second is corked when the close comes.
      publisher.publish('batched.close', 'first');
      await null;
      publisher.publish('batched.close', 'second');
      await null;
      await publisher.close();
      await t.nc.flush();
      await expect.poll(() => got).toEqual(['first', 'second']);
    } finally {
      sub.unsubscribe();
    }
  });
});
