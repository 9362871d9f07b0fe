// One V2 connection's state (NSQ's nsqd/client_v2.go): IDENTIFY settings, RDY
// and in-flight counts, the output buffer, heartbeats and deadlines.
//
// Output: frames are encoded into one buffer per connection. Replies to a
// client's own commands are flushed by protocol_v2 once per chunk it read;
// messages pushed by a channel mark the connection dirty and every dirty
// connection is flushed in one microtask at the end of the current batch of
// work. So there is one socket write per connection per batch, earlier than
// --output-buffer-timeout, and a write as soon as the buffer passes
// output_buffer_size.
import type { Connection } from '../ports.ts';
import { FRAME_TYPE_ERROR, FRAME_TYPE_RESPONSE, OutputBuffer } from '../protocol/frame.ts';
import type { Channel, Consumer } from './channel.ts';
import type { Message } from './message.ts';
import type { NsqdOptions } from './options.ts';

export const STATE_INIT = 0;
export const STATE_SUBSCRIBED = 3;
export const STATE_CLOSING = 4;

const HEARTBEAT = '_heartbeat_';
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

let dirty: ClientV2[] = [];
let flushQueued = false;

function flushDirty(): void {
  flushQueued = false;
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i]!.flush();
}

export class ClientV2 implements Consumer {
  readonly id: number;
  readonly conn: Connection;
  readonly remoteAddress: string;
  readonly connectTime: number = Date.now();
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly out = new OutputBuffer();
  private queued = false;

  state = STATE_INIT;
  closed = false;

  // IDENTIFY
  clientId: string;
  hostname: string;
  userAgent = '';
  featureNegotiation = false;
  heartbeatInterval: number;
  outputBufferSize = 16384;
  outputBufferTimeout: number;
  sampleRate = 0;
  msgTimeout: number;
  identified = false;

  // flow control and stats
  readyCount = 0;
  inFlightCount = 0;
  messageCount = 0;
  finishCount = 0;
  requeueCount = 0;
  pubCounts: Map<string, number> = new Map();
  channel: Channel | undefined;

  /** performance.now() of the last bytes read: the read deadline is 2 heartbeats after it. */
  lastRead: number = performance.now();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private writeStalledSince = 0;
  /** Called once when the connection must go (deadline passed, write stalled, channel deleted). */
  onClose: () => void = () => {};

  constructor(id: number, conn: Connection, opts: NsqdOptions) {
    this.id = id;
    this.conn = conn;
    this.remoteAddress = conn.remoteAddress;
    const host = hostOf(conn.remoteAddress);
    this.clientId = host;
    this.hostname = host;
    this.heartbeatInterval = opts.clientTimeout / 2;
    this.outputBufferTimeout = opts.outputBufferTimeout;
    this.msgTimeout = opts.msgTimeout;
    this.writer = conn.writable.getWriter();
    this.writer.closed.catch(() => this.onClose());
    this.armTimers();
  }

  // ---- Consumer (called by the channel)

  isReadyForMessages(): boolean {
    return this.state === STATE_SUBSCRIBED && this.inFlightCount < this.readyCount;
  }

  sendMessage(msg: Message): void {
    this.inFlightCount++;
    this.messageCount++;
    this.out.appendMessage(msg);
    if (this.out.length >= this.outputBufferSize) this.flush();
    else this.markDirty();
  }

  timedOutMessage(): void {
    this.inFlightCount--;
  }

  emptied(): void {
    this.inFlightCount = 0;
  }

  close(): void {
    this.onClose();
  }

  // ---- flow control (called by the protocol)

  setReadyCount(count: number): void {
    this.readyCount = count;
    this.channel?.clientReady();
  }

  finishedMessage(): void {
    this.finishCount++;
    this.inFlightCount--;
    this.channel?.clientReady();
  }

  requeuedMessage(): void {
    this.requeueCount++;
    this.inFlightCount--;
    this.channel?.clientReady();
  }

  startClose(): void {
    this.readyCount = 0;
    this.state = STATE_CLOSING;
  }

  publishedMessage(topic: string, count: number): void {
    this.pubCounts.set(topic, (this.pubCounts.get(topic) ?? 0) + count);
  }

  // ---- output

  sendResponse(text: string): void {
    this.out.appendText(FRAME_TYPE_RESPONSE, text);
  }

  /**
   * An error frame. Its text holds one char per byte, as the command line was
   * read: a command name, ID or parameter it echoes goes back as the bytes
   * that came, as in Go nsqd, not re-encoded as UTF-8.
   */
  sendError(text: string): void {
    if (!NON_ASCII.test(text)) {
      this.out.appendText(FRAME_TYPE_ERROR, text);
      return;
    }
    const frame = new Uint8Array(8 + text.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 4 + text.length);
    view.setUint32(4, FRAME_TYPE_ERROR);
    for (let i = 0; i < text.length; i++) frame[8 + i] = text.charCodeAt(i);
    this.flush(); // what is buffered goes first
    if (!this.closed) this.writer.write(frame).catch(() => this.onClose());
  }

  private markDirty(): void {
    if (this.queued) return;
    this.queued = true;
    dirty.push(this);
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flushDirty);
    }
  }

  /** Writes whatever is buffered as one chunk. */
  flush(): void {
    this.queued = false;
    if (this.out.length === 0 || this.closed) return;
    this.writer.write(this.out.take()).catch(() => this.onClose());
    if ((this.writer.desiredSize ?? 0) <= 0 && this.writeStalledSince === 0) this.writeStalledSince = performance.now();
  }

  /** Resolves when the socket has room again (back-pressure for the read loop). */
  async writable(): Promise<void> {
    if ((this.writer.desiredSize ?? 1) > 0) return;
    await this.writer.ready;
    this.writeStalledSince = 0;
  }

  /** Flushes, then ends the connection after the bytes are out. */
  async end(): Promise<void> {
    this.flush();
    this.closed = true;
    this.stopTimers();
    try {
      await this.writer.close();
    } catch {
      // the peer is gone already
    }
  }

  // ---- heartbeats and deadlines (PROTOCOL.md 2.9)

  /** (Re)starts the heartbeat ticker and read deadline for the current interval. */
  armTimers(): void {
    this.stopTimers();
    const interval = this.heartbeatInterval;
    if (interval <= 0) return;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), interval);
    this.scheduleDeadline(2 * interval);
  }

  stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.deadlineTimer);
    this.heartbeatTimer = this.deadlineTimer = undefined;
  }

  private heartbeat(): void {
    // A consumer that has not read its socket for a heartbeat interval is gone (write deadline).
    if (this.writeStalledSince > 0 && performance.now() - this.writeStalledSince >= this.heartbeatInterval) {
      this.onClose();
      return;
    }
    this.sendResponse(HEARTBEAT);
    this.flush();
  }

  /** One timer for the read deadline, re-armed only when it fires early: no timer work per command. */
  private scheduleDeadline(ms: number): void {
    this.deadlineTimer = setTimeout(() => {
      const left = this.lastRead + 2 * this.heartbeatInterval - performance.now();
      if (left > 0) this.scheduleDeadline(left);
      else this.onClose();
    }, ms);
  }
}

function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  const host = i < 0 ? addr : addr.slice(0, i);
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
