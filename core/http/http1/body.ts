// A request body as it arrives: Content-Length or chunked framing (RFC 9112
// sections 6 and 7) over the connection's Input.
//
// next() hands out what is already buffered, synchronously, as views into
// the received bytes (no copy): the whole body of a small request usually
// comes in the same read as its head, so reading it needs no await. read()
// waits for more bytes when next() has none. The chunked decoder is a state
// machine that stops wherever the bytes stop (a size line, a CRLF, a trailer
// split across reads) and continues from there on the next call.
//
// Chunked, strictly: a size line is hex digits, then optional whitespace and
// extensions (";name=value", skipped), and must end in CRLF (Go 1.24.2 also
// refuses a bare LF there, CVE-2025-22871); at most 4096 bytes, as Go's
// maxLineLength. Go's guard against bodies that are mostly framing (tiny
// chunks with long extensions) is kept: over 16 KiB of framing beyond 16
// bytes plus twice the data, the body is refused. Trailer fields are read
// and dropped, within the header limit.

import { CR, LF, MAX_HEADER_BYTES } from './head.ts';
import type { Input } from './input.ts';

const MAX_LINE = 4096;
const MAX_EXCESS = 16 * 1024;
const MAX_CHUNK = 2 ** 52; // exact in a double

/** A malformed or cut-off body: the connection cannot be reused. */
export class BodyError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'BodyError';
  }
}

const SIZE = 0; // before a chunk-size line
const DATA = 1; // inside a chunk's data, `remaining` bytes to go
const DATA_END = 2; // the CRLF after a chunk's data
const TRAILER = 3; // trailer fields, until an empty line
const DONE = 4;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

export class BodyReader {
  readonly #input: Input;
  readonly #chunked: boolean;
  #state: number;
  /** Content-Length: bytes left; chunked: bytes left in the current chunk. */
  #remaining: number;
  #excess = 0;
  #trailerBytes = 0;
  /** The error the body failed with, if it did. */
  failed: BodyError | undefined;
  /** A read() under way (the server waits for it before discarding the rest). */
  pending: Promise<Uint8Array | null> | undefined;
  /** Set by the server once its response is out: reading further is an error. */
  detached = false;
  /** Called before the first read (the server sends 100 Continue). */
  onFirstRead: (() => void) | undefined;

  constructor(input: Input, chunked: boolean, contentLength: number) {
    this.#input = input;
    this.#chunked = chunked;
    this.#state = chunked ? SIZE : contentLength > 0 ? DATA : DONE;
    this.#remaining = chunked ? 0 : contentLength;
  }

  /** The whole body has been read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Bytes still to come, when the framing says (Content-Length); -1 when unknown. */
  get knownRemaining(): number {
    return this.#chunked ? -1 : this.#remaining;
  }

  #fail(message: string): never {
    this.failed ??= new BodyError(message);
    throw this.failed;
  }

  /**
   * The next piece of the body from the bytes already received: a view into
   * them, null at the end of the body, undefined when more must be read.
   * Throws a BodyError on bad framing.
   */
  next(): Uint8Array | null | undefined {
    if (this.failed !== undefined) throw this.failed;
    if (this.detached) this.#fail('request body read after the response');
    if (this.onFirstRead !== undefined) {
      const f = this.onFirstRead;
      this.onFirstRead = undefined;
      f();
    }
    const input = this.#input;
    for (;;) {
      switch (this.#state) {
        case DONE:
          return null;
        case DATA: {
          const avail = input.buf.length - input.pos;
          if (avail === 0) return undefined;
          const n = avail < this.#remaining ? avail : this.#remaining;
          const piece = input.buf.subarray(input.pos, input.pos + n);
          input.pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = this.#chunked ? DATA_END : DONE;
          return piece;
        }
        case DATA_END: {
          if (input.buf.length - input.pos < 2) return undefined;
          if (input.buf[input.pos] !== CR || input.buf[input.pos + 1] !== LF) this.#fail('malformed chunked encoding: no CRLF after chunk data');
          input.pos += 2;
          this.#state = SIZE;
          break;
        }
        case SIZE:
          if (!this.#sizeLine()) return undefined;
          break;
        case TRAILER:
          if (!this.#trailerLine()) return undefined;
          break;
      }
    }
  }

  /** The next piece of the body, reading from the connection as needed; null at the end. */
  read(): Promise<Uint8Array | null> {
    if (this.pending !== undefined) return this.pending.then(() => this.read());
    let p: Promise<Uint8Array | null>;
    try {
      const r = this.next();
      if (r !== undefined) return Promise.resolve(r);
      p = this.#readAsync();
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending = p;
    const clear = () => { if (this.pending === p) this.pending = undefined; };
    p.then(clear, clear);
    return p;
  }

  async #readAsync(): Promise<Uint8Array | null> {
    for (;;) {
      if (!(await this.#input.fill())) this.#fail('unexpected end of request body');
      const r = this.next();
      if (r !== undefined) return r;
    }
  }

  /**
   * Reads and drops the rest of the body, up to `limit` bytes: true when the
   * body ended within it, false when there is more (or it is malformed).
   * Synchronous when the rest is already buffered.
   */
  discard(limit: number): boolean | Promise<boolean> {
    if (this.pending !== undefined) return this.#discardAsync(limit);
    this.onFirstRead = undefined;
    let left = limit;
    try {
      for (;;) {
        const r = this.next();
        if (r === undefined) return this.#discardAsync(left);
        if (r === null) return true;
        left -= r.length;
        if (left < 0) return false;
      }
    } catch {
      return false;
    }
  }

  async #discardAsync(limit: number): Promise<boolean> {
    let left = limit;
    try {
      if (this.pending !== undefined) await this.pending.catch(() => {});
      this.onFirstRead = undefined;
      for (;;) {
        let r = this.next();
        if (r === undefined) r = await this.#readAsync();
        if (r === null) return true;
        left -= r.length;
        if (left < 0) return false;
      }
    } catch {
      return false;
    }
  }

  /** A chunk-size line, if complete: sets up the chunk (or the trailer). */
  #sizeLine(): boolean {
    const input = this.#input;
    const buf = input.buf;
    const start = input.pos;
    const end = buf.length;
    const lf = buf.indexOf(LF, start);
    if (lf < 0 || lf >= end) {
      if (end - start > MAX_LINE) this.#fail('malformed chunked encoding: chunk-size line too long');
      return false;
    }
    if (lf - start > MAX_LINE) this.#fail('malformed chunked encoding: chunk-size line too long');
    if (lf === start || buf[lf - 1] !== CR) this.#fail('malformed chunked encoding: chunk-size line not ended by CRLF');
    const lineEnd = lf - 1;
    let i = start;
    let size = 0;
    for (; i < lineEnd; i++) {
      const h = hexValue(buf[i]!);
      if (h < 0) break;
      size = size * 16 + h;
      if (size > MAX_CHUNK) this.#fail('malformed chunked encoding: chunk size too large');
    }
    if (i === start) this.#fail('malformed chunked encoding: bad chunk size');
    // BWS, then nothing or ";" extensions: any visible text, no control characters.
    while (i < lineEnd && (buf[i] === 32 || buf[i] === 9)) i++;
    if (i < lineEnd) {
      if (buf[i] !== 59) this.#fail('malformed chunked encoding: bad chunk size');
      for (; i < lineEnd; i++) {
        const c = buf[i]!;
        if ((c < 32 && c !== 9) || c === 127) this.#fail('malformed chunked encoding: bad chunk extension');
      }
    }
    input.pos = lf + 1;
    this.#excess += lf + 1 - start + 2 - 16 - 2 * size;
    if (this.#excess < 0) this.#excess = 0;
    if (this.#excess > MAX_EXCESS) this.#fail('chunked encoding contains too much non-data');
    if (size === 0) {
      this.#state = TRAILER;
    } else {
      this.#remaining = size;
      this.#state = DATA;
    }
    return true;
  }

  /** One trailer line, if complete; the empty line ends the body. */
  #trailerLine(): boolean {
    const input = this.#input;
    const buf = input.buf;
    const start = input.pos;
    const lf = buf.indexOf(LF, start);
    if (lf < 0) {
      if (this.#trailerBytes + buf.length - start > MAX_HEADER_BYTES) this.#fail('chunked trailer too large');
      return false;
    }
    this.#trailerBytes += lf + 1 - start;
    if (this.#trailerBytes > MAX_HEADER_BYTES) this.#fail('chunked trailer too large');
    const lineEnd = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
    input.pos = lf + 1;
    if (lineEnd === start) {
      this.#state = DONE;
      return true;
    }
    // name ':' value, without control characters
    const colon = buf.indexOf(58, start);
    if (colon <= start || colon >= lineEnd) this.#fail('malformed chunked trailer');
    for (let i = start; i < lineEnd; i++) {
      const c = buf[i]!;
      if ((c < 32 && c !== 9) || c === 127 || (i < colon && (c === 32 || c === 9))) this.#fail('malformed chunked trailer');
    }
    return true;
  }
}
