// The request a handler receives from the HTTP/1.1 server: a stand-in for
// the fetch Request, as light as @hono/node-server's, so that a request that
// only needs its method, url and body never builds a Request, a Headers or a
// ReadableStream (on Node, new Request() alone costs ~10 µs through undici).
//
// Its prototype chains to Request.prototype (once something reads the
// global Request: native.ts), so `instanceof Request` holds and Hono takes
// it as it is. It answers from the parsed head: `method`,
// `url`, and `headers` (a real Headers, built on first access from the
// fields found again in the head's text). The body methods read the BodyReader
// directly: arrayBuffer(), bytes(), text(), json() and blob() take a body
// that is already in the buffer synchronously (one copy, no stream); `body`
// is a ReadableStream over it, made on first access. Everything else of
// Request (formData(), clone(), cache, mode, ...) builds a real Request once
// (headers, the body as a stream) and answers from it.
//
// The body is read as it arrives and never buffered beyond what the handler
// asks for; what it leaves unread the server discards or closes on.

import type { BodyReader } from './body.ts';
import { delegateToReal, REQUEST_MEMBERS } from './delegate.ts';
import { fieldsOf, type RequestHead } from './head.ts';
import { lazyNative } from './native.ts';

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

const REAL = Symbol('real');
/** Called by the server when the connection ends before the response is out. */
export const ABORT = Symbol('abort');

function unusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The rest of the body: synchronously when it is all buffered, else a promise. */
function collect(body: BodyReader): Uint8Array | Promise<Uint8Array> {
  const first = body.next();
  if (first === null) return EMPTY;
  const parts: Uint8Array[] = [];
  let total = 0;
  if (first !== undefined) {
    const second = body.next();
    if (second === null) return first; // the common case: all of it in one read, no array
    parts.push(first);
    total = first.length;
    if (second === undefined) return collectRest(body, parts, total);
    parts.push(second);
    total += second.length;
  }
  for (;;) {
    const r = body.next();
    if (r === undefined) break;
    if (r === null) return total === 0 ? EMPTY : concat(parts, total);
    parts.push(r);
    total += r.length;
  }
  return collectRest(body, parts, total);
}

async function collectRest(body: BodyReader, parts: Uint8Array[], total: number): Promise<Uint8Array> {
  for (;;) {
    const r = await body.read();
    if (r === null) return concat(parts, total);
    parts.push(r);
    total += r.length;
  }
}

async function collectStream(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(parts, total);
    parts.push(value);
    total += value.length;
  }
}

/** An exact ArrayBuffer of the bytes (a view into a larger buffer is copied). */
function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer;
  return b.slice().buffer;
}

function buildHeaders(head: RequestHead): Headers {
  const h = new Headers();
  for (const [name, value] of fieldsOf(head)) h.append(name, value);
  return h;
}

export class LeanRequest {
  readonly #head: RequestHead;
  readonly #body: BodyReader | undefined;
  #headers: Headers | undefined;
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #used = false;
  #disturbed = false;
  #abort: AbortController | undefined;
  #real: Request | undefined;

  constructor(head: RequestHead, body: BodyReader | undefined) {
    this.#head = head;
    this.#body = body;
  }

  get method(): string {
    return this.#head.method;
  }

  get url(): string {
    return this.#head.url;
  }

  get headers(): Headers {
    return this.#headers ??= buildHeaders(this.#head);
  }

  get signal(): AbortSignal {
    return (this.#abort ??= new AbortController()).signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real !== undefined) return this.#real.body;
    if (this.#stream === undefined) this.#stream = this.#makeStream();
    return this.#stream;
  }

  get bodyUsed(): boolean {
    if (this.#real !== undefined) return this.#real.bodyUsed;
    return this.#used || this.#disturbed;
  }

  [ABORT](reason: unknown): void {
    this.#abort?.abort(reason);
  }

  #makeStream(): ReadableStream<Uint8Array> | null {
    const body = this.#body;
    if (body === undefined || this.#used) return null;
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          this.#disturbed = true;
          // A copy: the stream's reader owns its chunks, and the received bytes hold the next request too.
          return body.read().then((r) => (r === null ? controller.close() : controller.enqueue(r.slice())));
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** The whole body, consuming it (synchronously when it is all buffered). */
  #consume(): Uint8Array | Promise<Uint8Array> {
    if (this.#used || this.#disturbed) throw unusable();
    const stream = this.#stream;
    if (stream != null) {
      if (stream.locked) throw unusable();
      this.#used = true;
      return collectStream(stream);
    }
    this.#used = true;
    return this.#body === undefined ? EMPTY : collect(this.#body);
  }

  #read<T>(name: 'arrayBuffer' | 'bytes' | 'text' | 'json' | 'blob', convert: (b: Uint8Array) => T): Promise<T> {
    if (this.#real !== undefined) return (this.#real[name] as () => Promise<T>)();
    try {
      const r = this.#consume();
      return r instanceof Uint8Array ? Promise.resolve(convert(r)) : r.then(convert);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#read('arrayBuffer', toArrayBuffer);
  }

  /**
   * The body's bytes. A body that came in one piece is a view into the
   * received bytes rather than a copy (they are the reader's, never reused
   * or overwritten; see Input): no allocation for a small /pub.
   */
  bytes(): Promise<Uint8Array> {
    return this.#read('bytes', (b) => b);
  }

  text(): Promise<string> {
    return this.#read('text', (b) => utf8.decode(b));
  }

  json(): Promise<unknown> {
    return this.#read('json', (b) => JSON.parse(utf8.decode(b)));
  }

  blob(): Promise<Blob> {
    return this.#read('blob', (b) => new Blob([b as Uint8Array<ArrayBuffer>], { type: this.headers.get('content-type') ?? '' }));
  }

  /** A real Request with the same method, url, headers and (unread) body; made once. */
  [REAL](): Request {
    if (this.#real !== undefined) return this.#real;
    const method = this.#head.method;
    const init: RequestInit & { duplex?: 'half' } = { method, headers: this.headers, signal: this.signal };
    if (method !== 'GET' && method !== 'HEAD') {
      if (this.#used) init.body = '';
      else {
        const stream = this.body;
        if (stream !== null) {
          init.body = stream;
          init.duplex = 'half';
        }
      }
    }
    return this.#real = new (nativeRequest())(this.#head.url, init);
  }
}

// Everything else of Request answers from the real Request.
delegateToReal(LeanRequest, REQUEST_MEMBERS, (r) => r[REAL]());
const nativeRequest = lazyNative<typeof Request>('Request', (native) => Object.setPrototypeOf(LeanRequest.prototype, native.prototype));
