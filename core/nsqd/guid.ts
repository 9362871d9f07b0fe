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
// An ID is kept as its two 32-bit words (hi, lo): a message is keyed, hashed
// and written to the wire from them, and its string is made only if asked
// for (message.ts).

const EPOCH_MS = Date.UTC(2024, 0, 1);
const IDS_PER_MS = 4096;
const TWO_32 = 4294967296;

/** The 16 hex characters of the ID whose words are hi and lo. */
export function hexId(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

export class GuidFactory {
  /** The words of the ID advance() gave last. */
  hi = 0;
  lo = 0;
  private nextHi: number;
  private nextLo: number;

  constructor(nodeId: number, startMs = Date.now()) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= 1024) throw new RangeError(`node id ${nodeId} must be in 0..1023`);
    const counter = (startMs - EPOCH_MS) * IDS_PER_MS;
    // node_id << 53 puts it at bit 21 of the high word, above the counter's top 21 bits.
    this.nextHi = nodeId * 2 ** 21 + Math.floor(counter / TWO_32);
    this.nextLo = counter % TWO_32;
  }

  /** Moves to the next ID: its words are then `hi` and `lo`. */
  advance(): void {
    this.hi = this.nextHi;
    this.lo = this.nextLo;
    if (++this.nextLo === TWO_32) {
      this.nextLo = 0;
      this.nextHi++;
    }
  }

  /** The next ID as a string. */
  next(): string {
    this.advance();
    return hexId(this.hi, this.lo);
  }
}
