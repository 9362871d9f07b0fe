// One nsqlookupd as nsqd sees it (NSQ's nsqd/lookup_peer.go; PROTOCOL.md
// 6.5): a V1 connection that sends commands and reads their [size][data]
// replies.
//
// On every (re)connection it sends the magic, IDENTIFY, and the replay of
// everything nsqd has (the host's REGISTER lines) before any other command.
// Commands are pipelined: each batch of work goes out in one write, and the
// replies are matched to the commands in order (nsqlookupd answers every
// command, and closes the connection after an error), so a replay of 10,000
// registrations costs one round trip, not 10,000. Dial and each wait for a
// reply are bounded (1 s by default). When the connection fails or the
// lookupd goes away, the peer reconnects by itself after a backoff (doubling
// from 250 ms up to 15 s); commands issued while it is disconnected are
// dropped, since the replay on reconnection re-announces everything.
import type { Logger } from '../log.ts';
import type { Connection, Net } from '../ports.ts';
import { parseAddress } from './nsqd.ts';

/** What this lookupd said about itself in its IDENTIFY reply. */
export interface LookupPeerInfo {
  tcpPort: number;
  httpPort: number;
  version: string;
  broadcastAddress: string;
}

export interface LookupPeerTiming {
  /** Dial timeout (ms). */
  dialTimeout: number;
  /** How long a reply may take (ms). */
  ioTimeout: number;
  /** Reconnection backoff bounds (ms). */
  backoffMin: number;
  backoffMax: number;
}

export const DEFAULT_PEER_TIMING: LookupPeerTiming = { dialTimeout: 1000, ioTimeout: 1000, backoffMin: 250, backoffMax: 15_000 };

export interface LookupPeerHost {
  readonly net: Net;
  readonly logger: Logger;
  /** Bound on a reply's size (--max-body-size). */
  readonly maxBodySize: number;
  /** The IDENTIFY body (JSON). */
  identifyBody(): string;
  /** The command lines that announce everything nsqd has, sent after IDENTIFY on every connection. */
  replay(): string[];
  /** Called after each successful (re)connection and replay. */
  onConnected?(peer: LookupPeer): void;
}

type State = 'disconnected' | 'connecting' | 'connected' | 'closed';
type Reply = (result: string | Error) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAGIC_V1 = enc.encode('  V1');

export class LookupPeer {
  readonly addr: string;
  /** From the last IDENTIFY reply. */
  info: LookupPeerInfo | undefined;
  /** Connections that completed IDENTIFY and the replay. */
  connects = 0;
  private readonly host: LookupPeerHost;
  private readonly timing: LookupPeerTiming;
  private state: State = 'disconnected';
  private conn: Connection | undefined;
  private writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Bumped per connection: callbacks of an old one see it changed and stand down. */
  private generation = 0;
  // replies awaited, in order: replies[replyHead..]
  private replies: Reply[] = [];
  private replyHead = 0;
  // bytes to write at the end of this batch of work
  private out: Uint8Array[] = [];
  private outLen = 0;
  private flushQueued = false;
  // commands issued while connecting, sent after the replay
  private waiting: { bytes: Uint8Array; reply: Reply }[] = [];
  private ioTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private backoff = 0;
  private failures = 0;
  private connectedAt = 0;

  constructor(addr: string, host: LookupPeerHost, timing: Partial<LookupPeerTiming> = {}) {
    this.addr = addr;
    this.host = host;
    this.timing = { ...DEFAULT_PEER_TIMING, ...timing };
  }

  toString(): string {
    return this.addr;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Connected, or connecting: a command() now goes out (after the replay, if that is under way). */
  get active(): boolean {
    return this.state === 'connected' || this.state === 'connecting';
  }

  /** Connects now (if not connected or connecting). */
  start(): void {
    if (this.state !== 'disconnected') return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.connect();
  }

  /**
   * Sends a command (a line without its newline, and a body for IDENTIFY) and
   * resolves with the reply's text. Rejects when the peer is not connected
   * (the replay will carry the state) or the connection fails.
   */
  command(line: string, body?: Uint8Array): Promise<string> {
    if (this.state === 'closed') return Promise.reject(new Error('lookup peer closed'));
    if (this.state === 'disconnected') return Promise.reject(new Error('not connected'));
    const bytes = encodeCommand(line, body);
    return new Promise<string>((resolve, reject) => {
      const reply: Reply = (r) => (r instanceof Error ? reject(r) : resolve(r));
      if (this.state === 'connecting') this.waiting.push({ bytes, reply });
      else this.send(bytes, reply);
    });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    this.teardown(new Error('lookup peer closed'));
  }

  // ---- connection

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.state = 'connecting';
    const log = this.host.logger;
    log.debug(`LOOKUP connecting to ${this.addr}`);
    let conn: Connection;
    try {
      conn = await withTimeout(this.host.net.connect(parseAddress(this.addr)), this.timing.dialTimeout, 'dial timeout', (c) => c.close());
    } catch (err) {
      if (gen === this.generation) this.fail(err);
      return;
    }
    if (gen !== this.generation || (this.state as State) === 'closed') return conn.close();
    this.conn = conn;
    this.writer = conn.writable.getWriter();
    void this.readLoop(conn, gen);
    this.enqueue(MAGIC_V1);
    try {
      const identify = await this.request(encodeCommand('IDENTIFY', enc.encode(this.host.identifyBody())));
      if (gen !== this.generation) return;
      const info = parseIdentifyReply(identify);
      if (info === undefined) throw new Error(`bad IDENTIFY reply ${JSON.stringify(identify.slice(0, 200))}`);
      this.info = info;
      if (info.broadcastAddress === '') log.error(`LOOKUPD(${this.addr}): no broadcast address`);
      const lines = this.host.replay();
      const error = await this.requestAll(lines);
      if (gen !== this.generation) return;
      if (error !== undefined) throw new Error(`replay: ${error}`);
      this.state = 'connected';
      this.connects++;
      this.failures = 0;
      this.connectedAt = performance.now();
      log.info(`LOOKUPD(${this.addr}): connected (lookupd ${info.broadcastAddress}:${info.tcpPort}, version ${info.version}); registered ${lines.length} topics/channels`);
      const waiting = this.waiting;
      this.waiting = [];
      for (const w of waiting) this.send(w.bytes, w.reply);
      this.host.onConnected?.(this);
    } catch (err) {
      if (gen === this.generation) this.fail(err);
    }
  }

  /** Closes the connection, fails what is pending, and schedules a reconnection. */
  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.teardown(err instanceof Error ? err : new Error(String(err)));
    this.state = 'disconnected';
    const log = this.host.logger;
    const reason = err instanceof Error ? err.message : String(err);
    // Start over from the smallest delay only after a connection that held for a while.
    if (wasConnected && performance.now() - this.connectedAt > 5000) this.backoff = 0;
    this.backoff = this.backoff === 0 ? this.timing.backoffMin : Math.min(this.backoff * 2, this.timing.backoffMax);
    const delay = Math.round(this.backoff * (0.8 + 0.4 * Math.random()));
    if (wasConnected) log.info(`LOOKUPD(${this.addr}): disconnected - ${reason}; reconnecting in ${delay}ms`);
    else if (this.failures++ === 0) log.info(`LOOKUPD(${this.addr}): cannot connect - ${reason}; retrying with backoff`);
    else log.debug(`LOOKUPD(${this.addr}): cannot connect - ${reason}; retrying in ${delay}ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'disconnected') void this.connect();
    }, delay);
  }

  private teardown(err: Error): void {
    this.generation++;
    clearTimeout(this.ioTimer);
    this.ioTimer = undefined;
    const conn = this.conn;
    this.conn = undefined;
    this.writer = undefined;
    this.out = [];
    this.outLen = 0;
    conn?.close();
    const replies = this.replies;
    const head = this.replyHead;
    this.replies = [];
    this.replyHead = 0;
    for (let i = head; i < replies.length; i++) replies[i]!(err);
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reply(err);
  }

  // ---- requests and replies

  private request(bytes: Uint8Array): Promise<string> {
    return new Promise((resolve, reject) => this.send(bytes, (r) => (r instanceof Error ? reject(r) : resolve(r))));
  }

  /** Sends every line at once; resolves once all are answered: undefined if all said OK, else the first other reply. */
  private requestAll(lines: readonly string[]): Promise<string | undefined> {
    if (lines.length === 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let left = lines.length;
      let first: string | undefined;
      let failed = false;
      const reply: Reply = (r) => {
        if (failed) return;
        if (r instanceof Error) {
          failed = true;
          return reject(r);
        }
        if (r !== 'OK' && first === undefined) first = r;
        if (--left === 0) resolve(first);
      };
      const text = lines.join('\n') + '\n';
      const bytes = enc.encode(text);
      for (let i = 0; i < lines.length; i++) this.replies.push(reply);
      this.armTimer();
      this.enqueue(bytes);
    });
  }

  private send(bytes: Uint8Array, reply: Reply): void {
    this.replies.push(reply);
    this.armTimer();
    this.enqueue(bytes);
  }

  /** A reply is due within ioTimeout of the request, or of the last reply while more are awaited. */
  private armTimer(): void {
    if (this.ioTimer !== undefined) return;
    const gen = this.generation;
    this.ioTimer = setTimeout(() => {
      this.ioTimer = undefined;
      if (gen === this.generation && this.replies.length > this.replyHead) this.fail(new Error('i/o timeout'));
    }, this.timing.ioTimeout);
  }

  private enqueue(bytes: Uint8Array): void {
    this.out.push(bytes);
    this.outLen += bytes.length;
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** One write per batch of work. */
  private flush(): void {
    this.flushQueued = false;
    const writer = this.writer;
    if (writer === undefined || this.outLen === 0) return;
    let bytes: Uint8Array;
    if (this.out.length === 1) bytes = this.out[0]!;
    else {
      bytes = new Uint8Array(this.outLen);
      let at = 0;
      for (const b of this.out) {
        bytes.set(b, at);
        at += b.length;
      }
    }
    this.out = [];
    this.outLen = 0;
    const gen = this.generation;
    writer.write(bytes).catch((err) => {
      if (gen === this.generation) this.fail(err);
    });
  }

  private async readLoop(conn: Connection, gen: number): Promise<void> {
    const reader = conn.readable.getReader();
    let pending: Uint8Array | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (gen !== this.generation) return;
        if (done) throw new Error('EOF');
        let buf = value;
        if (pending !== undefined) {
          buf = new Uint8Array(pending.length + value.length);
          buf.set(pending);
          buf.set(value, pending.length);
          pending = undefined;
        }
        const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        let pos = 0;
        let answered = false;
        while (pos + 4 <= buf.length) {
          const size = view.getInt32(pos);
          if (size < 0 || size > this.host.maxBodySize) throw new Error(`reply size ${size} out of range`);
          if (pos + 4 + size > buf.length) break;
          const text = dec.decode(buf.subarray(pos + 4, pos + 4 + size));
          pos += 4 + size;
          if (this.replyHead >= this.replies.length) throw new Error(`unexpected reply ${JSON.stringify(text.slice(0, 100))}`);
          const reply = this.replies[this.replyHead]!;
          this.replies[this.replyHead++] = undefined as unknown as Reply;
          if (this.host.logger.enabled('debug')) this.host.logger.debug(`LOOKUPD(${this.addr}): reply ${text.length > 200 ? text.slice(0, 200) + '...' : text}`);
          reply(text);
          if (gen !== this.generation) return;
          answered = true;
        }
        if (pos < buf.length) pending = buf.slice(pos);
        if (this.replyHead === this.replies.length) {
          this.replies = [];
          this.replyHead = 0;
        }
        if (answered) {
          clearTimeout(this.ioTimer);
          this.ioTimer = undefined;
          if (this.replies.length > this.replyHead) this.armTimer();
        }
      }
    } catch (err) {
      if (gen === this.generation) this.fail(err);
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

function encodeCommand(line: string, body?: Uint8Array): Uint8Array {
  const head = enc.encode(line + '\n');
  if (body === undefined) return head;
  const out = new Uint8Array(head.length + 4 + body.length);
  out.set(head);
  new DataView(out.buffer).setInt32(head.length, body.length);
  out.set(body, head.length + 4);
  return out;
}

/** The IDENTIFY reply as Go decodes it into lookupPeer.Info; undefined for E_INVALID or anything not a JSON object. */
function parseIdentifyReply(text: string): LookupPeerInfo | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return { tcpPort: num(o.tcp_port), httpPort: num(o.http_port), version: str(o.version), broadcastAddress: str(o.broadcast_address) };
}

/** `p`, or a rejection with `what` after `ms` (a late result is disposed of). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string, dispose: (late: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(what));
    }, ms);
    p.then(
      (v) => {
        if (done) return dispose(v);
        done = true;
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
