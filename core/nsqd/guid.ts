// Message IDs: 16 lowercase hex characters of a 64-bit number, as NSQ puts on
// the wire. NSQ's guid.go reads the clock for every ID; ours is a counter:
//
//   id = node_id (10 bits) << 53 | counter (53 bits)
//
// The counter starts at the start-up time in ms × 2048 and goes up by one per
// ID, so IDs stay unique across restarts unless a process averaged more than
// 2048 IDs per millisecond (2 million/s) over its whole life, and they keep
// growing until the year 2109. Each topic has its own generator, like NSQ.
// The last four hex digits come from a table, so an ID costs one string
// concatenation; the 12-digit prefix is rebuilt every 65,536 IDs.

const HEX4: string[] = [];
for (let i = 0; i < 65536; i++) HEX4.push(i.toString(16).padStart(4, '0'));

export class GuidFactory {
  private readonly nodeBits: number; // node_id << 21, the top 11 bits of the high word
  private counterHigh: number; // counter >> 16
  private low = 0; // counter & 0xffff
  private prefix = '';

  constructor(nodeId: number, startMs = Date.now()) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= 1024) throw new RangeError(`node id ${nodeId} must be in 0..1023`);
    this.nodeBits = nodeId * 2 ** 21;
    const counter = startMs * 2048;
    this.counterHigh = Math.floor(counter / 65536);
    this.low = counter % 65536;
    this.rebuildPrefix();
  }

  next(): string {
    const id = this.prefix + HEX4[this.low]!;
    if (++this.low === 65536) {
      this.low = 0;
      this.counterHigh++;
      this.rebuildPrefix();
    }
    return id;
  }

  private rebuildPrefix(): void {
    // counterHigh holds 37 bits: 21 go into the high word under the node id, 16 into the low word.
    const hiWord = this.nodeBits + Math.floor(this.counterHigh / 65536);
    const mid = this.counterHigh % 65536;
    this.prefix = hiWord.toString(16).padStart(8, '0') + HEX4[mid]!;
  }
}
