// Keeps a stream's output within a fixed budget whatever the command writes: the head shows how it
// started, the tail shows how it ended (where the errors usually are), and the middle is counted.

const MIN_HEAD_ALLOCATION = 4096;

export interface CappedOutput {
  text: string;
  truncated: boolean;
  /** Every byte written, shown or not. */
  bytes: number;
}

export function omittedMarker(bytes: number): string {
  return `\n[… ${bytes} bytes omitted …]\n`;
}

export class OutputCap {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  // The head grows on demand so that the many small outputs do not each reserve half the cap.
  #head: Buffer = Buffer.alloc(0);
  #headLength = 0;
  // The tail is a ring, allocated only once the head is full.
  #ring: Buffer | undefined;
  #ringStart = 0;
  #ringLength = 0;
  #total = 0;

  constructor(maxBytes: number) {
    this.#headLimit = Math.floor(maxBytes / 2);
    this.#tailLimit = maxBytes - this.#headLimit;
  }

  get totalBytes(): number {
    return this.#total;
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const toHead = Math.min(this.#headLimit - this.#headLength, chunk.length);
    if (toHead > 0) this.#pushHead(chunk.subarray(0, toHead));
    if (toHead < chunk.length) this.#pushTail(chunk.subarray(toHead));
  }

  finish(): CappedOutput {
    const head = this.#head.subarray(0, this.#headLength);
    const tail = this.#tailBytes();
    if (head.length + tail.length === this.#total) {
      return {
        text: Buffer.concat([head, tail]).toString('utf8'),
        truncated: false,
        bytes: this.#total,
      };
    }
    // Our cut may split a character; drop its pieces rather than show replacement characters.
    const shownHead = head.subarray(0, completeUtf8Length(head));
    const shownTail = tail.subarray(leadingContinuationBytes(tail));
    const omitted = this.#total - shownHead.length - shownTail.length;
    return {
      text: shownHead.toString('utf8') + omittedMarker(omitted) + shownTail.toString('utf8'),
      truncated: true,
      bytes: this.#total,
    };
  }

  #pushHead(bytes: Buffer): void {
    const needed = this.#headLength + bytes.length;
    if (needed > this.#head.length) {
      const size = Math.min(
        this.#headLimit,
        Math.max(needed, this.#head.length * 2, MIN_HEAD_ALLOCATION),
      );
      const grown = Buffer.allocUnsafe(size);
      this.#head.copy(grown, 0, 0, this.#headLength);
      this.#head = grown;
    }
    bytes.copy(this.#head, this.#headLength);
    this.#headLength = needed;
  }

  #pushTail(bytes: Buffer): void {
    const limit = this.#tailLimit;
    if (limit === 0) return;
    if (this.#ring === undefined) this.#ring = Buffer.allocUnsafe(limit);
    const ring = this.#ring;
    if (bytes.length >= limit) {
      bytes.copy(ring, 0, bytes.length - limit);
      this.#ringStart = 0;
      this.#ringLength = limit;
      return;
    }
    const writeAt = (this.#ringStart + this.#ringLength) % limit;
    const firstPart = Math.min(bytes.length, limit - writeAt);
    bytes.copy(ring, writeAt, 0, firstPart);
    bytes.copy(ring, 0, firstPart);
    const length = this.#ringLength + bytes.length;
    if (length > limit) {
      this.#ringStart = (this.#ringStart + length - limit) % limit;
      this.#ringLength = limit;
    } else {
      this.#ringLength = length;
    }
  }

  #tailBytes(): Buffer {
    const ring = this.#ring;
    if (ring === undefined) return Buffer.alloc(0);
    const end = this.#ringStart + this.#ringLength;
    if (end <= ring.length) return ring.subarray(this.#ringStart, end);
    return Buffer.concat([ring.subarray(this.#ringStart), ring.subarray(0, end - ring.length)]);
  }
}

/** Length of `bytes` without a trailing, incomplete UTF-8 sequence. */
export function completeUtf8Length(bytes: Buffer): number {
  const length = bytes.length;
  for (let i = length - 1; i >= 0 && i >= length - 4; i--) {
    const byte = bytes[i] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    if (byte < 0xc0) return length;
    const sequence = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return i + sequence <= length ? length : i;
  }
  return length;
}

/** Continuation bytes at the start of `bytes`: the rest of a character cut in two. */
export function leadingContinuationBytes(bytes: Buffer): number {
  let count = 0;
  while (count < 3 && count < bytes.length && ((bytes[count] ?? 0) & 0xc0) === 0x80) count++;
  return count;
}
