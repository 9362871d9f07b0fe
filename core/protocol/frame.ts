// Server-to-client frames (PROTOCOL.md 2.3): [int32 size][int32 type][data],
// size = len(data) + 4. Frames are encoded straight into a growable buffer
// that is handed to the socket once per batch of work.
import { writeMessage, type Message } from '../nsqd/message.ts';

export const FRAME_TYPE_RESPONSE = 0;
export const FRAME_TYPE_ERROR = 1;
export const FRAME_TYPE_MESSAGE = 2;

const encoder = new TextEncoder();

export class OutputBuffer {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity = 16384) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Appends a response (type 0) or error (type 1) frame with text data. */
  appendText(type: number, text: string): void {
    // Frame texts are ASCII or JSON; encodeInto writes them in place.
    const max = text.length * 3;
    this.reserve(8 + max);
    const at = this.length;
    const { written } = encoder.encodeInto(text, this.buf.subarray(at + 8, at + 8 + max));
    this.view.setUint32(at, written + 4);
    this.view.setUint32(at + 4, type);
    this.length = at + 8 + written;
  }

  appendMessage(msg: Message): void {
    const size = 4 + msg.recordLength;
    this.reserve(4 + size);
    const at = this.length;
    this.view.setUint32(at, size);
    this.view.setUint32(at + 4, FRAME_TYPE_MESSAGE);
    this.length = writeMessage(this.buf, this.view, at + 8, msg);
  }

  /** Takes the buffered bytes as a new array (the socket may keep it) and empties the buffer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** One whole frame, for a reply sent on its own (E_BAD_PROTOCOL). */
export function encodeFrame(type: number, text: string): Uint8Array {
  const out = new OutputBuffer(8 + text.length * 3);
  out.appendText(type, text);
  return out.take();
}
