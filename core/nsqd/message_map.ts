// Messages by ID: a channel's in-flight and deferred tables (NSQ's
// inFlightMessages and deferredMessages maps).
//
// Every delivery inserts, every FIN looks up and deletes, and a FIN's ID
// arrives as 16 bytes. So the key is not the ID string but the 64-bit number
// the ID spells in hex (NSQ's IDs are 16 lowercase hex digits), parsed from
// the FIN's bytes in place; no string is made for a FIN. The table is open
// addressing with linear probing over power-of-two typed arrays of hashes and
// keys, so a probe compares numbers and touches no message (a message
// delivered thousands of messages ago is out of the CPU's caches). Deletion
// shifts the following entries back (Knuth's algorithm R): no tombstones.
// An ID that is not lowercase hex (any 16 bytes are valid on the wire) gets a
// key derived from its bytes and a flag bit in its hash; those entries are
// compared by string as well.
import { idAt, type Message } from './message.ts';

const MIN_CAPACITY = 64;
const EMPTY = -1;
/** Set in the hash of an ID that is not lowercase hex: its key does not identify it. */
const IRREGULAR = 0x40000000;

/** Hex digit values; 16 marks a byte that is not a lowercase hex digit. */
const HEX = new Uint8Array(256).fill(16);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

// The key of the last ID parsed (out-parameters, to allocate nothing per call).
let keyHi = 0;
let keyLo = 0;

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** The hash of a lowercase hex ID from its key (the number it spells, as two words). */
function keyHash(hi: number, lo: number): number {
  return mix(mix(0x811c9dc5, hi), lo) >>> 2;
}

/** Sets keyHi/keyLo from the ID's 16 hex digit values and returns its 30-bit hash; -1 if a digit is not one (16). */
function parseKey(d0: number, d1: number, d2: number, d3: number, d4: number, d5: number, d6: number, d7: number,
  d8: number, d9: number, d10: number, d11: number, d12: number, d13: number, d14: number, d15: number): number {
  const bad = d0 | d1 | d2 | d3 | d4 | d5 | d6 | d7 | d8 | d9 | d10 | d11 | d12 | d13 | d14 | d15;
  if ((bad & 16) === 0) {
    keyHi = (d0 << 28) | (d1 << 24) | (d2 << 20) | (d3 << 16) | (d4 << 12) | (d5 << 8) | (d6 << 4) | d7;
    keyLo = (d8 << 28) | (d9 << 24) | (d10 << 20) | (d11 << 16) | (d12 << 12) | (d13 << 8) | (d14 << 4) | d15;
    return keyHash(keyHi, keyLo);
  }
  return -1;
}

/** The hash (and keyHi/keyLo) of the ID whose 16 bytes are at b[at...]; IRREGULAR is set if it is not lowercase hex. */
function bytesKey(b: Uint8Array, at: number): number {
  const h = parseKey(HEX[b[at]!]!, HEX[b[at + 1]!]!, HEX[b[at + 2]!]!, HEX[b[at + 3]!]!, HEX[b[at + 4]!]!, HEX[b[at + 5]!]!,
    HEX[b[at + 6]!]!, HEX[b[at + 7]!]!, HEX[b[at + 8]!]!, HEX[b[at + 9]!]!, HEX[b[at + 10]!]!, HEX[b[at + 11]!]!,
    HEX[b[at + 12]!]!, HEX[b[at + 13]!]!, HEX[b[at + 14]!]!, HEX[b[at + 15]!]!);
  if (h >= 0) return h;
  keyHi = mix((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!, (b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
  keyLo = mix((b[at + 8]! << 24) | (b[at + 9]! << 16) | (b[at + 10]! << 8) | b[at + 11]!, (b[at + 12]! << 24) | (b[at + 13]! << 16) | (b[at + 14]! << 8) | b[at + 15]!);
  return (mix(mix(0x811c9dc5, keyHi), keyLo) >>> 2) | IRREGULAR;
}

const scratch = new Uint8Array(16);

/** The hash (and keyHi/keyLo) of a 16-character ID string (one char per byte, as read). */
function idKey(id: string): number {
  for (let i = 0; i < 16; i++) {
    const c = id.charCodeAt(i);
    scratch[i] = c > 0xff ? 0 : c; // (never from the wire) a non-hex byte: IRREGULAR, compared by string
  }
  return bytesKey(scratch, 0);
}

/** The message's hash, computed once and kept on it with its key. */
function keyOf(msg: Message): number {
  if (msg.hash >= 0) return msg.hash;
  // Published here (messageWithId): the key is the ID already.
  if (!msg.fromRecord && msg.idString === '') return (msg.hash = keyHash(msg.keyHi, msg.keyLo));
  // Read from a backend, the ID's bytes are at 10 in its record: no string to read.
  const h = msg.fromRecord ? bytesKey(msg.bytes, 10) : idKey(msg.id);
  msg.keyHi = keyHi;
  msg.keyLo = keyLo;
  return (msg.hash = h);
}

export class MessageMap {
  private slots: (Message | undefined)[] = [];
  /** Each slot's hash (EMPTY if none) and key: probes compare these without touching the messages. */
  private hashes = new Int32Array(0);
  private his = new Int32Array(0);
  private los = new Int32Array(0);
  private mask = 0;
  size = 0;

  constructor() {
    this.clear();
  }

  get(id: string): Message | undefined {
    const h = idKey(id);
    const i = this.find(h, keyHi, keyLo, id);
    return i < 0 ? undefined : this.slots[i];
  }

  /** The message whose 16-byte ID is at b[at...]. */
  getAt(b: Uint8Array, at: number): Message | undefined {
    const h = bytesKey(b, at);
    const i = this.find(h, keyHi, keyLo, h & IRREGULAR ? idAt(b, at) : '');
    return i < 0 ? undefined : this.slots[i];
  }

  /** Whether a message with msg's ID is here (msg itself or another copy). */
  has(msg: Message): boolean {
    return this.size > 0 && this.find(keyOf(msg), msg.keyHi, msg.keyLo, msg) >= 0;
  }

  /** Adds `msg`, or replaces the message with its ID. */
  set(msg: Message): void {
    if ((this.size + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    const h = keyOf(msg);
    const found = this.find(h, msg.keyHi, msg.keyLo, msg);
    if (found >= 0) {
      this.slots[found] = msg;
      return;
    }
    const hashes = this.hashes;
    const mask = this.mask;
    let i = h & mask;
    while (hashes[i] !== EMPTY) i = (i + 1) & mask;
    hashes[i] = h;
    this.his[i] = msg.keyHi;
    this.los[i] = msg.keyLo;
    this.slots[i] = msg;
    this.size++;
  }

  /** Removes `msg` (this very message, found by its stored hash); false if it was not here. */
  delete(msg: Message): boolean {
    const { slots, hashes, his, los, mask } = this;
    const h = msg.hash;
    if (h < 0) return false;
    let i = h & mask;
    for (let x = hashes[i]!; x !== h || slots[i] !== msg; x = hashes[i]!) {
      if (x === EMPTY) return false;
      i = (i + 1) & mask;
    }
    // Algorithm R: move back each following entry whose home slot is not between the hole and it.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const x = hashes[j]!;
      if (x === EMPTY) break;
      const home = x & mask;
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        slots[hole] = slots[j];
        hashes[hole] = x;
        his[hole] = his[j]!;
        los[hole] = los[j]!;
        hole = j;
      }
    }
    slots[hole] = undefined;
    hashes[hole] = EMPTY;
    this.size--;
    return true;
  }

  /**
   * Gives back the room of a burst. Not done on delete: a consumer that FINs
   * its whole RDY count at once would shrink and grow the table every batch.
   * The channel calls it from the queue scanner's periodic work.
   */
  shrink(): void {
    let capacity = this.slots.length;
    while (capacity > MIN_CAPACITY && this.size * 8 < capacity) capacity /= 2;
    if (capacity < this.slots.length) this.resize(capacity);
  }

  /** A snapshot of the messages, in no particular order (safe to delete from while iterating it). */
  values(): Message[] {
    const out: Message[] = [];
    for (const m of this.slots) if (m !== undefined) out.push(m);
    return out;
  }

  clear(): void {
    this.alloc(MIN_CAPACITY);
    this.size = 0;
  }

  /** The slot holding this hash and key (and, for an IRREGULAR hash, this ID or msg's), -1 if none. */
  private find(h: number, hi: number, lo: number, idOf: string | Message): number {
    const { hashes, his, los, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === EMPTY) return -1;
      if (x === h && los[i] === lo && his[i] === hi && ((h & IRREGULAR) === 0 || this.slots[i]!.id === (typeof idOf === 'string' ? idOf : idOf.id))) return i;
    }
  }

  private alloc(capacity: number): void {
    this.slots = new Array(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity).fill(EMPTY);
    this.his = new Int32Array(capacity);
    this.los = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.alloc(capacity);
    this.size = 0;
    for (const m of old) if (m !== undefined) this.set(m);
  }
}
