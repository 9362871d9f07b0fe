// An HTTP/1.1 server over the Net port: a fetch handler (a Hono app's
// fetch) served on plain connections, without the runtime's HTTP stack. The
// Node adapter serves with it because node:http and undici's Request and
// Response cost more than all of nsqd's /pub; Bun and Deno keep their
// native servers, and run this one in the tests.
//
// One async loop per connection, requests one after the other (pipelined
// ones are answered in order, one write each):
//
//   wait for a complete head (Input.fill, HeadScanner resuming its scan)
//   -> parseHead -> LeanRequest -> handler(request, the head as RequestMeta)
//   -> discard what the handler left of the body -> one write of the response
//
// A request that came whole in one read and a handler that answers at once
// run without an await of the server's own; the socket's readable is read
// only when the buffer has no complete head.
//
// Keep-alive as HTTP/1.1 says: open unless Connection: close, or HTTP/1.0
// without Connection: keep-alive. The connection also closes after a
// malformed request (400 and the like, as Go's net/http answers them), a
// handler that throws (500), a response whose length is only known at its
// end on HTTP/1.0, and a body the handler left unread beyond 256 KiB (Go's
// maxPostHandlerReadBytes; below that the rest is read and dropped), or not
// asked for under Expect: 100-continue (100 Continue goes out when the
// handler first reads the body).
//
// Timeouts (Go's nsqd sets none; these bound what a silent or slow client
// can hold): a request head must be complete within headerTimeoutMs (60 s)
// of its first byte or of the connection's opening (the slowloris guard,
// Go's ReadHeaderTimeout); a keep-alive connection may wait idleTimeoutMs
// (5 min) for its next request. No timer per request: each connection
// carries a deadline that one interval per server sweeps (every second at
// most), running only while there are connections.
//
// Closing: the response goes out, then FIN, then whatever the client still
// sends is read and dropped until it closes (at most 500 ms, Go's
// rstAvoidanceDelay), so that unread bytes do not make the kernel reset the
// connection before the client has read the response. listener.close()
// stops accepting, ends idle connections, lets requests under way finish
// (their responses say Connection: close) and drops what remains after 1 s.

import type { Address, Connection, FetchHandler, Listener, Net } from '../../ports.ts';
import { BodyReader } from './body.ts';
import { CR, decodeHead, HEAD_BAD, HEAD_LATIN, HeadScanner, latin1, LF, MAX_HEADER_BYTES, parseHead } from './head.ts';
import { Input } from './input.ts';
import { ABORT, LeanRequest } from './request.ts';
import { prepareNatives } from './native.ts';
import { installLeanResponse, isLean, LeanResponse, materialise } from './response.ts';
import { REASONS } from './status.ts';
import { ascii, dateHeader, encodeLean, type Sink, type WriteContext, writeResponse } from './write.ts';

export interface Http1Options {
  /** How long a request head may take, from its first byte (or the connection's opening). Default 60 s. */
  headerTimeoutMs?: number;
  /** How long a keep-alive connection may wait for its next request. Default 5 min. */
  idleTimeoutMs?: number;
  /** The largest request head (request line and fields); larger is 431. Default 1 MiB. */
  maxHeaderBytes?: number;
  /** A handler that threw or answered something else than a Response (the client gets a 500). Default console.error. */
  onError?: (err: unknown) => void;
  /**
   * Make the global Response the lean one (installLeanResponse) when the
   * first connection arrives, so that a handler's `new Response()` is lean
   * too: for Node, whose own is costly. Default false.
   */
  leanResponse?: boolean;
}

const MAX_DISCARD = 256 * 1024;
const LINGER_MS = 500;
const CLOSE_GRACE_MS = 1000;
/** Bound on the final flush of a closing connection. */
const CLOSING_TIMEOUT_MS = 30_000;

const IDLE = 0; // waiting for the first byte of a request
const HEAD = 1; // a request head is arriving
const BUSY = 2; // handling a request
const CLOSING = 3;

const encoder = new TextEncoder();
const CONTINUE = encoder.encode('HTTP/1.1 100 Continue\r\n\r\n');
const noop = () => {};

function hostOf(a: { host: string; port: number }): string {
  if (a.port < 0) return 'localhost';
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

class Http1Server {
  readonly handler: FetchHandler;
  readonly headerTimeout: number;
  readonly idleTimeout: number;
  readonly maxHeaderBytes: number;
  readonly onError: (err: unknown) => void;
  readonly conns = new Set<Http1Connection>();
  defaultHost = 'localhost';
  closing = false;
  /** A coarse clock for deadlines, advanced by the sweep. */
  clock = Date.now();
  #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #period: number;
  readonly #leanResponse: boolean;
  #prepared = false;
  #drained: (() => void) | undefined;

  constructor(handler: FetchHandler, options: Http1Options) {
    this.handler = handler;
    this.headerTimeout = options.headerTimeoutMs ?? 60_000;
    this.idleTimeout = options.idleTimeoutMs ?? 300_000;
    this.maxHeaderBytes = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
    this.onError = options.onError ?? ((err) => console.error('http: handler error:', err));
    this.#period = Math.max(5, Math.min(1000, this.headerTimeout / 4, this.idleTimeout / 4));
    this.#leanResponse = options.leanResponse ?? false;
  }

  accept(conn: Connection): void {
    if (!this.#prepared) {
      // Not before: on Node this may load undici (native.ts).
      this.#prepared = true;
      if (this.#leanResponse) installLeanResponse();
      else prepareNatives();
    }
    if (this.closing) {
      conn.close();
      return;
    }
    if (this.conns.size === 0) this.#startSweep();
    const c = new Http1Connection(this, conn);
    this.conns.add(c);
    void c.run();
  }

  remove(c: Http1Connection): void {
    if (!this.conns.delete(c) || this.conns.size > 0) return;
    this.#stopSweep();
    this.#drained?.();
  }

  #startSweep(): void {
    this.clock = Date.now();
    const t = setInterval(() => {
      const now = this.clock = Date.now();
      for (const c of this.conns) if (now > c.deadline) c.expire();
    }, this.#period);
    // Node: the connections, not the sweep, keep the process alive.
    (t as { unref?: () => void }).unref?.();
    this.#sweep = t;
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  async close(inner: Listener): Promise<void> {
    this.closing = true;
    await inner.close();
    for (const c of this.conns) if (c.state === IDLE) c.end();
    if (this.conns.size === 0) return;
    const drained = new Promise<void>((resolve) => (this.#drained = resolve));
    const force = setTimeout(() => {
      for (const c of this.conns) c.expire();
    }, CLOSE_GRACE_MS);
    await drained;
    clearTimeout(force);
  }
}

class Http1Connection implements Sink {
  readonly #server: Http1Server;
  readonly #conn: Connection;
  readonly #input: Input;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #scanner = new HeadScanner();
  state = IDLE;
  /** The coarse-clock time past which the sweep drops the connection. */
  deadline: number;
  /** The connection is gone (or dropped): nothing more is written. */
  #broken = false;
  #current: LeanRequest | undefined;
  readonly #ctx: WriteContext = { head: false, close: false, keepAlive10: false, http11: true };
  readonly #onWriteError = () => {
    this.#broken = true;
    this.#conn.close();
  };
  readonly #sendContinue = () => this.write(CONTINUE);

  constructor(server: Http1Server, conn: Connection) {
    this.#server = server;
    this.#conn = conn;
    this.#reader = conn.readable.getReader();
    this.#input = new Input(this.#reader);
    this.#writer = conn.writable.getWriter();
    this.deadline = server.clock + server.headerTimeout;
  }

  write(bytes: Uint8Array): void {
    if (this.#broken) return;
    this.#writer.write(bytes).then(undefined, this.#onWriteError);
  }

  ready(): Promise<void> | undefined {
    const d = this.#writer.desiredSize;
    if (d === null || d > 0) return undefined;
    return this.#writer.ready.then(undefined, this.#onWriteError);
  }

  /** Drops the connection now (timeout, or the listener's grace period is over). */
  expire(): void {
    this.#current?.[ABORT](new DOMException('the connection was dropped', 'AbortError'));
    this.#broken = true;
    this.#conn.close();
    this.#server.remove(this);
  }

  /** Ends an idle connection: FIN after what was written; the loop sees the client's end. */
  end(): void {
    this.state = CLOSING;
    this.deadline = this.#server.clock + LINGER_MS;
    this.#writer.close().catch(noop);
  }

  async run(): Promise<void> {
    try {
      await this.#serve();
    } catch (err) {
      this.#server.onError(err);
      this.#broken = true;
    }
    await this.#finish();
  }

  /** The 4xx/5xx of a request that cannot be served; the connection then closes. */
  #refuse(status: number): void {
    const text = `${status} ${REASONS[status]}`;
    this.write(ascii(`HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `${dateHeader(Date.now())}Content-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`));
  }

  async #serve(): Promise<void> {
    const server = this.#server;
    const input = this.#input;
    const ctx = this.#ctx;
    for (;;) {
      // ---- a complete request head
      const scanner = this.#scanner;
      scanner.reset();
      let end: number;
      for (;;) {
        const buf = input.buf;
        let pos = input.pos;
        while (pos < buf.length && (buf[pos] === CR || buf[pos] === LF)) pos++; // empty lines before a request line
        input.pos = pos;
        if (pos < buf.length) {
          if (this.state === IDLE) {
            this.state = HEAD;
            this.deadline = server.clock + server.headerTimeout;
          }
          end = scanner.scan(buf, pos, buf.length);
          if (end >= 0) break;
          if (buf.length - pos > server.maxHeaderBytes) return this.#refuse(431);
        }
        if (server.closing && this.state === IDLE) return;
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await this.#reader.read(); // (Input.fill() without its async frame: once per request)
        } catch {
          r = { done: true, value: undefined };
        }
        if (!input.take(r) || this.#broken || this.state === CLOSING) return;
      }
      const buf = input.buf;
      const start = input.pos;
      if (end - start > server.maxHeaderBytes) return this.#refuse(431);
      const flags = scanner.flags;
      const parsed = (flags & HEAD_BAD) !== 0 ? 400 : (flags & HEAD_LATIN) === 0
        ? parseHead(decodeHead(buf, start, end), server.defaultHost, false)
        : parseHead(latin1(buf, start, end), server.defaultHost, true);
      input.pos = end;
      if (typeof parsed === 'number') return this.#refuse(parsed);
      const head = parsed;
      this.state = BUSY;
      this.deadline = Infinity;

      // ---- the handler
      ctx.head = head.method === 'HEAD';
      ctx.close = head.close;
      ctx.keepAlive10 = head.keepAlive10;
      ctx.http11 = head.minor === 1;
      let body: BodyReader | undefined;
      if (head.hasBody) {
        body = new BodyReader(input, head.chunked, head.bodyLength);
        if (head.expectContinue) body.onFirstRead = this.#sendContinue;
      }
      const req = new LeanRequest(head, body);
      this.#current = req;
      let res: unknown;
      try {
        res = server.handler(req as unknown as Request, head);
        if (typeof (res as PromiseLike<unknown> | undefined)?.then === 'function') res = await res;
      } catch (err) {
        server.onError(err);
        return this.#refuse(500);
      }
      if (this.#broken) return;
      if (!(res instanceof LeanResponse)) { // a lean or a real Response (LeanResponse's hasInstance)
        server.onError(new TypeError(`the handler answered ${res === null ? 'null' : typeof res}, not a Response`));
        return this.#refuse(500);
      }

      // ---- what the handler left of the body
      if (body !== undefined && !body.done) {
        if (body.failed !== undefined || body.onFirstRead !== undefined) ctx.close = true; // malformed, or 100 Continue never sent
        else if (!ctx.close) {
          if (body.knownRemaining >= MAX_DISCARD) ctx.close = true;
          else {
            let ended = body.discard(MAX_DISCARD);
            if (ended !== true && ended !== false) {
              this.deadline = server.clock + server.headerTimeout;
              ended = await ended;
              this.deadline = Infinity;
              if (this.#broken) return;
            }
            if (!ended) ctx.close = true;
          }
        }
      }
      if (server.closing) ctx.close = true;

      // ---- the response
      try {
        const bytes = isLean(res) ? encodeLean(res, ctx, Date.now()) : undefined;
        if (bytes !== undefined) this.write(bytes);
        else await writeResponse(isLean(res) ? materialise(res) : res, ctx, Date.now(), this);
      } catch (err) {
        server.onError(err);
        return this.#refuse(500);
      }
      if (body !== undefined) body.detached = true;
      this.#current = undefined;
      if (ctx.close || this.#broken) return;
      this.state = IDLE;
      this.deadline = server.clock + server.idleTimeout;
      const wait = this.ready();
      if (wait !== undefined) await wait;
      if (this.#broken) return;
    }
  }

  async #finish(): Promise<void> {
    const server = this.#server;
    this.#current?.[ABORT](new DOMException('the connection closed', 'AbortError'));
    if (!this.#broken && this.state !== CLOSING) {
      this.state = CLOSING;
      this.deadline = server.clock + CLOSING_TIMEOUT_MS;
      await this.#writer.close().catch(noop);
      // Lingering close: drop what the client still sends until it closes.
      if (!this.#input.eof && !this.#broken) {
        this.deadline = server.clock + LINGER_MS;
        const input = this.#input;
        input.pos = input.buf.length;
        while (!this.#broken && await input.fill()) input.pos = input.buf.length;
      }
    } else if (this.state === CLOSING && !this.#broken) {
      // end(): the client's FIN, or the sweep, finishes it
      const input = this.#input;
      input.pos = input.buf.length;
      while (!this.#broken && await input.fill()) input.pos = input.buf.length;
    }
    this.#conn.close();
    server.remove(this);
  }
}

/**
 * Serves `handler` over HTTP/1.1 on connections from `net` at `address`.
 * The handler gets a LeanRequest (see request.ts) and RequestMeta with the
 * Content-Length; on Node, set `leanResponse` so that its `new Response()`
 * are lean too.
 */
export async function serveHttp1(net: Net, handler: FetchHandler, address: Address, options: Http1Options = {}): Promise<Listener> {
  const server = new Http1Server(handler, options);
  const inner = await net.listen(address, (conn) => server.accept(conn));
  server.defaultHost = hostOf(inner.address);
  let closed: Promise<void> | undefined;
  return {
    address: inner.address,
    close: () => (closed ??= server.close(inner)),
  };
}
