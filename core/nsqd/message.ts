// A message as one channel holds it. The topic creates one per channel, all
// sharing the id, the body bytes and the timestamp (see topic.ts).

import { hexId } from './guid.ts';

export const MSG_ID_LENGTH = 16;
const TWO_32 = 4294967296;
/** timestamp (8) + attempts (2) + id (16): the header before the body, on the wire and on disk. */
export const MSG_HEADER_LENGTH = 26;

export class Message {
  /**
   * The ID string, or '' until `id` makes it: from the record's bytes (read
   * back) or from keyHi/keyLo (published here, see guid.ts).
   */
  idString: string;
  /**
   * The body is bytes[bodyAt, bodyEnd). Published, `bytes` is what the body
   * came in (an MPUB's whole read buffer: no view is kept per message, one
   * object less per message queued); read back from a backend queue
   * (`fromRecord`), it is the record, header and body, which goes out again
   * as it is (writeMessage).
   */
  readonly bytes: Uint8Array;
  readonly bodyAt: number;
  readonly bodyEnd: number;
  readonly fromRecord: boolean;
  /**
   * Nanoseconds since the Unix epoch when nsqd accepted the publish, as two
   * 32-bit words: Go's timestamps (~1.8e18) are past 2^53, where a number
   * would round them, and a record written again must keep them exact.
   * tsLow is kept as a signed 32-bit integer: a small integer on V8, where
   * a number past 2^31 would be a separate heap object per message.
   */
  tsHigh: number;
  tsLow: number;
  /** Deliveries so far; incremented just before each delivery. */
  attempts: number;

  // Channel bookkeeping, kept on the message to spare a map lookup per event.
  /** Deadline (in flight) or due time (deferred), in whole performance.now() milliseconds (integers: no heap number per message on V8). */
  pri = 0;
  /** Position in the in-flight or deferred heap; -2: in the in-flight ring (in_flight_queue.ts); -1: in neither. */
  index = -1;
  /** Its number in delivery order (in_flight_queue.ts): the ring's mark of its live entry. */
  seq = 0;
  /** The client holding it in flight. */
  clientId = 0;
  /** performance.now() at delivery, for TOUCH's --max-msg-timeout bound. */
  deliveryTs = 0;
  /** Milliseconds to defer on its way from the topic to each channel (DPUB). */
  deferred = 0;
  /** --durable: the channel disk queue's hold on the record it came from (-1: none), see diskqueue.ts. */
  hold = -1;
  /**
   * The ID's hash and 64-bit key in the in-flight and deferred tables
   * (message_map.ts); hash -1 until one computes them. With idString '' and
   * no record (messageWithId), the key is the ID itself.
   */
  hash = -1;
  keyHi = 0;
  keyLo = 0;

  /** Its parts as they are; see newMessage (published now) and decodeMessage (read back). */
  constructor(id: string, bytes: Uint8Array, tsHigh: number, tsLow: number, attempts: number, fromRecord: boolean, bodyAt = fromRecord ? MSG_HEADER_LENGTH : 0, bodyEnd = bytes.length) {
    this.idString = id;
    this.bytes = bytes;
    this.fromRecord = fromRecord;
    this.bodyAt = bodyAt;
    this.bodyEnd = bodyEnd;
    this.tsHigh = tsHigh;
    this.tsLow = tsLow | 0;
    this.attempts = attempts;
  }

  /** 16 characters, one per byte of the ID on the wire; made on first use (most are never asked for). */
  get id(): string {
    const id = this.idString;
    if (id !== '') return id;
    return (this.idString = this.fromRecord ? idAt(this.bytes, 10) : hexId(this.keyHi, this.keyLo));
  }

  get body(): Uint8Array {
    const b = this.bytes;
    return this.bodyAt === 0 && this.bodyEnd === b.length ? b : b.subarray(this.bodyAt, this.bodyEnd);
  }

  /** Header + body: the size of its record, and of its frame's data. */
  get recordLength(): number {
    return this.bodyEnd - this.bodyAt + MSG_HEADER_LENGTH;
  }

  /** The timestamp as a number (rounded past 2^53: for latencies, not for records). */
  get timestamp(): number {
    return this.tsHigh * TWO_32 + (this.tsLow >>> 0);
  }

  /** A copy for another channel: same id, body and timestamp. */
  copy(): Message {
    const m = new Message(this.idString, this.bytes, this.tsHigh, this.tsLow, this.attempts, this.fromRecord, this.bodyAt, this.bodyEnd);
    m.deferred = this.deferred;
    m.hash = this.hash;
    m.keyHi = this.keyHi;
    m.keyLo = this.keyLo;
    return m;
  }
}

/** A message published now, its body bytes[start, end); `ns` from nowNs() (a multiple of 2^8 past 2^53, so exact). */
export function newMessage(id: string, bytes: Uint8Array, ns: number, attempts = 0, start = 0, end = bytes.length): Message {
  const hi = Math.floor(ns / TWO_32);
  return new Message(id, bytes, hi, ns - hi * TWO_32, attempts, false, start, end);
}

/** newMessage with the ID whose two 32-bit words are idHi and idLo (a topic's GuidFactory): no string made. */
export function messageWithId(idHi: number, idLo: number, bytes: Uint8Array, start: number, end: number, ns: number): Message {
  const msg = newMessage('', bytes, ns, 0, start, end);
  msg.keyHi = idHi | 0;
  msg.keyLo = idLo | 0;
  return msg;
}

/** Two ASCII hex digits per byte value. */
const HEX_DIGITS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_DIGITS[2 * i] = '0123456789abcdef'.charCodeAt(i >> 4);
  HEX_DIGITS[2 * i + 1] = '0123456789abcdef'.charCodeAt(i & 15);
}

function writeHexWord(dst: Uint8Array, at: number, w: number): void {
  for (let shift = 24; shift >= 0; shift -= 8, at += 2) {
    const d = ((w >>> shift) & 0xff) * 2;
    dst[at] = HEX_DIGITS[d]!;
    dst[at + 1] = HEX_DIGITS[d + 1]!;
  }
}

/** Writes the 26-byte header + body at `at` (the frame payload of section 2.4 and the disk record of 7.2). */
export function writeMessage(dst: Uint8Array, view: DataView, at: number, msg: Message): number {
  const attempts = msg.attempts & 0xffff;
  const bytes = msg.bytes;
  if (msg.fromRecord) {
    // The record it was read from: same timestamp, ID and body; only the attempts changed.
    dst.set(bytes, at);
    view.setUint16(at + 8, attempts);
    return at + bytes.length;
  }
  view.setUint32(at, msg.tsHigh);
  view.setUint32(at + 4, msg.tsLow);
  view.setUint16(at + 8, attempts);
  const id = msg.idString;
  if (id === '') {
    writeHexWord(dst, at + 10, msg.keyHi);
    writeHexWord(dst, at + 18, msg.keyLo);
  } else {
    for (let i = 0; i < MSG_ID_LENGTH; i++) dst[at + 10 + i] = id.charCodeAt(i);
  }
  const start = msg.bodyAt;
  const end = msg.bodyEnd;
  dst.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), at + MSG_HEADER_LENGTH);
  return at + MSG_HEADER_LENGTH + end - start;
}

/** Encodes a message as a self-contained record payload (for a backend queue). */
export function encodeMessage(msg: Message): Uint8Array {
  const out = new Uint8Array(msg.recordLength);
  writeMessage(out, new DataView(out.buffer), 0, msg);
  return out;
}

/**
 * The 16 bytes of a message ID at `at` as a string. Sixteen arguments, not
 * fromCharCode.apply over a view: 4x faster on V8, 2x on JSC, and the
 * string is flat (a Map key hashed without flattening).
 */
export function idAt(b: Uint8Array, at: number): string {
  return String.fromCharCode(
    b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!,
    b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!, b[at + 14]!, b[at + 15]!,
  );
}

/** The inverse of encodeMessage; the message keeps `data`, which must not change. (Byte arithmetic: a DataView per record costs more than the rest.) */
export function decodeMessage(data: Uint8Array): Message {
  if (data.length < MSG_HEADER_LENGTH) throw new RangeError(`message record too short (${data.length} bytes)`);
  const hi = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  const lo = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
  const attempts = (data[8]! << 8) | data[9]!;
  return new Message('', data, hi, lo, attempts, true);
}

/** Current time in nanoseconds since the epoch (sub-microsecond precision is not kept). */
export function nowNs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
