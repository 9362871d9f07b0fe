// Message IDs: 16 lowercase hex characters of a 64-bit number, as NSQ puts on
// the wire. NSQ's guid.go reads the clock for every ID; ours is a counter:
//
//   id = node_id (10 bits) << 53 | counter (53 bits)    (the sign bit stays clear)
//
// The counter starts at 4,096 × the milliseconds from 2024 to start-up and
// goes up by one per ID. It runs ahead of the clock only if a topic averaged
// more than 4,096 IDs per millisecond since start-up (Go's generator stops
// there too), so IDs stay unique across restarts, and they keep growing
// until the year 2093. Each topic has its own generator, like NSQ.
// The last two hex digits come from a table, so an ID costs one string
// concatenation; the 14-digit prefix is rebuilt every 256 IDs. (A table of
// four digits would save the rebuilds but hold 65,536 strings, 2 MiB.)

const EPOCH_MS = Date.UTC(2024, 0, 1);
const IDS_PER_MS = 4096;

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).padStart(2, '0'));

export class GuidFactory {
  private readonly nodeBits: number; // node_id << 21, the top 11 bits of the high word
  private counterHigh: number; // counter >> 8
  private low = 0; // counter & 0xff
  private prefix = '';

  constructor(nodeId: number, startMs = Date.now()) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= 1024) throw new RangeError(`node id ${nodeId} must be in 0..1023`);
    this.nodeBits = nodeId * 2 ** 21;
    const counter = (startMs - EPOCH_MS) * IDS_PER_MS;
    this.counterHigh = Math.floor(counter / 256);
    this.low = counter % 256;
    this.rebuildPrefix();
  }

  next(): string {
    const id = this.prefix + HEX2[this.low]!;
    if (++this.low === 256) {
      this.low = 0;
      this.counterHigh++;
      this.rebuildPrefix();
    }
    return id;
  }

  private rebuildPrefix(): void {
    // counterHigh holds 45 bits: 21 go into the high word under the node id, 24 into the low word.
    const hiWord = this.nodeBits + Math.floor(this.counterHigh / 0x1000000);
    const mid = this.counterHigh % 0x1000000;
    this.prefix = hiWord.toString(16).padStart(8, '0') + mid.toString(16).padStart(6, '0');
  }
}
