// Node's net.Socket as the core's web-stream Connection. Hand-written streams
// rather than Duplex.toWeb: chunks go through as plain Uint8Array views of the
// Buffers Node already allocated, and each write is one socket.write().
import * as net from 'node:net';
import type { Address, Connection, Listener, Net } from '../../core/ports.ts';

const READ_HIGH_WATER = 8; // chunks queued before the socket is paused
const WRITE_HIGH_WATER = 1 << 20; // bytes queued before desiredSize <= 0

function wrap(socket: net.Socket): Connection {
  socket.setNoDelay(true);
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        socket.on('data', (b: Buffer) => {
          controller.enqueue(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) socket.pause();
        });
        socket.on('end', () => controller.close());
        socket.on('close', () => {
          try { controller.close(); } catch { /* already closed or errored */ }
        });
        socket.on('error', () => {
          try { controller.close(); } catch { /* already closed */ }
        });
      },
      pull() { socket.resume(); },
      cancel() { socket.destroy(); },
    },
    { highWaterMark: READ_HIGH_WATER }, // size: 1 per chunk (a plain strategy: no native size() call per chunk)
  );
  const writable = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        if (socket.destroyed) throw new Error('socket closed');
        if (socket.write(chunk)) return;
        return new Promise<void>((resolve, reject) => {
          const done = () => { socket.off('drain', done); socket.off('close', done); socket.destroyed ? reject(new Error('socket closed')) : resolve(); };
          socket.on('drain', done);
          socket.on('close', done);
        });
      },
      close() { return new Promise<void>((resolve) => socket.end(resolve)); },
      abort() { socket.destroy(); },
    },
    { highWaterMark: WRITE_HIGH_WATER, size: byteLength },
  );
  const remoteAddress = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : '';
  return { readable, writable, remoteAddress, close: () => socket.destroy() };
}

export const nodeNet: Net = {
  listen(address: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => onConnection(wrap(s)));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const ready = () => {
        server.off('error', reject);
        const a = server.address();
        const bound = typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: String(a), port: -1 };
        resolve({ address: bound, close: () => Promise.resolve(void server.close()) }); // server.close(cb) would wait for every open connection
      };
      if ('path' in address) server.listen(address.path, ready);
      else server.listen(address.port, address.host, ready);
    });
  },
  connect(address: Address): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in address
        ? net.connect({ path: address.path, allowHalfOpen: true })
        : net.connect({ host: address.host, port: address.port, allowHalfOpen: true });
      socket.once('error', reject);
      socket.once('connect', () => { socket.off('error', reject); resolve(wrap(socket)); });
    });
  },
};

function byteLength(chunk: Uint8Array): number {
  return chunk.byteLength;
}
