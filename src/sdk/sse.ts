// Reads a Server-Sent Events body into messages, as the HTML standard's
// EventSource parses one: lines end in CRLF, LF or CR; `data` lines join with
// newlines; a blank line dispatches; comments and `retry` are read past.

export interface SseMessage {
  /** The `event` field, `message` when there was none. */
  event: string;
  data: string;
  /** The last `id` seen so far in the stream ('' before any). */
  id: string;
}

/**
 * @example
 * const res = await fetch(url, { headers: { accept: 'text/event-stream' } });
 * for await (const m of readSse(res.body!)) console.log(m.event, m.data);
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  // A CR ended the last line: an LF right after it belongs to the same line end.
  let skipLf = false;
  let event = '';
  let data: string[] = [];
  let id = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (skipLf) {
          skipLf = false;
          if (c === '\n') {
            start = i + 1;
            continue;
          }
        }
        if (c !== '\n' && c !== '\r') continue;
        const line = buffer.slice(start, i);
        start = i + 1;
        if (c === '\r') skipLf = true;
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
      buffer = buffer.slice(start);
      // An event the stream did not finish with a blank line is not dispatched.
      if (done) return;
    }
  } finally {
    // Stopping early (a break in the caller's loop) closes the connection.
    await reader.cancel().catch(() => {});
  }
}
