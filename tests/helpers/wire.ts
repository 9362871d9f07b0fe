// A raw V2 protocol client over node:net for the tests: writes bytes and reads
// frames, every wait bounded. It shares no code with the server on purpose.
import * as net from 'node:net';

export const FRAME_RESPONSE = 0;
export const FRAME_ERROR = 1;
export const FRAME_MESSAGE = 2;

export interface Frame {
  type: number;
  data: Uint8Array;
  text: string;
}

export interface WireMessage {
  timestamp: bigint;
  attempts: number;
  id: string;
  body: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function bytes(...parts: (string | Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

export function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

/** A command with a size-prefixed body. */
export function withBody(line: string, body: string | Uint8Array): Uint8Array {
  const b = typeof body === 'string' ? enc.encode(body) : body;
  return bytes(line, int32(b.length), b);
}

export function mpubBody(messages: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [int32(messages.length)];
  for (const m of messages) {
    const b = typeof m === 'string' ? enc.encode(m) : m;
    parts.push(int32(b.length), b);
  }
  return bytes(...parts);
}

export function decodeMessage(f: Frame): WireMessage {
  const v = new DataView(f.data.buffer, f.data.byteOffset, f.data.byteLength);
  return {
    timestamp: v.getBigInt64(0),
    attempts: v.getUint16(8),
    id: dec.decode(f.data.subarray(10, 26)),
    body: dec.decode(f.data.subarray(26)),
  };
}

export class WireClient {
  private socket!: net.Socket;
  /** Received bytes not yet read are buf[start, tail): appends amortised, reads never copy the rest. */
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private tail = 0;
  private waiters: (() => void)[] = [];
  closed = false;

  static async connect(port: number, opts: { magic?: boolean } = {}): Promise<WireClient> {
    const c = new WireClient();
    await new Promise<void>((resolve, reject) => {
      c.socket = net.connect({ host: '127.0.0.1', port }, resolve);
      c.socket.once('error', reject);
    });
    c.socket.setNoDelay(true); // each write() goes out as its own segment (framing tests rely on it)
    c.socket.on('error', () => {});
    c.socket.on('data', (d: Uint8Array) => {
      c.append(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      c.wake();
    });
    c.socket.on('close', () => {
      c.closed = true;
      c.wake();
    });
    if (opts.magic !== false) c.write('  V2');
    return c;
  }

  private append(d: Uint8Array): void {
    if (this.tail + d.length > this.buf.length) {
      const live = this.tail - this.start;
      if (live + d.length <= this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.tail);
      } else {
        const next = new Uint8Array(Math.max(2 * this.buf.length, live + d.length, 65536));
        next.set(this.buf.subarray(this.start, this.tail));
        this.buf = next;
      }
      this.start = 0;
      this.tail = live;
    }
    this.buf.set(d, this.tail);
    this.tail += d.length;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? enc.encode(data) : data);
  }

  /** Writes and resolves once the bytes are handed to the kernel. */
  send(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => this.socket.write(typeof data === 'string' ? enc.encode(data) : data, () => resolve()));
  }

  /** Writes `data` in pieces of `piece` bytes, each handed to the kernel and followed by a pause of `pauseMs`. */
  async writeInPieces(data: string | Uint8Array, piece: number, pauseMs = 0): Promise<void> {
    const b = typeof data === 'string' ? enc.encode(data) : data;
    for (let at = 0; at < b.length; at += piece) {
      await this.send(b.subarray(at, Math.min(b.length, at + piece)));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** Waits until `cond` holds, at most `ms`. */
  private async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  private frameReady(): boolean {
    if (this.tail - this.start < 4) return false;
    const size = new DataView(this.buf.buffer, this.buf.byteOffset + this.start).getInt32(0);
    return this.tail - this.start >= 4 + size;
  }

  /** The next frame; throws if none arrives in `ms` or the connection closes first. */
  async readFrame(ms = 2000): Promise<Frame> {
    await this.until(() => this.frameReady() || this.closed, ms, 'a frame');
    if (!this.frameReady()) throw new Error('connection closed before a frame arrived');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.start);
    const size = v.getInt32(0);
    const type = v.getInt32(4);
    const data = this.buf.slice(this.start + 8, this.start + 4 + size);
    this.start += 4 + size;
    return { type, data, text: dec.decode(data) };
  }

  /** Exactly the next `n` raw bytes; throws if they do not arrive in `ms`. */
  async readBytes(n: number, ms = 2000): Promise<Uint8Array> {
    await this.until(() => this.tail - this.start >= n || this.closed, ms, `${n} bytes`);
    if (this.tail - this.start < n) throw new Error(`connection closed after ${this.tail - this.start} of ${n} bytes`);
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** The next frame that is not a heartbeat. */
  async readNonHeartbeat(ms = 2000): Promise<Frame> {
    for (;;) {
      const f = await this.readFrame(ms);
      if (!(f.type === FRAME_RESPONSE && f.text === '_heartbeat_')) return f;
    }
  }

  async expectResponse(text: string, ms = 2000): Promise<void> {
    const f = await this.readNonHeartbeat(ms);
    if (f.type !== FRAME_RESPONSE || f.text !== text) throw new Error(`expected response ${JSON.stringify(text)}, got type ${f.type} ${JSON.stringify(f.text)}`);
  }

  async expectError(text: string, ms = 2000): Promise<void> {
    const f = await this.readNonHeartbeat(ms);
    if (f.type !== FRAME_ERROR || f.text !== text) throw new Error(`expected error ${JSON.stringify(text)}, got type ${f.type} ${JSON.stringify(f.text)}`);
  }

  async readMessage(ms = 2000): Promise<WireMessage> {
    const f = await this.readNonHeartbeat(ms);
    if (f.type !== FRAME_MESSAGE) throw new Error(`expected a message, got type ${f.type} ${JSON.stringify(f.text)}`);
    return decodeMessage(f);
  }

  /** Resolves when the server closes the connection (after any frames still buffered). */
  async expectClose(ms = 2000): Promise<void> {
    await this.until(() => this.closed, ms, 'the server to close the connection');
  }

  /** True if nothing but heartbeats arrives within `ms`. */
  async expectSilence(ms = 200): Promise<void> {
    try {
      const f = await this.readNonHeartbeat(ms);
      throw new Error(`expected silence, got type ${f.type} ${JSON.stringify(f.text.slice(0, 80))}`);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('timed out')) throw err;
    }
  }

  pending(): number {
    return this.tail - this.start;
  }

  /** IDENTIFY with a JSON body and read the answer. */
  async identify(body: Record<string, unknown>): Promise<Frame> {
    this.write(withBody('IDENTIFY\n', JSON.stringify(body)));
    return this.readNonHeartbeat();
  }

  async sub(topic: string, channel: string, rdy?: number): Promise<void> {
    this.write(`SUB ${topic} ${channel}\n`);
    await this.expectResponse('OK');
    if (rdy !== undefined) this.write(`RDY ${rdy}\n`);
  }

  async pub(topic: string, body: string | Uint8Array): Promise<void> {
    this.write(withBody(`PUB ${topic}\n`, body));
    await this.expectResponse('OK');
  }

  end(): void {
    this.socket.end();
  }

  /** Stops reading the socket (the server's writes back up), until resumeReading(). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
