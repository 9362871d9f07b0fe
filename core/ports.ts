// The interfaces a runtime adapter implements. Everything in core/ that
// differs between Node, Bun and Deno goes through these, so core itself
// needs nothing beyond web standards.

/** Where to listen or connect: a TCP host and port, or a Unix socket path. */
export type Address = { host: string; port: number } | { path: string };

/**
 * One byte-stream connection.
 *
 * Contract that keeps the hot path cheap:
 * - chunks from `readable` are handed over as the socket delivers them and are
 *   owned by the reader afterwards (the adapter never reuses their memory), so
 *   core may keep views into them instead of copying;
 * - each `writable.write()` should carry a whole batch of frames: the adapter
 *   passes it to the socket as one write, and `desiredSize` turning <= 0 is the
 *   back-pressure signal.
 */
export interface Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** "ip:port" of the peer ("" for a Unix socket peer). */
  readonly remoteAddress: string;
  /** Tear the connection down now, dropping anything not yet written. */
  close(): void;
}

export interface Listener {
  /** The address actually bound (port 0 resolves to the chosen port; -1 for a Unix socket). */
  readonly address: { host: string; port: number };
  /** Stop accepting; connections already handed over stay open. */
  close(): Promise<void>;
}

export interface Net {
  listen(address: Address, onConnection: (conn: Connection) => void): Promise<Listener>;
  connect(address: Address): Promise<Connection>;
}

/**
 * What a server adapter may hand over with a request, when it has it for
 * free: the Content-Length header as received. (On core's HTTP/1.1 server,
 * which serves on Node, reading `request.headers` builds a whole Headers
 * object, a measurable cost per /pub; the server has the value from its
 * parse.) It arrives as the handler's second argument, which a Hono app sees
 * as `c.env`.
 */
export interface RequestMeta {
  readonly contentLength?: string;
}

/** A web-standard request handler, such as a Hono app's `fetch`. */
export type FetchHandler = (request: Request, meta?: RequestMeta) => Response | Promise<Response>;

/**
 * Serves HTTP: on Node core's HTTP/1.1 server over the Net port
 * (core/http/http1/), on Bun and Deno their native serve. `onError` hears
 * of a handler that threw (the client gets a 500); the daemon logs it.
 */
export type Serve = (handler: FetchHandler, address: Address, onError?: (err: unknown) => void) => Promise<Listener>;

/** An open file. Positions are byte offsets; every call completes fully or throws. */
export interface FileHandle {
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Reads up to `buf.length` bytes at `position`; returns how many were read (0 at the end). */
  read(buf: Uint8Array, position: number): Promise<number>;
  /** fsync. */
  sync(): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The file operations the disk queue and the metadata need. Paths use '/'.
 * A crash-safe replace is: open a temporary file, write, sync, close, rename.
 */
export interface Storage {
  /** Opens a file for reading and writing, created (mode 0600) if `create` and missing. */
  open(path: string, options: { create: boolean }): Promise<FileHandle>;
  /** The whole file, or undefined if it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** Size in bytes, or undefined if the file does not exist. */
  size(path: string): Promise<number | undefined>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; no error if it does not exist. */
  remove(path: string): Promise<void>;
  /** Names (not paths) of the entries of a folder. */
  list(dir: string): Promise<string[]>;
  mkdir(dir: string): Promise<void>;
  /** Makes a folder's entries (a rename) durable. */
  syncDir(dir: string): Promise<void>;
  /**
   * Takes an exclusive lock on a data folder for this process, so that two
   * daemons cannot share it; throws if another process holds it. `warning`
   * says what was recovered on the way (a stale lock taken over).
   */
  lock(dir: string): Promise<{ release(): Promise<void>; warning?: string }>;
}

/** What a daemon needs from the runtime it runs on. */
export interface Runtime {
  readonly name: 'node' | 'bun' | 'deno';
  readonly net: Net;
  readonly serve?: Serve;
  readonly storage?: Storage;
  /** The machine's host name (os.hostname()). */
  hostname(): string;
  /** The process's memory figures, for /stats and /metrics (zeros when absent). */
  memoryUsage?(): MemoryUsage;
}

/** The figures of Node's memoryUsage(), in bytes. */
export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}
