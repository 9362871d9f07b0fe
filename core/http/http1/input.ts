// The bytes a connection has received and not yet consumed, as one
// contiguous Uint8Array (`buf` from `pos`), refilled from the readable.
//
// Chunks are used as they arrive while nothing is left over (the common
// case: one request per read), so most requests are parsed in place. When
// unconsumed bytes must be joined with a new chunk (a head or a chunk-size
// line split across reads), they go to an append-only buffer that doubles
// as it fills, so a client trickling a large head byte by byte costs linear,
// not quadratic, copying. Append-only: bytes once handed out (body views)
// are never overwritten; when the buffer is full a new one is allocated.

const EMPTY = new Uint8Array(0);
const MIN_JOIN = 4096;
const DONE: ReadableStreamReadResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

export class Input {
  /** The current bytes; those before `pos` are consumed. */
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** The peer has finished sending (or the connection is gone). */
  eof = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The join buffer that `buf` may be a prefix view of. */
  #join: Uint8Array | undefined;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  /** Waits for one more chunk and appends it; false at the end of the stream. */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await this.#reader.read();
    } catch {
      r = DONE;
    }
    return this.take(r);
  }

  /** Appends a read's chunk (for a caller reading itself); false at the end of the stream. */
  take(r: ReadableStreamReadResult<Uint8Array>): boolean {
    if (r.done) {
      this.eof = true;
      return false;
    }
    this.#append(r.value);
    return true;
  }

  #append(chunk: Uint8Array): void {
    const buf = this.buf;
    const rest = buf.length - this.pos;
    if (rest === 0) {
      this.buf = chunk;
      this.pos = 0;
      return;
    }
    const join = this.#join;
    if (join !== undefined && buf.buffer === join.buffer) {
      const at = buf.byteOffset - join.byteOffset + buf.length;
      if (at + chunk.length <= join.length) {
        join.set(chunk, at);
        this.buf = join.subarray(at - buf.length, at + chunk.length);
        return;
      }
    }
    const next = new Uint8Array(Math.max(MIN_JOIN, 2 * (rest + chunk.length)));
    next.set(buf.subarray(this.pos), 0);
    next.set(chunk, rest);
    this.#join = next;
    this.buf = next.subarray(0, rest + chunk.length);
    this.pos = 0;
  }
}
