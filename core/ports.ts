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

/** What a daemon needs from the runtime it runs on. */
export interface Runtime {
  readonly name: 'node' | 'bun' | 'deno';
  readonly net: Net;
  /** The machine's host name (os.hostname()). */
  hostname(): string;
}
