// The channel's in-flight bookkeeping against plain models: MessageMap against
// a Map, InFlightQueue against a sorted list, under random operations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuidFactory, hexId } from '../../core/nsqd/guid.ts';
import { InFlightQueue } from '../../core/nsqd/in_flight_queue.ts';
import { encodeMessage, decodeMessage, messageWithId, newMessage, type Message } from '../../core/nsqd/message.ts';
import { MessageMap } from '../../core/nsqd/message_map.ts';

/** A repeatable pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const latin1 = (id: string) => Uint8Array.from(id, (c) => c.charCodeAt(0));

test('MessageMap: set, get, getAt, has and delete agree with a Map through growth and shrinking', () => {
  const rnd = random(7);
  const guid = new GuidFactory(3);
  const map = new MessageMap();
  const model = new Map<string, Message>();
  const body = new Uint8Array([1, 2, 3]);
  for (let step = 0; step < 60_000; step++) {
    const r = rnd();
    // Grow to a few thousand entries, then drain, so that both resize directions run.
    const phase = Math.floor(step / 15_000) % 2 === 0;
    if (r < (phase ? 0.6 : 0.3)) {
      // Half the new messages come back from a record, as from a disk queue (hashed from bytes).
      const fresh = newMessage(guid.next(), body, 1e18);
      const msg = rnd() < 0.5 ? decodeMessage(encodeMessage(fresh)) : fresh;
      map.set(msg);
      model.set(msg.id, msg);
    } else if (model.size > 0) {
      const ids = [...model.keys()];
      const id = ids[Math.floor(rnd() * ids.length)]!;
      const msg = model.get(id)!;
      assert.equal(map.get(id), msg);
      assert.equal(map.getAt(latin1(`xx${id}`), 2), msg);
      assert.ok(map.has(msg.copy()), 'a copy with the same ID is found');
      assert.ok(map.delete(msg));
      model.delete(id);
      assert.equal(map.get(id), undefined);
      assert.equal(map.getAt(latin1(id), 0), undefined);
      assert.equal(map.delete(msg), false);
    }
    if (step % 5000 === 0) map.shrink();
    assert.equal(map.size, model.size);
  }
  assert.deepEqual(new Set(map.values()), new Set(model.values()));
  // A lookup by an ID that differs only in its last byte misses.
  const [first] = model.values();
  if (first) {
    const b = latin1(first.id);
    b[15] ^= 1;
    assert.equal(map.getAt(b, 0), undefined);
  }
  map.clear();
  assert.equal(map.size, 0);
  assert.deepEqual(map.values(), []);
});

test('a message published with its ID as two words: the same bytes, string and table entry as with the string', () => {
  const g = new GuidFactory(1023, Date.UTC(2090, 0, 1));
  const map = new MessageMap();
  const body = new Uint8Array([7, 8, 9]);
  for (let i = 0; i < 300; i++) {
    g.advance();
    const fromWords = messageWithId(g.hi, g.lo, Uint8Array.of(0, ...body, 0), 1, 1 + body.length, 1e18);
    const fromString = newMessage(hexId(g.hi, g.lo), body, 1e18);
    assert.deepEqual(encodeMessage(fromWords), encodeMessage(fromString));
    map.set(fromWords);
    assert.equal(map.getAt(latin1(fromString.id), 0), fromWords);
    assert.ok(map.has(fromString));
    assert.equal(fromWords.id, fromString.id);
  }
});

test('MessageMap: a second message with the same ID replaces the first', () => {
  const map = new MessageMap();
  const a = newMessage('0123456789abcdef', new Uint8Array(0), 0);
  const b = a.copy();
  map.set(a);
  map.set(b);
  assert.equal(map.size, 1);
  assert.equal(map.get(a.id), b);
  assert.equal(map.delete(a), false, 'the replaced message is no longer there');
  assert.ok(map.delete(b));
});

test('MessageMap: IDs that are not lowercase hex are told apart byte by byte', () => {
  const map = new MessageMap();
  const ids = ['00000000000000aa', '00000000000000AA', '00000000000000Aa', 'zzzzzzzzzzzzzzzz', 'zzzzzzzzzzzzzzz\xff', '\x00'.repeat(16)];
  const msgs = ids.map((id) => newMessage(id, new Uint8Array(0), 0));
  for (const m of msgs) map.set(m);
  assert.equal(map.size, ids.length);
  for (const m of msgs) {
    assert.equal(map.get(m.id), m);
    assert.equal(map.getAt(latin1(m.id), 0), m);
    const record = decodeMessage(encodeMessage(m));
    assert.ok(map.has(record), `found from its record: ${JSON.stringify(m.id)}`);
  }
  assert.equal(map.get('00000000000000aB'), undefined);
  assert.equal(map.get('\u0130'.repeat(16)), undefined, 'a string no wire could carry matches nothing');
  for (const m of msgs) assert.ok(map.delete(m));
  assert.equal(map.size, 0);
});

test('InFlightQueue: expires in deadline order through FINs, TOUCHes, shorter timeouts and re-deliveries', () => {
  const rnd = random(11);
  const guid = new GuidFactory(4);
  const q = new InFlightQueue();
  const live = new Set<Message>();
  const all: Message[] = [];
  let now = 0;
  const deliver = (msg: Message, timeout: number) => {
    msg.pri = now + timeout;
    q.push(msg);
    live.add(msg);
  };
  for (let step = 0; step < 40_000; step++) {
    now += rnd() * 2;
    const r = rnd();
    if (r < 0.45 || live.size === 0) {
      const msg = newMessage(guid.next(), new Uint8Array(0), 0);
      all.push(msg);
      deliver(msg, rnd() < 0.9 ? 1000 : 200); // most share one timeout; some clients have a shorter one
    } else if (r < 0.85) {
      // FIN, mostly of the oldest (in order), sometimes of any
      const list = [...live];
      const msg = rnd() < 0.7 ? list.reduce((a, b) => (a.pri <= b.pri ? a : b)) : list[Math.floor(rnd() * list.length)]!;
      q.remove(msg);
      live.delete(msg);
      assert.equal(msg.index, -1);
      if (rnd() < 0.2) deliver(msg, 1000); // REQ 0 and delivered again: the same message object
    } else if (r < 0.9) {
      const list = [...live];
      const msg = list[Math.floor(rnd() * list.length)]!;
      q.update(msg, now + rnd() * 2000); // TOUCH
    } else {
      const due = now - 500 + rnd() * 1000;
      const expired: Message[] = [];
      for (let m = q.peekAndShift(due); m !== undefined; m = q.peekAndShift(due)) expired.push(m);
      const want = [...live].filter((m) => m.pri <= due).sort((a, b) => a.pri - b.pri);
      assert.deepEqual(expired.map((m) => m.pri), want.map((m) => m.pri), `step ${step}`);
      for (const m of expired) live.delete(m);
    }
    assert.equal(q.length, live.size);
  }
  const rest = q.drain();
  assert.deepEqual(new Set(rest), live);
  assert.equal(q.length, 0);
  assert.equal(q.peekAndShift(Infinity), undefined);
  for (const m of all) assert.equal(m.index, -1);
});

test('InFlightQueue: a message held past many FINs does not keep their entries', () => {
  const q = new InFlightQueue();
  const guid = new GuidFactory(5);
  const held = newMessage(guid.next(), new Uint8Array(0), 0);
  held.pri = 1;
  q.push(held);
  for (let i = 0; i < 200_000; i++) {
    const m = newMessage(guid.next(), new Uint8Array(0), 0);
    m.pri = 2 + i;
    q.push(m);
    q.remove(m);
  }
  const ring = (q as unknown as { ring: unknown[] }).ring;
  assert.ok(ring.length <= 4096, `ring of ${ring.length} slots for 1 live message`);
  assert.equal(q.length, 1);
  assert.equal(q.peekAndShift(1), held);
});
