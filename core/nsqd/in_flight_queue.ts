// A channel's in-flight messages by timeout deadline (the role of NSQ's
// inFlightPQ), for the queue scanner to find the expired ones.
//
// NSQ keeps them in a heap: O(log n) on every delivery and every FIN. But a
// deadline is delivery time + the client's msg_timeout, and while the clients
// of a channel share one timeout (the usual case) messages arrive in deadline
// order. Those go to a FIFO ring in O(1); a FIN only marks its entry dead
// (index = IN_RING → -1), and dead entries are dropped when they reach the
// head or, once they outnumber the live ones 3 to 1, by compacting the ring
// (so a message held until its timeout cannot pin the FINs behind it in
// memory). A deadline that would break the ring's order (a client with a
// shorter msg_timeout, a TOUCH) goes to a heap (MessagePQueue) instead; the
// scanner takes from both. A message re-delivered while its old entry is
// still in the ring gets a new sequence number: an entry is live only if its
// number is still the message's.
import { MessagePQueue } from './in_flight_pqueue.ts';
import type { Message } from './message.ts';

/** msg.index of a message whose live entry is in the ring (>= 0: its heap position). */
const IN_RING = -2;

export class InFlightQueue {
  private ring: (Message | undefined)[] = new Array(64).fill(undefined);
  private seqs = new Float64Array(64);
  private head = 0;
  private count = 0; // ring entries, live or dead
  private live = 0;
  private lastPri = -Infinity;
  private seq = 0;
  private readonly heap = new MessagePQueue();

  get length(): number {
    return this.live + this.heap.length;
  }

  push(msg: Message): void {
    msg.seq = ++this.seq;
    if (msg.pri < this.lastPri) {
      this.heap.push(msg);
      return;
    }
    this.lastPri = msg.pri;
    if (this.count === this.ring.length) this.rebuild(this.ring.length * 2);
    const i = (this.head + this.count) & (this.ring.length - 1);
    this.ring[i] = msg;
    this.seqs[i] = msg.seq;
    msg.index = IN_RING;
    this.count++;
    this.live++;
  }

  remove(msg: Message): void {
    if (msg.index === IN_RING) {
      msg.index = -1;
      this.live--;
      if (this.ring[this.head] === msg) this.front(); // FINs come mostly in order: the head moves on
      else if (this.count - this.live > 3 * this.live + 1024) this.compact();
    } else if (msg.index >= 0) {
      this.heap.remove(msg);
    }
  }

  /** A new deadline (TOUCH). */
  update(msg: Message, pri: number): void {
    if (msg.index >= 0) {
      this.heap.update(msg, pri);
      return;
    }
    this.remove(msg);
    msg.pri = pri;
    this.push(msg);
  }

  /** The message with the smallest deadline if that is <= max, removed. */
  peekAndShift(max: number): Message | undefined {
    const front = this.front();
    const top = this.heap.peekAndShift(front === undefined || front.pri > max ? max : front.pri);
    if (top !== undefined) return top;
    if (front === undefined || front.pri > max) return undefined;
    this.remove(front);
    return front;
  }

  /** Empties the queue and returns what it held, in no particular order. */
  drain(): Message[] {
    const out = this.heap.drain();
    for (let msg = this.front(); msg !== undefined; msg = this.front()) {
      this.remove(msg);
      out.push(msg);
    }
    this.lastPri = -Infinity;
    return out;
  }

  /** The oldest live ring entry, after dropping the dead ones before it. */
  private front(): Message | undefined {
    const ring = this.ring;
    const mask = ring.length - 1;
    while (this.count > 0) {
      const msg = ring[this.head]!;
      if (msg.index === IN_RING && msg.seq === this.seqs[this.head]) return msg;
      ring[this.head] = undefined;
      this.head = (this.head + 1) & mask;
      this.count--;
    }
    this.lastPri = -Infinity;
    return undefined;
  }

  private compact(): void {
    let capacity = this.ring.length;
    while (capacity > 64 && this.live * 4 < capacity) capacity /= 2;
    this.rebuild(capacity);
  }

  /** Copies the live entries, in order, into a ring of `capacity`. */
  private rebuild(capacity: number): void {
    const ring: (Message | undefined)[] = new Array(capacity).fill(undefined);
    const seqs = new Float64Array(capacity);
    const old = this.ring;
    const mask = old.length - 1;
    let n = 0;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & mask;
      const msg = old[i]!;
      if (msg.index !== IN_RING || msg.seq !== this.seqs[i]) continue;
      ring[n] = msg;
      seqs[n++] = msg.seq;
    }
    this.ring = ring;
    this.seqs = seqs;
    this.head = 0;
    this.count = n;
  }
}
