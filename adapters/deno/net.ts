// Deno's Deno.listen/Deno.connect as the core's web-stream Connection, read
// with conn.read() and written with conn.write() rather than through
// conn.readable/conn.writable: faster, and the latter close the whole
// connection on the peer's half-close, dropping replies still queued.
//
// Buffer ownership: each connection reads into one reused 64 KiB buffer and
// enqueues a copy of the bytes read (buf.slice), which the reader then owns.
// Back-pressure: the readable pulls (one conn.read() per pull) only while
// fewer than READ_HIGH_WATER chunks are queued.
// Half-close: the peer's EOF closes the readable only; closing the writable
// sends FIN (closeWrite) and the conn is closed once both directions ended.
import type { Address, Connection, Listener, Net } from '../../core/ports.ts';
import { deno, type DenoAddr, type DenoConn, type DenoConnectOptions } from './deno_types.ts';

const READ_SIZE = 64 * 1024;
const READ_HIGH_WATER = 8; // chunks read ahead of the consumer
const WRITE_HIGH_WATER = 1 << 20; // bytes queued before desiredSize <= 0

function wrap(conn: DenoConn): Connection {
  conn.setNoDelay?.(true);
  const buf = new Uint8Array(READ_SIZE);
  let readDone = false;
  let writeDone = false;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try { conn.close(); } catch { /* already closed */ }
  };

  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        let n: number | null = null;
        try { n = await conn.read(buf); } catch { /* reset, or closed by close(): treat as EOF */ }
        if (n !== null) return c.enqueue(buf.slice(0, n));
        readDone = true;
        try { c.close(); } catch { /* cancelled meanwhile */ }
        if (writeDone) close();
      },
      cancel() { readDone = true; close(); },
    },
    { highWaterMark: READ_HIGH_WATER }, // size: 1 per chunk (a plain strategy: no native size() call per chunk)
  );

  const writable = new WritableStream<Uint8Array>(
    {
      async write(chunk) {
        // conn.write() may write only part of the bytes.
        for (let off = await conn.write(chunk); off < chunk.byteLength;) {
          off += await conn.write(chunk.subarray(off));
        }
      },
      async close() {
        writeDone = true;
        if (closed) return;
        try { await conn.closeWrite(); } catch { /* peer already gone */ }
        if (readDone) close();
      },
      abort() { close(); },
    },
    { highWaterMark: WRITE_HIGH_WATER, size: byteLength },
  );

  const a = conn.remoteAddr;
  const remoteAddress = a.transport === 'tcp' ? `${a.hostname}:${a.port}` : '';
  return { readable, writable, remoteAddress, close };
}

function options(a: Address): DenoConnectOptions {
  return 'path' in a ? { transport: 'unix', path: a.path } : { hostname: a.host, port: a.port };
}

function bound(a: DenoAddr): { host: string; port: number } {
  return a.transport === 'unix' ? { host: a.path, port: -1 } : { host: a.hostname, port: a.port };
}

export const denoNet: Net = {
  listen(address: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    // Inside the executor, Deno.listen's synchronous throw (AddrInUse) becomes a rejection.
    return new Promise((resolve) => {
      const listener = deno.listen(options(address));
      let stopped = false;
      (async () => {
        for (;;) {
          let conn: DenoConn;
          try {
            conn = await listener.accept();
          } catch {
            if (stopped) return;
            // e.g. out of file descriptors: back off rather than spin.
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          onConnection(wrap(conn));
        }
      })();
      const close = async () => {
        stopped = true;
        listener.close();
        // Node and Bun unlink a Unix socket's file on close; Deno leaves it.
        if ('path' in address) await deno.remove(address.path).catch(() => {});
      };
      resolve({ address: bound(listener.addr), close });
    });
  },
  async connect(address: Address): Promise<Connection> {
    return wrap(await deno.connect(options(address)));
  },
};

function byteLength(chunk: Uint8Array): number {
  return chunk.byteLength;
}
