// Holds on records read (nsq-ts only; nsqd --durable).
//
// hold() right after read() keeps that record on disk until release(): the
// metadata's read position stays at the oldest held record, so after a crash
// reading starts there again (records taken after it and finished are
// delivered again too: at least once). Segments are deleted only once the
// metadata has moved past them. Without holds the metadata is Go's.
//
// The holds form a queue in read order: a flat array of [token, fileNum,
// pos] triples from `head` on, where a token counts the records taken. The
// oldest hold is released in O(1); one released out of order waits in a set
// until the head reaches it. The array is dropped when it empties and
// compacted once the released front (past 4,096 holds) outgrows the rest, so
// it stays within about twice the holds still open.
export class Holds {
  private list: number[] = [];
  private head = 0;
  private readonly released = new Set<number>();

  add(token: number, fileNum: number, pos: number): void {
    this.list.push(token, fileNum, pos);
  }

  release(token: number): void {
    const h = this.list;
    if (this.head < h.length && h[this.head] === token) {
      this.head += 3;
      while (this.head < h.length && this.released.delete(h[this.head]!)) this.head += 3;
      if (this.head === h.length) {
        this.list = [];
        this.head = 0;
      } else if (this.head > 3 * 4096 && this.head * 2 > h.length) {
        this.list = h.slice(this.head);
        this.head = 0;
      }
    } else {
      this.released.add(token);
    }
  }

  clear(): void {
    this.list = [];
    this.head = 0;
    this.released.clear();
  }

  /** Whether a record is held; the oldest held one's token, segment and position are below. */
  get any(): boolean {
    return this.head < this.list.length;
  }

  get oldestToken(): number {
    return this.list[this.head]!;
  }

  get oldestFileNum(): number {
    return this.list[this.head + 1]!;
  }

  get oldestPos(): number {
    return this.list[this.head + 2]!;
  }
}
