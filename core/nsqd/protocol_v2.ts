// The V2 TCP protocol (NSQ's nsqd/protocol_v2.go, PROTOCOL.md section 2).
//
// The read loop takes each chunk the socket delivers and executes every
// complete command in it in one synchronous pass; a partial command at the
// end is kept for the next chunk (in a buffer sized to the whole frame once
// its length is known, so a 5 MiB MPUB is not copied once per chunk). The
// replies produced by one chunk go out in one write. A message keeps the
// chunk and its body's bounds in it (no view per message); the adapter hands
// chunks over for good (see ports.ts).
//
// Errors, their texts and which are fatal follow Go nsqd byte for byte.
import { ClientError, FatalClientError, NsqError } from '../errors.ts';
import { base10, durationMs, goQuote } from '../protocol/go_format.ts';
import { isValidChannelName, isValidTopicName } from '../protocol/names.ts';
import { ClientV2, STATE_CLOSING, STATE_INIT, STATE_SUBSCRIBED } from './client_v2.ts';
import { identify } from './identify.ts';
import { MSG_ID_LENGTH, nowNs } from './message.ts';
import type { NSQD } from './nsqd.ts';

/** nsqd reads commands through a 16 KiB buffer: a longer line closes the connection. */
const MAX_LINE = 16384;
const NL = 10;
const OK = 'OK';

/** Thrown by a command that needs bytes not yet received. */
const NEED_MORE = Symbol('need more');

class LineTooLong extends NsqError {
  constructor() {
    super('E_LINE_TOO_LONG', `command line longer than ${MAX_LINE} bytes`);
  }
}

export class ProtocolV2 {
  private readonly nsqd: NSQD;
  private readonly client: ClientV2;
  /** Unconsumed bytes of a partial command, and how many bytes it needs before it can go on (0 = unknown). */
  private pending: Uint8Array | undefined;
  private pendingLen = 0;
  private need = 0;
  /** The partial command's whole length when known (an MPUB's announced body), to size `pending` once. */
  private hint = 0;
  /** A partial MPUB: the next message to validate and where its size field is (from the line start). */
  private mpubIndex = 0;
  private mpubPos = 0;
  /** Parsing state for the command being read. */
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private eof = false;
  /** Start of the command being parsed, and where the next one starts once its line is read. */
  private lineStart = 0;
  private nextPos = 0;
  /** Set by a fatal error: the reply is flushed and the connection closed. */
  private fatal = false;
  /** A PUB, MPUB or DPUB since the read loop last settled (see ioLoop). */
  private published = false;

  constructor(nsqd: NSQD, client: ClientV2) {
    this.nsqd = nsqd;
    this.client = client;
  }

  /** Runs the connection until it ends. `initial` holds bytes read after the magic. */
  async ioLoop(reader: ReadableStreamDefaultReader<Uint8Array>, initial: Uint8Array): Promise<void> {
    const client = this.client;
    let closing = false;
    client.onClose = () => {
      if (closing) return;
      closing = true;
      client.closed = true;
      reader.cancel().catch(() => {});
      client.conn.close();
    };
    try {
      if (initial.length > 0) this.feed(initial);
      while (!client.closed && !this.fatal) {
        // The OKs of a chunk that published wait for NSQD.settlePublish (--durable's fsync, a disk backlog).
        if (this.published) {
          this.published = false;
          const settled = this.nsqd.settlePublish();
          if (settled !== undefined) await settled;
        }
        client.flush();
        await client.writable();
        const { value, done } = await reader.read();
        if (done) {
          this.eof = true;
          if (this.pendingLen > 0) this.feed(new Uint8Array(0));
          break;
        }
        client.lastRead = performance.now();
        this.feed(value);
      }
    } catch (err) {
      if (!client.closed) this.nsqd.logger.debug(`[${client.remoteAddress}] read loop ended`, { error: String(err) });
    } finally {
      if (this.published) await this.nsqd.settlePublish()?.catch(() => {});
      await this.exit();
      closing = true;
    }
  }

  /** Executes every complete command in `chunk` (plus any pending bytes). */
  private feed(chunk: Uint8Array): void {
    let buf = chunk;
    const pending = this.pending;
    if (pending !== undefined) {
      const total = this.pendingLen + chunk.length;
      if (total > pending.length) this.pending = grow(pending, this.pendingLen, total);
      this.pending!.set(chunk, this.pendingLen);
      this.pendingLen = total;
      if (this.need > 0 && total < this.need && !this.eof) return;
      buf = this.pending!.subarray(0, total);
    }
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    while (pos < buf.length && !this.fatal && !this.client.closed) {
      let next: number;
      try {
        next = this.execOne(pos);
      } catch (err) {
        if (err === NEED_MORE) break;
        this.need = this.hint = this.mpubIndex = 0;
        this.handleError(err);
        if (this.fatal) return;
        pos = this.nextPos;
        continue;
      }
      this.need = this.hint = this.mpubIndex = 0;
      pos = next;
    }
    if (pos >= buf.length || this.fatal) {
      this.pending = undefined;
      this.pendingLen = 0;
      return;
    }
    // Keep the partial command, in a buffer sized for the whole frame when known. If nothing
    // was consumed the pending buffer already holds it (and no message body points into it).
    const rest = buf.length - pos;
    const size = Math.max(rest, this.need, this.hint);
    if (pos === 0 && this.pending !== undefined && this.pending.length >= size) {
      this.pendingLen = rest;
      return;
    }
    const next = new Uint8Array(size);
    next.set(buf.subarray(pos));
    this.pending = next;
    this.pendingLen = rest;
  }

  private handleError(err: unknown): void {
    const client = this.client;
    if (err instanceof LineTooLong) {
      this.fatal = true;
      return;
    }
    if (err instanceof ClientError) {
      this.nsqd.logger.error(`[${client.remoteAddress}] - ${err.message}`);
      client.sendError(err.wire);
      if (err instanceof FatalClientError) this.fatal = true;
      return;
    }
    this.nsqd.logger.error(`[${client.remoteAddress}] internal error`, { error: String(err) });
    client.sendError('E_INVALID internal error');
    this.fatal = true;
  }

  // ---- parsing helpers. A command that lacks bytes throws NEED_MORE (or, at EOF, its "failed to read" error).

  /** Ensures bytes [0, end) are available; records how much the frame needs. */
  /** At EOF the error is `code` with "<prefix> <desc>" (strings, not a closure: no allocation per command). */
  private ensure(end: number, code: string, prefix: string, desc: string): void {
    if (end <= this.buf.length) return;
    if (this.eof) throw new FatalClientError(code, `${prefix} ${desc}`);
    this.need = end - this.lineStart;
    throw NEED_MORE;
  }

  private readInt32(at: number, code: string, prefix: string, desc: string): number {
    this.ensure(at + 4, code, prefix, desc);
    return this.view.getInt32(at);
  }

  /** Parses and runs the command at `pos`; returns the position after it. */
  private execOne(pos: number): number {
    const buf = this.buf;
    this.lineStart = pos;
    let nl = buf.indexOf(NL, pos);
    if (nl < 0 || nl - pos >= MAX_LINE) {
      if (nl < 0 && buf.length - pos < MAX_LINE) {
        if (this.eof) return buf.length; // a partial line at EOF is dropped, as Go's reader does
        throw NEED_MORE;
      }
      throw new LineTooLong();
    }
    let end = nl;
    if (end > pos && buf[end - 1] === 13) end--;
    const after = nl + 1;
    // FIN <16-byte id>, a consumer's most frequent command: no line string, no split.
    if (end - pos === 4 + MSG_ID_LENGTH && buf[pos] === 0x46 && buf[pos + 1] === 0x49 && buf[pos + 2] === 0x4e && buf[pos + 3] === 0x20) {
      this.nextPos = after;
      this.checkSubscribed('FIN');
      const client = this.client;
      client.channel!.finishMessageAt(client.id, buf, pos + 4);
      client.finishedMessage();
      return after;
    }
    const line = latin1(buf, pos, end);
    const params = line.split(' ');
    this.nextPos = after;
    switch (params[0]) {
      case 'FIN': return this.FIN(params, after);
      case 'RDY': return this.RDY(params, after);
      case 'REQ': return this.REQ(params, after);
      case 'PUB': return this.PUB(params, after);
      case 'MPUB': return this.MPUB(params, after);
      case 'DPUB': return this.DPUB(params, after);
      case 'NOP': return after;
      case 'TOUCH': return this.TOUCH(params, after);
      case 'SUB': return this.SUB(params, after);
      case 'CLS': return this.CLS(after);
      case 'IDENTIFY': return this.IDENTIFY(after);
      case 'AUTH': return this.AUTH(params, after);
      default:
        throw new FatalClientError('E_INVALID', `invalid command ${params[0]}`);
    }
  }

  // ---- commands

  private IDENTIFY(at: number): number {
    const client = this.client;
    if (client.state !== STATE_INIT) throw new FatalClientError('E_INVALID', 'cannot IDENTIFY in current state');
    const bad = (desc: string) => new FatalClientError('E_BAD_BODY', desc);
    const size = this.readInt32(at, 'E_BAD_BODY', 'IDENTIFY', 'failed to read body size');
    const max = this.nsqd.opts.maxBodySize;
    if (size > max) throw bad(`IDENTIFY body too big ${size} > ${max}`);
    if (size <= 0) throw bad(`IDENTIFY invalid body size ${size}`);
    const end = at + 4 + size;
    this.ensure(end, 'E_BAD_BODY', 'IDENTIFY', 'failed to read body');
    const response = identify(this.nsqd, client, this.buf.subarray(at + 4, end));
    client.sendResponse(response);
    return end;
  }

  private AUTH(params: string[], at: number): number {
    const client = this.client;
    if (client.state !== STATE_INIT) throw new FatalClientError('E_INVALID', 'cannot AUTH in current state');
    if (params.length !== 1) throw new FatalClientError('E_INVALID', 'AUTH invalid number of parameters');
    const bad = (desc: string) => new FatalClientError('E_BAD_BODY', desc);
    const size = this.readInt32(at, 'E_BAD_BODY', 'AUTH', 'failed to read body size');
    const max = this.nsqd.opts.maxBodySize;
    if (size > max) throw bad(`AUTH body too big ${size} > ${max}`);
    if (size <= 0) throw bad(`AUTH invalid body size ${size}`);
    this.ensure(at + 4 + size, 'E_BAD_BODY', 'AUTH', 'failed to read body');
    // No --auth-http-address is supported yet, so AUTH is disabled, as in Go nsqd without one.
    throw new FatalClientError('E_AUTH_DISABLED', 'AUTH disabled');
  }

  private SUB(params: string[], at: number): number {
    const client = this.client;
    if (client.state !== STATE_INIT) throw new FatalClientError('E_INVALID', 'cannot SUB in current state');
    if (client.heartbeatInterval <= 0) throw new FatalClientError('E_INVALID', 'cannot SUB with heartbeats disabled');
    if (params.length < 3) throw new FatalClientError('E_INVALID', 'SUB insufficient number of parameters');
    const topicName = params[1]!;
    if (!isValidTopicName(topicName)) throw new FatalClientError('E_BAD_TOPIC', `SUB topic name ${goQuote(topicName)} is not valid`);
    const channelName = params[2]!;
    if (!isValidChannelName(channelName)) throw new FatalClientError('E_BAD_CHANNEL', `SUB channel name ${goQuote(channelName)} is not valid`);
    const channel = this.nsqd.getTopic(topicName).getChannel(channelName);
    try {
      channel.addClient(client);
    } catch (err) {
      throw new FatalClientError('E_SUB_FAILED', `SUB failed ${(err as Error).message}`, { cause: err });
    }
    client.state = STATE_SUBSCRIBED;
    client.channel = channel;
    client.sendResponse(OK);
    return at;
  }

  private RDY(params: string[], at: number): number {
    const client = this.client;
    if (client.state === STATE_CLOSING) return at; // ignored after CLS
    if (client.state !== STATE_SUBSCRIBED) throw new FatalClientError('E_INVALID', 'cannot RDY in current state');
    let count: number | bigint = 1;
    if (params.length > 1) {
      const n = base10(params[1]!);
      if (n === undefined) throw new FatalClientError('E_INVALID', `RDY could not parse count ${params[1]}`);
      count = typeof n === 'number' ? n : BigInt.asIntN(64, n); // Go's int64(uint64)
    }
    const max = this.nsqd.opts.maxRdyCount;
    if (count < 0 || count > max) throw new FatalClientError('E_INVALID', `RDY count ${count} out of range 0-${max}`);
    client.setReadyCount(Number(count));
    return at;
  }

  private messageID(params: string[], cmd: string, minParams: number): string {
    this.checkSubscribed(cmd);
    if (params.length < minParams) throw new FatalClientError('E_INVALID', `${cmd} insufficient number of params`);
    const id = params[1]!;
    if (id.length !== MSG_ID_LENGTH) throw new FatalClientError('E_INVALID', 'invalid message ID');
    return id;
  }

  private checkSubscribed(cmd: string): void {
    const state = this.client.state;
    if (state !== STATE_SUBSCRIBED && state !== STATE_CLOSING) throw new FatalClientError('E_INVALID', `cannot ${cmd} in current state`);
  }

  private FIN(params: string[], at: number): number {
    return this.finish(this.messageID(params, 'FIN', 2), at);
  }

  private finish(id: string, at: number): number {
    const client = this.client;
    client.channel!.finishMessage(client.id, id);
    client.finishedMessage();
    return at;
  }

  private REQ(params: string[], at: number): number {
    const id = this.messageID(params, 'REQ', 3);
    const client = this.client;
    const n = base10(params[2]!);
    if (n === undefined) throw new FatalClientError('E_INVALID', `REQ could not parse timeout ${params[2]}`);
    const clamped = Math.min(Math.max(durationMs(n), 0), this.nsqd.opts.maxReqTimeout);
    client.channel!.requeueMessage(client.id, id, clamped);
    client.requeuedMessage();
    return at;
  }

  private TOUCH(params: string[], at: number): number {
    const id = this.messageID(params, 'TOUCH', 2);
    const client = this.client;
    client.channel!.touchMessage(client.id, id, client.msgTimeout);
    return at;
  }

  private CLS(at: number): number {
    const client = this.client;
    if (client.state !== STATE_SUBSCRIBED) throw new FatalClientError('E_INVALID', 'cannot CLS in current state');
    client.startClose();
    client.sendResponse('CLOSE_WAIT');
    return at;
  }

  /** The body of PUB or DPUB: [int32 size][bytes], checked against --max-msg-size. */
  private readMessageBody(cmd: string, at: number): Uint8Array {
    const size = this.readInt32(at, 'E_BAD_MESSAGE', cmd, 'failed to read message body size');
    if (size <= 0) throw new FatalClientError('E_BAD_MESSAGE', `${cmd} invalid message body size ${size}`);
    const max = this.nsqd.opts.maxMsgSize;
    if (size > max) throw new FatalClientError('E_BAD_MESSAGE', `${cmd} message too big ${size} > ${max}`);
    this.ensure(at + 4 + size, 'E_BAD_MESSAGE', cmd, 'failed to read message body');
    return this.buf.subarray(at + 4, at + 4 + size);
  }

  private PUB(params: string[], at: number): number {
    if (params.length < 2) throw new FatalClientError('E_INVALID', 'PUB insufficient number of parameters');
    const topicName = params[1]!;
    if (!isValidTopicName(topicName)) throw new FatalClientError('E_BAD_TOPIC', `PUB topic name ${goQuote(topicName)} is not valid`);
    const body = this.readMessageBody('PUB', at);
    const topic = this.nsqd.getTopic(topicName);
    if (topic.exiting) throw new FatalClientError('E_PUB_FAILED', 'PUB failed exiting');
    topic.putMessage(topic.newMessage(body, nowNs()));
    this.published = true;
    this.client.publishedMessage(topicName, 1);
    this.client.sendResponse(OK);
    return at + 4 + body.length;
  }

  private DPUB(params: string[], at: number): number {
    if (params.length < 3) throw new FatalClientError('E_INVALID', 'DPUB insufficient number of parameters');
    const topicName = params[1]!;
    if (!isValidTopicName(topicName)) throw new FatalClientError('E_BAD_TOPIC', `DPUB topic name ${goQuote(topicName)} is not valid`);
    const n = base10(params[2]!);
    if (n === undefined) throw new FatalClientError('E_INVALID', `DPUB could not parse timeout ${params[2]}`);
    const ms = durationMs(n);
    const max = this.nsqd.opts.maxReqTimeout;
    if (ms < 0 || ms > max) throw new FatalClientError('E_INVALID', `DPUB timeout ${n} out of range 0-${max}`);
    const body = this.readMessageBody('DPUB', at);
    const topic = this.nsqd.getTopic(topicName);
    if (topic.exiting) throw new FatalClientError('E_DPUB_FAILED', 'DPUB failed exiting');
    const msg = topic.newMessage(body, nowNs());
    msg.deferred = ms;
    topic.putMessage(msg);
    this.published = true;
    this.client.publishedMessage(topicName, 1);
    this.client.sendResponse(OK);
    return at + 4 + body.length;
  }

  /**
   * MPUB: [int32 body size][int32 count]([int32 size][bytes])*. Like Go nsqd
   * it reads the messages from the stream and does not hold them to the body
   * size: each size is checked as soon as it arrives (a partial MPUB resumes
   * where the last chunk ended), and every message is validated before any is
   * queued.
   */
  private MPUB(params: string[], at: number): number {
    if (params.length < 2) throw new FatalClientError('E_INVALID', 'MPUB insufficient number of parameters');
    const topicName = params[1]!;
    if (!isValidTopicName(topicName)) throw new FatalClientError('E_BAD_TOPIC', `E_BAD_TOPIC MPUB topic name ${goQuote(topicName)} is not valid`);
    const topic = this.nsqd.getTopic(topicName);
    const badBody = (desc: string) => new FatalClientError('E_BAD_BODY', `MPUB ${desc}`);
    const badMsg = (desc: string) => new FatalClientError('E_BAD_MESSAGE', `MPUB ${desc}`);
    const opts = this.nsqd.opts;
    const bodySize = this.readInt32(at, 'E_BAD_BODY', 'MPUB', 'failed to read body size');
    if (bodySize <= 0) throw badBody(`invalid body size ${bodySize}`);
    if (bodySize > opts.maxBodySize) throw badBody(`body too big ${bodySize} > ${opts.maxBodySize}`);
    this.hint = at + 4 + bodySize - this.lineStart;
    const count = this.readInt32(at + 4, 'E_BAD_BODY', 'MPUB', 'failed to read message count');
    if (count <= 0 || count > Math.floor((opts.maxBodySize - 4) / 5)) throw badBody(`invalid message count ${count}`);
    const buf = this.buf;
    const view = this.view;
    let i = this.mpubIndex;
    let p = i === 0 ? at + 8 : this.lineStart + this.mpubPos;
    for (; i < count; i++) {
      if (p + 4 > buf.length) this.stopMPUB(i, p, p + 4, `failed to read message(${i}) body size`);
      const size = view.getInt32(p);
      if (size <= 0) throw badMsg(`invalid message(${i}) body size ${size}`);
      if (size > opts.maxMsgSize) throw badMsg(`message too big ${size} > ${opts.maxMsgSize}`);
      if (p + 4 + size > buf.length) this.stopMPUB(i, p, p + 4 + size, 'failed to read message body');
      p += 4 + size;
    }
    if (topic.exiting) throw new FatalClientError('E_MPUB_FAILED', 'MPUB failed exiting');
    const ts = nowNs();
    for (let k = 0, q = at + 8; k < count; k++) {
      const size = view.getInt32(q);
      topic.putMessage(topic.newMessage(buf, ts, q + 4, q + 4 + size));
      q += 4 + size;
    }
    this.published = true;
    this.client.publishedMessage(topicName, count);
    this.client.sendResponse(OK);
    return p;
  }

  /** A partial MPUB: notes where to resume (message `i`, whose size is at `p`), then waits for `end` (or fails at EOF). */
  private stopMPUB(i: number, p: number, end: number, desc: string): never {
    this.mpubIndex = i;
    this.mpubPos = p - this.lineStart;
    this.ensure(end, 'E_BAD_MESSAGE', 'MPUB', desc);
    throw NEED_MORE; // not reached: `end` is past the bytes read
  }

  /** The connection is done: leave the channel (in-flight messages go back at once) and close. */
  private async exit(): Promise<void> {
    const client = this.client;
    client.stopTimers();
    const channel = client.channel;
    client.channel = undefined;
    channel?.removeClient(client);
    this.nsqd.removeClient(client);
    // Give the last replies a moment to go out, but never hang on a peer that stopped reading.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([client.end(), new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
    client.conn.close();
  }
}

/** A bigger buffer holding src[0, len): at least `total` bytes, and doubling, so a frame fed in small chunks is copied O(log n) times. */
function grow(src: Uint8Array, len: number, total: number): Uint8Array {
  const out = new Uint8Array(Math.max(total, 2 * src.length));
  out.set(src.subarray(0, len));
  return out;
}

/** Bytes as a string, one char per byte (command lines are ASCII). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 4096) return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i += 4096) s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}
