// Heartbeats and socket deadlines (PROTOCOL.md 2.9), and what happens to the
// messages of a consumer that goes away. Intervals are short (heartbeat
// intervals of 1 s, the minimum a client may ask for; --client-timeout for
// shorter defaults) and every time check is a bounded window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNsqd } from '../helpers/nsqd.ts';
import { bytes, FRAME_RESPONSE, withBody, WireClient, type WireMessage } from '../helpers/wire.ts';

const HEARTBEAT_FRAME = bytes([0, 0, 0, 0x0f, 0, 0, 0, 0], '_heartbeat_');


/** No frame at all (not even a heartbeat) for `ms`. */
async function expectNothing(c: WireClient, ms: number): Promise<void> {
  try {
    const f = await c.readFrame(ms);
    assert.fail(`expected nothing, got type ${f.type} ${JSON.stringify(f.text.slice(0, 40))}`);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('timed out')) throw err;
  }
  assert.equal(c.closed, false, 'the connection is still open');
}

/** Reads heartbeats until the server closes the connection; returns when each came and when it closed. */
async function heartbeatsUntilClose(c: WireClient, t0: number, ms: number): Promise<{ beats: number[]; closedAt: number }> {
  const beats: number[] = [];
  const deadline = t0 + ms;
  while (!c.closed || c.pending() > 0) {
    let f;
    try {
      f = await c.readFrame(Math.max(1, deadline - performance.now()));
    } catch (err) {
      if (c.closed && c.pending() === 0) break;
      throw err;
    }
    assert.deepEqual([f.type, f.text], [FRAME_RESPONSE, '_heartbeat_'], 'only heartbeats, no error frame');
    beats.push(performance.now() - t0);
  }
  return { beats, closedAt: performance.now() - t0 };
}

test('heartbeat_interval 1000: a heartbeat about every second; NOP replies keep the connection', { timeout: 10_000 }, async () => {
  await withNsqd({}, async (_d, connect) => {
    const c = await connect();
    const f = await c.identify({ heartbeat_interval: 1000 });
    assert.equal(f.text, 'OK');
    const t0 = performance.now();
    let last = t0;
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await c.readBytes(HEARTBEAT_FRAME.length, 2000), HEARTBEAT_FRAME);
      const now = performance.now();
      assert.ok(now - last > 700 && now - last < 1500, `heartbeat ${i + 1} came ${Math.round(now - last)} ms after the previous one`);
      last = now;
      c.write('NOP\n');
    }
    // past the read deadline the IDENTIFY set (two intervals), the NOPs moved it: still served
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2500 - (performance.now() - t0))));
    c.write(withBody('PUB hb\n', 'alive'));
    await c.expectResponse('OK');
    assert.equal(c.closed, false);
  });
});

test('a client that sends nothing after IDENTIFY is closed after two intervals, with no error frame', { timeout: 10_000 }, async () => {
  await withNsqd({}, async (_d, connect) => {
    // a producer and a subscribed consumer, both silent, and a third that answers with NOP
    const producer = await connect();
    const consumer = await connect();
    const talker = await connect();
    for (const c of [producer, consumer, talker]) assert.equal((await c.identify({ heartbeat_interval: 1000 })).text, 'OK');
    await consumer.sub('silent', 'ch', 1);
    const t0 = performance.now();
    const nop = setInterval(() => talker.write('NOP\n'), 400);
    let results;
    try {
      results = await Promise.all([heartbeatsUntilClose(producer, t0, 5000), heartbeatsUntilClose(consumer, t0, 5000)]);
    } finally {
      clearInterval(nop);
    }
    for (const [name, { beats, closedAt }] of [['producer', results[0]], ['consumer', results[1]]] as const) {
      assert.ok(closedAt > 1500 && closedAt < 3500, `${name} closed after ${Math.round(closedAt)} ms`);
      assert.ok(beats.length >= 1 && beats.length <= 2, `${name} got heartbeats at ${beats.map(Math.round)}`);
      assert.ok(beats[0]! > 700 && beats[0]! < 1500, `${name}'s first heartbeat at ${Math.round(beats[0]!)} ms`);
    }
    assert.equal(talker.closed, false, 'a client sending commands stays');
    await talker.pub('silent', 'x');
  });
});

test('the default interval is half of --client-timeout, from the moment of connection', { timeout: 10_000 }, async () => {
  await withNsqd({ clientTimeout: 600 }, async (_d, connect) => {
    const c = await connect();
    const t0 = performance.now();
    const { beats, closedAt } = await heartbeatsUntilClose(c, t0, 3000);
    assert.ok(beats[0]! > 200 && beats[0]! < 600, `first heartbeat at ${Math.round(beats[0]!)} ms`);
    assert.ok(closedAt > 450 && closedAt < 1500, `closed after ${Math.round(closedAt)} ms`);
    // heartbeat_interval 0 in IDENTIFY keeps the default
    const d = await connect();
    assert.equal((await d.identify({ heartbeat_interval: 0 })).text, 'OK');
    const t1 = performance.now();
    const r = await heartbeatsUntilClose(d, t1, 3000);
    assert.ok(r.closedAt > 450 && r.closedAt < 1500, `closed after ${Math.round(r.closedAt)} ms`);
  });
});

test('heartbeat_interval -1: no heartbeats and no read deadline', { timeout: 10_000 }, async () => {
  // a default interval of 200 ms, so a client with heartbeats would get several and be closed at ~400 ms
  await withNsqd({ clientTimeout: 400 }, async (_d, connect) => {
    const off = await connect();
    assert.equal((await off.identify({ heartbeat_interval: -1 })).text, 'OK');
    const on = await connect();
    const t0 = performance.now();
    const [, onResult] = await Promise.all([expectNothing(off, 1200), heartbeatsUntilClose(on, t0, 3000)]);
    assert.ok(onResult.beats.length >= 1, 'the default client got heartbeats');
    assert.ok(onResult.closedAt < 1200, `the default client was closed after ${Math.round(onResult.closedAt)} ms`);
    off.write(withBody('PUB nohb\n', 'still here'));
    await off.expectResponse('OK');
    assert.equal(off.closed, false);
  });
});

test('a consumer that vanishes: its messages in flight go to another consumer at once, attempts 2', { timeout: 10_000 }, async () => {
  await withNsqd({ msgTimeout: 60_000 }, async (_d, connect) => {
    const first = await connect();
    await first.sub('vanish', 'ch', 3);
    const p = await connect();
    for (const b of ['a', 'b', 'c']) await p.pub('vanish', b);
    const held: WireMessage[] = [];
    for (let i = 0; i < 3; i++) held.push(await first.readMessage());
    const second = await connect();
    await second.sub('vanish', 'ch', 10);
    await second.expectSilence(100); // in flight with the first consumer
    const t0 = performance.now();
    first.destroy();
    const again: WireMessage[] = [];
    for (let i = 0; i < 3; i++) again.push(await second.readMessage(1000));
    assert.ok(performance.now() - t0 < 1000, 'redelivered long before --msg-timeout');
    assert.deepEqual(again.map((m) => [m.id, m.body, m.attempts, m.timestamp]), held.map((m) => [m.id, m.body, 2, m.timestamp]));
    for (const m of again) second.write(`FIN ${m.id}\n`);
    await second.expectSilence(100);
  });
});

test('a consumer that stops reading its socket is disconnected (write deadline)', { timeout: 15_000 }, async () => {
  await withNsqd({ msgTimeout: 60_000 }, async (_d, connect) => {
    const slow = await connect();
    assert.equal((await slow.identify({ heartbeat_interval: 1000 })).text, 'OK');
    await slow.sub('stall', 'ch', 100);
    slow.pauseReading();
    // it keeps sending NOPs, so only the write deadline can end it
    const nop = setInterval(() => slow.write('NOP\n'), 200);
    try {
      const p = await connect();
      const big = new Uint8Array(1 << 20).fill(0x61);
      for (let i = 0; i < 48; i++) await p.pub('stall', big);
      // the server's writes back up; a heartbeat interval without progress and it gives up
      const other = await connect();
      await other.sub('stall', 'ch', 1);
      const t0 = performance.now();
      const m = await other.readMessage(8000);
      assert.equal(m.attempts, 2, 'a message the stalled consumer held');
      assert.ok(performance.now() - t0 < 8000);
    } finally {
      clearInterval(nop);
    }
  });
});
