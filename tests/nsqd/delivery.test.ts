// Message delivery through real sockets (PROTOCOL.md 1.2, 1.3, 2.10, 2.11,
// 3.1-3.5, 3.10): timeouts, TOUCH, REQ, DPUB, fan-out, balancing, RDY,
// topic hold-back, pause, empty, --mem-queue-size overflow, ephemeral
// lifecycle, sampling, disconnects and --max-channel-consumers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel } from '../../core/nsqd/channel.ts';
import type { ClientV2 } from '../../core/nsqd/client_v2.ts';
import type { NsqdOptions } from '../../core/nsqd/options.ts';
import type { Topic } from '../../core/nsqd/topic.ts';
import { withNsqd, type TestNsqd } from '../helpers/nsqd.ts';
import { consumeUntil, mpub, readMessages, readUntilQuiet, waitFor } from '../helpers/wait.ts';
import { WireClient, withBody, type WireMessage } from '../helpers/wire.ts';

/** A scanner that notices timeouts and due deferred messages within a few tens of ms. */
const FAST_SCAN: Partial<NsqdOptions> = { queueScanInterval: 20, queueScanRefreshInterval: 50 };



function topicOf(d: TestNsqd, topic: string): Topic {
  const t = d.nsqd.getExistingTopic(topic);
  assert.ok(t, `topic ${topic} exists`);
  return t;
}

function channelOf(d: TestNsqd, topic: string, channel: string): Channel {
  const ch = topicOf(d, topic).getExistingChannel(channel);
  assert.ok(ch, `channel ${topic}:${channel} exists`);
  return ch;
}

/** Waits until the channel has `n` consumers whose RDY is `rdy` (RDY has no reply on the wire). */
async function waitReady(d: TestNsqd, topic: string, channel: string, n: number, rdy: number): Promise<Channel> {
  await waitFor(() => {
    const ch = d.nsqd.getExistingTopic(topic)?.getExistingChannel(channel);
    return ch !== undefined && ch.consumers().length === n && ch.consumers().every((c) => (c as ClientV2).readyCount === rdy);
  }, 2000, `${n} consumer(s) of ${topic}:${channel} with RDY ${rdy}`);
  return channelOf(d, topic, channel);
}

const bodies = (ms: WireMessage[]) => ms.map((m) => m.body).sort();
const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('in-flight timeout: the scanner requeues after msg_timeout, timeout_count grows, a late FIN fails', async () => {
  await withNsqd(FAST_SCAN, async (d, connect) => {
    const p = await connect();
    const a = await connect();
    assert.equal((await a.identify({ msg_timeout: 1000 })).text, 'OK');
    await a.sub('timeouts', 'ch', 1);
    await waitReady(d, 'timeouts', 'ch', 1, 1);
    await p.pub('timeouts', 'slow');
    const first = await a.readMessage();
    const t0 = performance.now();
    assert.equal(first.attempts, 1);
    a.write('RDY 0\n'); // a keeps the message in flight but takes no more

    const b = await connect();
    await b.sub('timeouts', 'ch', 1);
    await b.expectSilence(700); // not before the timeout
    const again = await b.readMessage(1500);
    const elapsed = performance.now() - t0;
    assert.equal(again.id, first.id);
    assert.equal(again.body, 'slow');
    assert.equal(again.attempts, 2);
    assert.ok(elapsed >= 980 && elapsed < 1800, `redelivered after ${elapsed.toFixed(0)} ms, want ~1000`);

    const ch = channelOf(d, 'timeouts', 'ch');
    assert.equal(ch.timeoutCount, 1);
    assert.equal(ch.requeueCount, 0);
    assert.equal(ch.inFlightCount(), 1);

    a.write(`FIN ${first.id}\n`);
    await a.expectError(`E_FIN_FAILED FIN ${first.id} failed client does not own message`);
    b.write(`FIN ${again.id}\n`);
    await waitFor(() => ch.inFlightCount() === 0, 1000, 'the FIN from b');
    a.write(`FIN ${first.id}\n`);
    await a.expectError(`E_FIN_FAILED FIN ${first.id} failed ID not in flight`);
    await a.expectSilence(100);
    assert.equal(a.closed, false, 'E_FIN_FAILED is not fatal');
    assert.equal(ch.timeoutCount, 1);
  });
});

test('TOUCH keeps a message in flight past its timeout, bounded by --max-msg-timeout', async () => {
  await withNsqd({ ...FAST_SCAN, maxMsgTimeout: 1800 }, async (d, connect) => {
    const p = await connect();
    const a = await connect();
    assert.equal((await a.identify({ msg_timeout: 1000 })).text, 'OK');
    await a.sub('touch', 'ch', 1);
    await waitReady(d, 'touch', 'ch', 1, 1);
    await p.pub('touch', 'long job');
    const m = await a.readMessage();
    const t0 = performance.now();
    await a.expectSilence(500);
    a.write(`TOUCH ${m.id}\n`); // deadline ~1500
    await a.expectSilence(500); // past the original 1000 ms deadline
    a.write(`TOUCH ${m.id}\n`); // ~2000, capped at delivery + 1800
    await a.expectSilence(400);
    a.write(`TOUCH ${m.id}\n`); // ~2400 uncapped, so still 1800
    const again = await a.readMessage(1500);
    const elapsed = performance.now() - t0;
    assert.equal(again.id, m.id);
    assert.equal(again.attempts, 2);
    assert.ok(elapsed >= 1750 && elapsed < 2300, `timed out after ${elapsed.toFixed(0)} ms, want ~1800 (--max-msg-timeout)`);
    assert.equal(channelOf(d, 'touch', 'ch').timeoutCount, 1);

    a.write(`FIN ${again.id}\n`);
    a.write(`TOUCH ${again.id}\n`);
    await a.expectError(`E_TOUCH_FAILED TOUCH ${again.id} failed ID not in flight`);
  });
});

test('REQ with a delay defers the message until then; REQ 0 requeues at once', async () => {
  await withNsqd(FAST_SCAN, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('req', 'ch', 1);
    const ch = await waitReady(d, 'req', 'ch', 1, 1);
    await p.pub('req', 'again');
    const m = await c.readMessage();

    const t0 = performance.now();
    c.write(`REQ ${m.id} 300\n`);
    await waitFor(() => ch.deferredCount() === 1, 1000, 'the message to be deferred');
    assert.equal(ch.inFlightCount(), 0);
    assert.equal(ch.depth(), 0, 'deferred messages are not in depth');
    assert.equal(ch.requeueCount, 1);
    await c.expectSilence(200);
    const later = await c.readMessage(1000);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 295 && elapsed < 800, `back after ${elapsed.toFixed(0)} ms, want >= 300`);
    assert.equal(later.id, m.id);
    assert.equal(later.attempts, 2);
    assert.equal(ch.deferredCount(), 0);
    assert.equal(ch.timeoutCount, 0);

    const t1 = performance.now();
    c.write(`REQ ${later.id} 0\n`);
    const now = await c.readMessage(1000);
    assert.ok(performance.now() - t1 < 250, 'REQ 0 does not wait for the scanner');
    assert.equal(now.id, m.id);
    assert.equal(now.attempts, 3);
    assert.equal(ch.requeueCount, 2);
    assert.equal(ch.messageCount, 1, 'requeues do not count in message_count');
    c.write(`FIN ${now.id}\n`);
    await waitFor(() => ch.inFlightCount() === 0, 1000, 'FIN');
  });
});

test('REQ delays are clamped to --max-req-timeout', async () => {
  await withNsqd({ ...FAST_SCAN, maxReqTimeout: 200 }, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('reqmax', 'ch', 1);
    await waitReady(d, 'reqmax', 'ch', 1, 1);
    await p.pub('reqmax', 'x');
    const m = await c.readMessage();
    const t0 = performance.now();
    c.write(`REQ ${m.id} 3600000\n`);
    const back = await c.readMessage(1500);
    const elapsed = performance.now() - t0;
    assert.equal(back.attempts, 2);
    assert.ok(elapsed >= 190 && elapsed < 1000, `back after ${elapsed.toFixed(0)} ms, want ~200`);
  });
});

test('DPUB delivers no earlier than the defer time', async () => {
  await withNsqd(FAST_SCAN, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('dpub', 'ch', 5);
    const ch = await waitReady(d, 'dpub', 'ch', 1, 5);
    const t0 = performance.now();
    p.write(withBody('DPUB dpub 300\n', 'later'));
    await p.expectResponse('OK');
    await p.pub('dpub', 'now');
    assert.equal((await c.readMessage()).body, 'now');
    assert.equal(ch.deferredCount(), 1);
    assert.equal(ch.messageCount, 2, 'deferred copies count in message_count');
    await c.expectSilence(150);
    const m = await c.readMessage(1000);
    const elapsed = performance.now() - t0;
    assert.equal(m.body, 'later');
    assert.equal(m.attempts, 1);
    assert.ok(elapsed >= 295 && elapsed < 900, `delivered after ${elapsed.toFixed(0)} ms, want >= 300`);
    assert.equal(ch.deferredCount(), 0);
  });
});

test('fan-out: every channel of a topic gets every message, with the same IDs', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const consumers: WireClient[] = [];
    for (const name of ['one', 'two', 'three']) {
      const c = await connect();
      await c.sub('fanout', name, 100);
      await waitReady(d, 'fanout', name, 1, 100);
      consumers.push(c);
    }
    const sent = range(50, 'm');
    await mpub(p, 'fanout', sent);
    await p.pub('fanout', 'single');
    const expected = [...sent, 'single'].sort();
    const got = await Promise.all(consumers.map((c) => readMessages(c, 51)));
    for (const ms of got) {
      assert.deepEqual(bodies(ms), expected);
      for (const m of ms) assert.equal(m.attempts, 1, 'each channel counts its own attempts');
    }
    const ids = got.map((ms) => ms.map((m) => `${m.body}=${m.id}`).sort());
    assert.deepEqual(ids[1], ids[0]);
    assert.deepEqual(ids[2], ids[0]);
    assert.equal(new Set(got[0]!.map((m) => m.id)).size, 51, 'IDs are unique');
    const topic = topicOf(d, 'fanout');
    assert.equal(topic.messageCount, 51);
    assert.equal(topic.messageBytes, expected.reduce((n, b) => n + b.length, 0));
    for (const name of ['one', 'two', 'three']) assert.equal(channelOf(d, 'fanout', name).messageCount, 51);
    for (const c of consumers) await c.expectSilence(100);
  });
});

test('balancing: 4 consumers of one channel share 5,000 messages, each delivered exactly once', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const consumers: WireClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await connect();
      await c.sub('balance', 'ch', 50);
      consumers.push(c);
    }
    const ch = await waitReady(d, 'balance', 'ch', 4, 50);
    const total = 5000;
    const seen = new Map<string, number>();
    const perConsumer = [0, 0, 0, 0];
    const bodiesSeen = new Set<string>();
    let received = 0;
    const deadline = performance.now() + 15000;
    const done = () => received >= total;
    const loops = consumers.map((c, i) =>
      consumeUntil(c, (m) => {
        received++;
        perConsumer[i]!++;
        seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
        bodiesSeen.add(m.body);
        assert.equal(m.attempts, 1, 'no redelivery');
        c.write(`FIN ${m.id}\n`);
      }, done, deadline),
    );
    const sent = range(total, 'b');
    for (let i = 0; i < total; i += 500) await mpub(p, 'balance', sent.slice(i, i + 500));
    await Promise.all(loops);
    assert.equal(received, total, `received ${received} of ${total}`);
    for (const c of consumers) await c.expectSilence(150);
    assert.equal(seen.size, total, 'no message received twice');
    assert.equal(bodiesSeen.size, total, 'every body received');
    for (const b of sent) assert.ok(bodiesSeen.has(b), `missing ${b}`);
    for (let i = 0; i < 4; i++) assert.ok(perConsumer[i]! > 0, `consumer ${i} got messages (${perConsumer.join(', ')})`);
    await waitFor(() => ch.inFlightCount() === 0, 2000, 'every FIN');
    assert.equal(ch.depth(), 0);
    assert.equal(ch.messageCount, total);
    assert.equal(ch.requeueCount, 0);
    assert.equal(ch.timeoutCount, 0);
  });
});

test('RDY is a level: RDY 3 keeps exactly 3 in flight; RDY 0 stops delivery', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('rdy', 'ch', 3);
    const ch = await waitReady(d, 'rdy', 'ch', 1, 3);
    await mpub(p, 'rdy', range(10, 'r'));
    const first = await readMessages(c, 3);
    await c.expectSilence(200);
    assert.equal(ch.inFlightCount(), 3);
    assert.equal(ch.depth(), 7);

    c.write(`FIN ${first[0]!.id}\n`);
    const fourth = await c.readMessage();
    await c.expectSilence(150);
    assert.equal(ch.inFlightCount(), 3);

    c.write('RDY 0\n');
    c.write(`FIN ${first[1]!.id}\nFIN ${first[2]!.id}\n`);
    await c.expectSilence(200);
    assert.equal(ch.inFlightCount(), 1, 'RDY 0 leaves in-flight messages in flight');
    assert.equal(ch.depth(), 6);

    c.write('RDY 2\n'); // one in flight, so room for exactly one more
    const fifth = await c.readMessage();
    await c.expectSilence(150);
    assert.equal(ch.inFlightCount(), 2);
    const all = bodies([...first, fourth, fifth]);
    assert.equal(new Set(all).size, 5);
  });
});

test('a topic holds messages until its first channel; a later channel sees only later messages', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    await mpub(p, 'hold', range(5, 'h'));
    const topic = topicOf(d, 'hold');
    assert.equal(topic.depth(), 5);
    assert.equal(topic.channelsSnapshot().length, 0);

    const first = await connect();
    await first.sub('hold', 'first'); // RDY 0: the messages wait in the channel
    await waitFor(() => topic.getExistingChannel('first')?.depth() === 5, 1000, 'the hand-over to the first channel');
    assert.equal(topic.depth(), 0);

    const second = await connect();
    await second.sub('hold', 'second', 10);
    await second.expectSilence(200);
    const ch2 = channelOf(d, 'hold', 'second');
    assert.equal(ch2.depth(), 0);
    assert.equal(ch2.messageCount, 0);

    first.write('RDY 10\n');
    assert.deepEqual(bodies(await readMessages(first, 5)), range(5, 'h').sort());
    await p.pub('hold', 'late');
    assert.equal((await first.readMessage()).body, 'late');
    assert.equal((await second.readMessage()).body, 'late');
    await second.expectSilence(100);
  });
});

test('pausing a topic holds messages in the topic; unpausing releases them', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('tpause', 'ch', 10);
    const ch = await waitReady(d, 'tpause', 'ch', 1, 10);
    const topic = topicOf(d, 'tpause');
    topic.pause();
    await mpub(p, 'tpause', ['a', 'b', 'c']);
    await c.expectSilence(200);
    assert.equal(topic.depth(), 3);
    assert.equal(ch.depth(), 0);
    topic.unpause();
    assert.deepEqual(bodies(await readMessages(c, 3)), ['a', 'b', 'c']);
    assert.equal(topic.depth(), 0);
  });
});

test('pausing a channel holds messages in the channel; unpausing releases them', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    const other = await connect();
    await c.sub('cpause', 'paused', 10);
    await other.sub('cpause', 'running', 10);
    const ch = await waitReady(d, 'cpause', 'paused', 1, 10);
    await waitReady(d, 'cpause', 'running', 1, 10);
    ch.pause();
    await mpub(p, 'cpause', ['a', 'b', 'c']);
    assert.deepEqual(bodies(await readMessages(other, 3)), ['a', 'b', 'c'], 'other channels are not paused');
    await c.expectSilence(200);
    assert.equal(ch.depth(), 3);
    assert.equal(topicOf(d, 'cpause').depth(), 0);
    ch.unpause();
    assert.deepEqual(bodies(await readMessages(c, 3)), ['a', 'b', 'c']);
    assert.equal(ch.depth(), 0);
  });
});

test('emptying a channel drops queued, in-flight and deferred messages; delivery goes on afterwards', async () => {
  await withNsqd(FAST_SCAN, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('empty', 'ch', 2);
    const ch = await waitReady(d, 'empty', 'ch', 1, 2);
    await mpub(p, 'empty', range(6, 'e'));
    const [m1, m2] = await readMessages(c, 2);
    c.write(`REQ ${m1!.id} 60000\n`); // deferred for a minute
    const m3 = await c.readMessage();
    await c.expectSilence(150);
    assert.equal(ch.inFlightCount(), 2);
    assert.equal(ch.deferredCount(), 1);
    assert.equal(ch.depth(), 3);

    await ch.empty();
    assert.equal(ch.depth(), 0);
    assert.equal(ch.inFlightCount(), 0);
    assert.equal(ch.deferredCount(), 0);
    assert.equal((ch.consumers()[0] as ClientV2).inFlightCount, 0);
    c.write(`FIN ${m2!.id}\n`);
    await c.expectError(`E_FIN_FAILED FIN ${m2!.id} failed ID not in flight`);
    c.write(`FIN ${m3!.id}\n`);
    await c.expectError(`E_FIN_FAILED FIN ${m3!.id} failed ID not in flight`);

    await mpub(p, 'empty', ['after1', 'after2']);
    assert.deepEqual(bodies(await readMessages(c, 2)), ['after1', 'after2']);
  });
});

test('emptying a topic drops the messages it holds; its channels are untouched', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    await mpub(p, 'tempty', range(5, 't'));
    const topic = topicOf(d, 'tempty');
    assert.equal(topic.depth(), 5);
    await topic.empty();
    assert.equal(topic.depth(), 0);
    const c = await connect();
    await c.sub('tempty', 'ch', 10);
    await c.expectSilence(200);
    await p.pub('tempty', 'fresh');
    assert.equal((await c.readMessage()).body, 'fresh');
  });
});

test('--mem-queue-size: a channel overflows into its backend and delivers everything', async () => {
  await withNsqd({ memQueueSize: 10 }, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('overflow', 'ch'); // RDY 0: everything stays queued
    const ch = await waitReady(d, 'overflow', 'ch', 1, 0);
    const sent = range(100, 'o');
    await mpub(p, 'overflow', sent);
    assert.equal(ch.depth(), 100);
    assert.equal(ch.backend.depth(), 90);
    c.write('RDY 100\n');
    const got = await readMessages(c, 100);
    assert.deepEqual(bodies(got), [...sent].sort());
    assert.equal(new Set(got.map((m) => m.id)).size, 100);
    await c.expectSilence(100);
    assert.equal(ch.depth(), 0);
    assert.equal(ch.inFlightCount(), 100);
  });
});

test('--mem-queue-size: a topic without channels overflows into its backend and hands everything over', async () => {
  await withNsqd({ memQueueSize: 10 }, async (d, connect) => {
    const p = await connect();
    const sent = range(100, 'q');
    await mpub(p, 'toverflow', sent);
    const topic = topicOf(d, 'toverflow');
    assert.equal(topic.depth(), 100);
    assert.equal(topic.backend.depth(), 90);
    const c = await connect();
    await c.sub('toverflow', 'ch', 100);
    assert.deepEqual(bodies(await readMessages(c, 100)), [...sent].sort());
    assert.equal(topic.depth(), 0);
  });
});

test('--mem-queue-size: an ephemeral channel drops what overflows memory', async () => {
  await withNsqd({ memQueueSize: 10 }, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('eoverflow', 'ch#ephemeral');
    const ch = await waitReady(d, 'eoverflow', 'ch#ephemeral', 1, 0);
    await mpub(p, 'eoverflow', range(100, 'x'));
    assert.equal(ch.depth(), 10);
    c.write('RDY 100\n');
    const got = await readUntilQuiet(c, 200, 3000);
    assert.equal(got.length, 10);
  });
});

test('--mem-queue-size=0: a durable channel keeps everything in its backend, in order', async () => {
  await withNsqd({ memQueueSize: 0 }, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('nomem', 'ch');
    const ch = await waitReady(d, 'nomem', 'ch', 1, 0);
    const sent = range(20, 'n');
    await mpub(p, 'nomem', sent);
    assert.equal(ch.depth(), 20);
    assert.equal(ch.backend.depth(), 20);
    c.write('RDY 20\n');
    assert.deepEqual((await readMessages(c, 20)).map((m) => m.body), sent, 'strict FIFO');
  });
});

test('--mem-queue-size=0: an ephemeral channel hands messages to a ready client, else drops them', async () => {
  await withNsqd({ memQueueSize: 0 }, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    await c.sub('nomem', 'tail#ephemeral', 5);
    const ch = await waitReady(d, 'nomem', 'tail#ephemeral', 1, 5);
    for (const body of ['a', 'b', 'c']) {
      await p.pub('nomem', body);
      assert.equal((await c.readMessage()).body, body);
    }
    c.write('RDY 0\n');
    await waitReady(d, 'nomem', 'tail#ephemeral', 1, 0);
    await p.pub('nomem', 'nobody waiting');
    assert.equal(ch.depth(), 0);
    c.write('RDY 5\n');
    await c.expectSilence(150);
    await p.pub('nomem', 'd');
    assert.equal((await c.readMessage()).body, 'd');
  });
});

test('ephemeral channels go with their last client, ephemeral topics with their last channel', async () => {
  await withNsqd({}, async (d, connect) => {
    const a = await connect();
    const b = await connect();
    await a.sub('gone#ephemeral', 'ch#ephemeral', 1);
    await b.sub('gone#ephemeral', 'ch#ephemeral', 1);
    await waitReady(d, 'gone#ephemeral', 'ch#ephemeral', 2, 1);
    a.destroy();
    await waitReady(d, 'gone#ephemeral', 'ch#ephemeral', 1, 1); // still there for b
    b.destroy();
    await waitFor(() => d.nsqd.getExistingTopic('gone#ephemeral') === undefined, 2000, 'the ephemeral topic to be deleted');

    // An ephemeral channel of a durable topic: the channel goes, the topic stays.
    const c = await connect();
    await c.sub('stays', 'ch#ephemeral', 1);
    await waitReady(d, 'stays', 'ch#ephemeral', 1, 1);
    const durable = await connect();
    await durable.sub('stays', 'durable', 1);
    await waitReady(d, 'stays', 'durable', 1, 1);
    c.destroy();
    durable.destroy();
    const topic = topicOf(d, 'stays');
    await waitFor(() => topic.getExistingChannel('ch#ephemeral') === undefined, 2000, 'the ephemeral channel to be deleted');
    await waitFor(() => topic.getExistingChannel('durable')?.consumers().length === 0, 2000, 'the durable channel to lose its client');
    assert.ok(topic.getExistingChannel('durable'), 'a durable channel stays without clients');
    assert.equal(d.nsqd.getExistingTopic('stays'), topic);

    // An ephemeral topic that never had a channel is not deleted.
    const p = await connect();
    await p.pub('lonely#ephemeral', 'x');
    await p.expectSilence(150);
    assert.ok(d.nsqd.getExistingTopic('lonely#ephemeral'));
  });
});

test('sample_rate 10 delivers roughly 11% of the messages and drops the rest for that channel', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const c = await connect();
    assert.equal((await c.identify({ sample_rate: 10 })).text, 'OK');
    await c.sub('sample', 'ch', 2500);
    const ch = await waitReady(d, 'sample', 'ch', 1, 2500);
    const total = 2000;
    for (let i = 0; i < total; i += 500) await mpub(p, 'sample', range(500, `s${i}-`));
    const got = await readUntilQuiet(c, 300, 5000);
    assert.ok(got.length >= 120 && got.length <= 340, `${got.length} of ${total} delivered, want ~220`);
    assert.equal(new Set(got.map((m) => m.id)).size, got.length);
    assert.equal(ch.inFlightCount(), got.length, 'only sampled messages are in flight');
    assert.equal(ch.depth(), 0, 'the others are dropped, not kept');
    assert.equal(ch.messageCount, total);
  });
});

test('a client that disconnects with messages in flight: they go to another consumer at once, as requeues', async () => {
  await withNsqd({ msgTimeout: 60000 }, async (d, connect) => {
    const p = await connect();
    const a = await connect();
    await a.sub('leave', 'ch', 5);
    await waitReady(d, 'leave', 'ch', 1, 5);
    await mpub(p, 'leave', range(5, 'l'));
    const held = await readMessages(a, 5);
    const b = await connect();
    await b.sub('leave', 'ch', 5);
    const ch = await waitReady(d, 'leave', 'ch', 2, 5);
    await b.expectSilence(100);
    const t0 = performance.now();
    a.destroy();
    const got = await readMessages(b, 5, 1500);
    assert.ok(performance.now() - t0 < 1500);
    assert.deepEqual(got.map((m) => m.id).sort(), held.map((m) => m.id).sort());
    for (const m of got) assert.equal(m.attempts, 2);
    assert.equal(ch.requeueCount, 5);
    assert.equal(ch.timeoutCount, 0);
    assert.equal(ch.inFlightCount(), 5);
  });
});

test('consumers leaving in any order never break delivery to the ones that remain', async () => {
  await withNsqd({}, async (d, connect) => {
    const p = await connect();
    const cs: WireClient[] = [];
    for (let i = 1; i <= 3; i++) {
      const c = await connect();
      await c.sub('churn', 'ch', 1);
      await waitReady(d, 'churn', 'ch', i, 1);
      cs.push(c);
    }
    cs[1]!.destroy();
    cs[2]!.destroy();
    await waitReady(d, 'churn', 'ch', 1, 1);
    await p.pub('churn', 'still here');
    assert.equal((await cs[0]!.readMessage()).body, 'still here');
  });
});

test('--max-channel-consumers: a SUB past the limit fails; other channels and freed places are fine', async () => {
  await withNsqd({ maxChannelConsumers: 2 }, async (d, connect) => {
    const a = await connect();
    const b = await connect();
    await a.sub('limited', 'ch', 1);
    await b.sub('limited', 'ch', 1);
    const c = await connect();
    c.write('SUB limited ch\n');
    await c.expectError('E_SUB_FAILED SUB failed consumers for limited:ch exceeds limit of 2');
    await c.expectClose();
    const other = await connect();
    await other.sub('limited', 'other', 1);
    a.destroy();
    await waitReady(d, 'limited', 'ch', 1, 1);
    const e = await connect();
    await e.sub('limited', 'ch', 1);
  });
});
