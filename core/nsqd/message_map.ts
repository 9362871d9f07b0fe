// Messages by ID: a channel's in-flight and deferred tables (NSQ's
// inFlightMessages and deferredMessages maps).
//
// Not a Map<string, Message>: every delivery inserts, every FIN looks up and
// deletes, and on V8 a Map keyed by fresh strings costs 3-8 times what this
// does (each key's hash is computed by the engine, deletions leave holes that
// a rehash must clear). Here it is open addressing with linear probing over a
// power-of-two array: the hash of the ID's 16 character codes is
// computed once per message and kept on it, and a FIN is looked up straight
// from the bytes it came in (getAt), with no string made for it. Deletion shifts the following
// entries back (Knuth's algorithm R), so there are no tombstones.
import type { Message } from './message.ts';

const MIN_CAPACITY = 64;
const EMPTY = -1;

// The hash reads the ID as four big-endian 32-bit words, each mixed in with
// one multiply (a chain of 4 multiplies instead of 16 for a byte-wise hash).
function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1);
  return h ^ (h >>> 15);
}

function word(id: string, i: number): number {
  return (id.charCodeAt(i) << 24) | (id.charCodeAt(i + 1) << 16) | (id.charCodeAt(i + 2) << 8) | id.charCodeAt(i + 3);
}

/** The hash of a 16-character ID (its characters are the bytes on the wire: IDs are latin1); 30 bits, a small integer on every engine. */
export function idHash(id: string): number {
  return mix(mix(mix(mix(0x811c9dc5, word(id, 0)), word(id, 4)), word(id, 8)), word(id, 12)) >>> 2;
}

function bytesWord(b: Uint8Array, i: number): number {
  return (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
}

/** idHash of the ID whose 16 bytes are at b[at...]. */
function bytesHash(b: Uint8Array, at: number): number {
  return mix(mix(mix(mix(0x811c9dc5, bytesWord(b, at)), bytesWord(b, at + 4)), bytesWord(b, at + 8)), bytesWord(b, at + 12)) >>> 2;
}

function hashOf(msg: Message): number {
  const h = msg.hash;
  if (h >= 0) return h;
  // Read from a backend, the ID's bytes are at 10 in its record: cheaper than the string's characters.
  return (msg.hash = msg.bodyAt !== 0 ? bytesHash(msg.bytes, 10) : idHash(msg.id));
}

function sameId(id: string, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (id.charCodeAt(i) !== b[at + i]) return false;
  return true;
}

export class MessageMap {
  private slots: (Message | undefined)[] = [];
  /** Each slot's message hash, EMPTY if none: probes compare these without touching the messages. */
  private hashes = new Int32Array(0);
  private mask = 0;
  size = 0;

  constructor() {
    this.clear();
  }

  get(id: string): Message | undefined {
    const hashes = this.hashes;
    const mask = this.mask;
    const h = idHash(id);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === EMPTY) return undefined;
      if (x === h && this.slots[i]!.id === id) return this.slots[i];
    }
  }

  /** The message whose 16-byte ID is at b[at...]. */
  getAt(b: Uint8Array, at: number): Message | undefined {
    const hashes = this.hashes;
    const mask = this.mask;
    const h = bytesHash(b, at);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === EMPTY) return undefined;
      if (x === h && sameId(this.slots[i]!.id, b, at)) return this.slots[i];
    }
  }

  /** Whether a message with msg's ID is here (msg itself or another copy). */
  has(msg: Message): boolean {
    return this.size > 0 && this.find(msg.id, hashOf(msg)) >= 0;
  }

  /** Adds `msg`, or replaces the message with its ID. */
  set(msg: Message): void {
    if ((this.size + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    const h = hashOf(msg);
    const found = this.find(msg.id, h);
    if (found >= 0) {
      this.slots[found] = msg;
      return;
    }
    const hashes = this.hashes;
    const mask = this.mask;
    let i = h & mask;
    while (hashes[i] !== EMPTY) i = (i + 1) & mask;
    hashes[i] = h;
    this.slots[i] = msg;
    this.size++;
  }

  /** Removes `msg` (this very message, found by its stored hash); false if it was not here. */
  delete(msg: Message): boolean {
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = this.mask;
    let i = msg.hash & mask;
    for (let x = hashes[i]!; x !== msg.hash || slots[i] !== msg; x = hashes[i]!) {
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
    this.slots = new Array(MIN_CAPACITY).fill(undefined);
    this.hashes = new Int32Array(MIN_CAPACITY).fill(EMPTY);
    this.mask = MIN_CAPACITY - 1;
    this.size = 0;
  }

  /** The slot of the message with this ID and hash, -1 if none. */
  private find(id: string, h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === EMPTY) return -1;
      if (x === h && this.slots[i]!.id === id) return i;
    }
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Array(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.size = 0;
    for (const m of old) if (m !== undefined) this.set(m);
  }
}
