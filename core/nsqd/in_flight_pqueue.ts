// A binary min-heap of messages ordered by `pri`, used for both the in-flight
// table (pri = timeout deadline) and the deferred table (pri = due time), as
// NSQ's in_flight_pqueue.go. Each message stores its own heap position in
// `index`, so FIN and TOUCH remove or re-sort it in O(log n) without a search.
import type { Message } from './message.ts';

export class MessagePQueue {
  private items: Message[] = [];

  get length(): number {
    return this.items.length;
  }

  push(msg: Message): void {
    msg.index = this.items.length;
    this.items.push(msg);
    this.up(msg.index);
  }

  /** The message with the smallest pri if that pri is <= max, removed from the heap. */
  peekAndShift(max: number): Message | undefined {
    const top = this.items[0];
    if (top === undefined || top.pri > max) return undefined;
    this.remove(top);
    return top;
  }

  remove(msg: Message): void {
    const i = msg.index;
    const last = this.items.pop()!;
    if (last !== msg) {
      this.items[i] = last;
      last.index = i;
      this.fix(i);
    }
    msg.index = -1;
  }

  /** Re-sorts a message whose pri changed (TOUCH). */
  update(msg: Message, pri: number): void {
    msg.pri = pri;
    this.fix(msg.index);
  }

  /** Empties the heap and returns what it held, in no particular order. */
  drain(): Message[] {
    const all = this.items;
    this.items = [];
    for (const m of all) m.index = -1;
    return all;
  }

  private fix(i: number): void {
    if (!this.up(i)) this.down(i);
  }

  private up(i: number): boolean {
    const items = this.items;
    const msg = items[i]!;
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.pri <= msg.pri) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = msg;
    msg.index = i;
    return i !== start;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const msg = items[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && items[c + 1]!.pri < items[c]!.pri) c++;
      const child = items[c]!;
      if (child.pri >= msg.pri) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = msg;
    msg.index = i;
  }
}
