// The Net port through real sockets, on whichever runtime runs the file:
// ordering of many small writes, large transfers both ways under
// back-pressure, half-close, close(), and listener errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address, Connection, Listener } from '../../core/ports.ts';
import { runtime } from '../helpers/runtime.ts';

const LOCAL: Address = { host: '127.0.0.1', port: 0 };
const T = { timeout: 30_000 };
const WAIT = 10_000; // bound on any single wait inside a test

/** p, or a rejection after ms; the timer is always cleared. */
function within<V>(p: Promise<V>, what: string, ms = WAIT): Promise<V> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Accepted connections, in order. */
class Accepted {
  #queue: Connection[] = [];
  #waiting: ((c: Connection) => void) | null = null;
  readonly all: Connection[] = [];
  readonly push = (c: Connection): void => {
    this.all.push(c);
    if (this.#waiting) { this.#waiting(c); this.#waiting = null; } else this.#queue.push(c);
  };
  next(): Promise<Connection> {
    const c = this.#queue.shift();
    return within(c ? Promise.resolve(c) : new Promise((r) => { this.#waiting = r; }), 'accept');
  }
}

/** A listener on 127.0.0.1:0 plus one connected client and its server side. */
async function pair(): Promise<{ listener: Listener; acc: Accepted; client: Connection; server: Connection; done(): Promise<void> }> {
  const acc = new Accepted();
  const listener = await runtime.net.listen(LOCAL, acc.push);
  const client = await within(runtime.net.connect({ host: '127.0.0.1', port: listener.address.port }), 'connect');
  const server = await acc.next();
  const done = async () => {
    client.close();
    for (const c of acc.all) c.close();
    await within(listener.close(), 'listener close');
  };
  return { listener, acc, client, server, done };
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const reader = readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) { out.set(c, off); off += c.byteLength; }
  return out;
}

/** Deterministic bytes that differ per seed and do not repeat every 256 bytes. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >>> 10) * 7 + seed) & 255;
  return out;
}

/** Index of the first differing byte (or length difference), -1 if equal. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

function assertBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  const at = firstDiff(got, want);
  assert.equal(at, -1, `${what}: ${got.byteLength} bytes received, ${want.byteLength} expected, first difference at ${at}`);
}

/**
 * Writes data in chunks of `size`, each write awaited. With `reuse`, every
 * chunk goes through the same buffer, refilled once the previous write has
 * resolved: this checks that a resolved write no longer needs its bytes.
 */
async function send(writable: WritableStream<Uint8Array>, data: Uint8Array, size: number, reuse: boolean): Promise<void> {
  const writer = writable.getWriter();
  const buf = new Uint8Array(size);
  for (let off = 0; off < data.byteLength; off += size) {
    const part = data.subarray(off, off + size);
    if (reuse) { buf.set(part); await writer.write(buf.subarray(0, part.byteLength)); } else await writer.write(part.slice());
  }
  await writer.close();
}

/** Writes back every chunk read, then closes its side when the peer has. */
async function echo(conn: Connection): Promise<void> {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    await writer.write(value);
  }
  await writer.close();
}

test(`${runtime.name}: listener reports the bound address and port`, T, async () => {
  const { listener, client, server, done } = await pair();
  try {
    assert.equal(listener.address.host, '127.0.0.1');
    assert.ok(listener.address.port > 0, `port ${listener.address.port}`);
    assert.equal(client.remoteAddress, `127.0.0.1:${listener.address.port}`);
    assert.match(server.remoteAddress, /^127\.0\.0\.1:\d+$/);
  } finally {
    await done();
  }
});

test(`${runtime.name}: echoes many small writes in order`, T, async () => {
  const { client, server, done } = await pair();
  try {
    const echoing = echo(server);
    const enc = new TextEncoder();
    const msgs: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) msgs.push(enc.encode(`message ${i};`));
    const writer = client.writable.getWriter();
    const writes = msgs.map((m) => writer.write(m)); // queued, not awaited one by one
    const reading = readAll(client.readable);
    await within(Promise.all(writes), 'small writes');
    await within(writer.close(), 'client writable close');
    assertBytes(concat(await within(reading, 'echo')), concat(msgs), 'echo');
    await within(echoing, 'server echo loop');
  } finally {
    await done();
  }
});

test(`${runtime.name}: streams 8 MiB both ways under back-pressure`, T, async () => {
  const { client, server, done } = await pair();
  try {
    const size = 8 << 20;
    const up = pattern(size, 1);
    const down = pattern(size, 2);
    // Server reads and writes at once; the client sends everything before it
    // starts reading, so the server's writes must wait for the client.
    const serverSide = Promise.all([readAll(server.readable), send(server.writable, down, 64 * 1024, false)]);
    await within(send(client.writable, up, 64 * 1024, true), 'client send');
    const clientGot = await within(readAll(client.readable), 'client read');
    const [serverGot] = await within(serverSide, 'server side');
    // Chunks are compared only now, after all have arrived: a chunk whose
    // memory the adapter reused would show up as a difference here.
    assertBytes(concat(serverGot), up, 'client to server');
    assertBytes(concat(clientGot), down, 'server to client');
  } finally {
    await done();
  }
});

test(`${runtime.name}: peer half-close keeps the other direction open`, T, async () => {
  const { client, server, done } = await pair();
  try {
    const request = pattern(300 * 1024, 3);
    const reply = pattern(2 << 20, 4);
    const serverSide = (async () => {
      const got = concat(await readAll(server.readable)); // ends at the client's FIN
      await send(server.writable, reply, 64 * 1024, false); // still writable
      return got;
    })();
    await within(send(client.writable, request, 16 * 1024, false), 'client send and close');
    const clientGot = concat(await within(readAll(client.readable), 'client read reply'));
    assertBytes(await within(serverSide, 'server side'), request, 'request');
    assertBytes(clientGot, reply, 'reply after half-close');
  } finally {
    await done();
  }
});

/** Writes until a write fails; resolves (which the caller treats as failure) if none does. */
async function writeUntilRejected(writable: WritableStream<Uint8Array>): Promise<void> {
  const writer = writable.getWriter();
  for (let i = 0; i < 400; i++) {
    await writer.write(new Uint8Array(1024));
    await sleep(5);
  }
}

test(`${runtime.name}: close() tears down both sides`, T, async () => {
  const { listener, acc, client, server, done } = await pair();
  try {
    server.close();
    assert.equal((await within(readAll(server.readable), 'closed side readable')).length, 0);
    await assert.rejects(within(server.writable.getWriter().write(new Uint8Array(1)), 'write after close'));
    assert.equal((await within(readAll(client.readable), 'peer readable ends')).length, 0);
    await assert.rejects(within(writeUntilRejected(client.writable), 'peer writes fail'));

    // And from the client's side.
    const client2 = await within(runtime.net.connect({ host: '127.0.0.1', port: listener.address.port }), 'connect');
    const server2 = await acc.next();
    client2.close();
    assert.equal((await within(readAll(server2.readable), 'server sees the close')).length, 0);
    assert.equal((await within(readAll(client2.readable), 'closed side readable')).length, 0);
  } finally {
    await done();
  }
});

test(`${runtime.name}: listen on a busy port rejects`, T, async () => {
  const listener = await runtime.net.listen(LOCAL, (c) => c.close());
  try {
    await assert.rejects(within(runtime.net.listen({ host: '127.0.0.1', port: listener.address.port }, (c) => c.close()), 'listen'));
  } finally {
    await within(listener.close(), 'listener close');
  }
});

test(`${runtime.name}: Listener.close stops accepting and keeps open connections`, T, async () => {
  const acc = new Accepted();
  const listener = await runtime.net.listen(LOCAL, acc.push);
  const port = listener.address.port;
  const client = await within(runtime.net.connect({ host: '127.0.0.1', port }), 'connect');
  const server = await acc.next();
  try {
    const echoing = echo(server);
    await within(listener.close(), 'Listener.close with a connection open');
    await assert.rejects(within(runtime.net.connect({ host: '127.0.0.1', port }), 'connect after close'));
    const hello = new TextEncoder().encode('still here');
    await within(send(client.writable, hello, 1024, false), 'send');
    assertBytes(concat(await within(readAll(client.readable), 'echo')), hello, 'echo after Listener.close');
    await within(echoing, 'server echo loop');
  } finally {
    client.close();
    server.close();
  }
});

test(`${runtime.name}: Unix socket path`, T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsq-ts-net-'));
  const path = join(dir, 'net.sock');
  try {
    const acc = new Accepted();
    const listener = await runtime.net.listen({ path }, acc.push);
    let client: Connection | undefined;
    try {
      assert.deepEqual(listener.address, { host: path, port: -1 });
      client = await within(runtime.net.connect({ path }), 'connect');
      const server = await acc.next();
      assert.equal(server.remoteAddress, '');
      const echoing = echo(server);
      const data = pattern(1 << 20, 5);
      const reading = readAll(client.readable);
      await within(send(client.writable, data, 64 * 1024, false), 'send');
      assertBytes(concat(await within(reading, 'echo')), data, 'unix echo');
      await within(echoing, 'server echo loop');
    } finally {
      client?.close();
      for (const c of acc.all) c.close();
      await within(listener.close(), 'listener close');
    }
    // Listener.close frees the path for the next listener.
    const again = await runtime.net.listen({ path }, (c) => c.close());
    await within(again.close(), 'second listener close');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
