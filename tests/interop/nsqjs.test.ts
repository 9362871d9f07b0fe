// Interop with the stock npm client nsqjs 0.13 (PROTOCOL.md 8.11) against our
// in-process nsqd, on every runtime: nsqjs is plain CommonJS over node:net, so
// on Bun and Deno it also exercises their Node compatibility layer.
//
// Each test starts and stops its own nsqd; every wait is bounded and says what
// it was waiting for; readers and writers are closed and the server is seen to
// drop their connections before the daemon is closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nsq from 'nsqjs';
import type { Message, Reader, ReaderOptions, Writer } from 'nsqjs';
import { startNsqd, type TestNsqd } from '../helpers/nsqd.ts';
import { runtimeName } from '../helpers/runtime.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`[${runtimeName}] timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 10 ms for at most `ms`; the error message is built when it fails. */
async function waitUntil(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`[${runtimeName}] timed out after ${ms} ms waiting for ${what()}`);
    await sleep(10);
  }
}

interface OpenWriter {
  writer: Writer;
  errors: Error[];
  closed: boolean;
}

async function openWriter(port: number): Promise<OpenWriter> {
  const w: OpenWriter = { writer: new nsq.Writer('127.0.0.1', port), errors: [], closed: false };
  w.writer.on('error', (err: Error) => w.errors.push(err));
  w.writer.on('closed', () => (w.closed = true));
  await within(5000, 'the nsqjs Writer to become ready', new Promise<void>((resolve, reject) => {
    w.writer.once('ready', resolve);
    w.writer.once('error', reject);
    w.writer.once('closed', () => reject(new Error('nsqjs Writer closed before it was ready')));
    w.writer.connect();
  }));
  return w;
}

function publish(w: OpenWriter, topic: string, msgs: string | string[]): Promise<void> {
  return new Promise((resolve, reject) => w.writer.publish(topic, msgs, (err) => (err ? reject(err) : resolve())));
}

async function closeWriter(w: OpenWriter): Promise<void> {
  if (w.closed) return;
  const closed = new Promise<void>((resolve) => w.writer.once('closed', resolve));
  w.writer.close();
  await within(5000, 'the nsqjs Writer to close', closed);
}

interface OpenReader {
  reader: Reader;
  errors: Error[];
  /** Every delivery, in order. */
  deliveries: { body: string; attempts: number; id: string; at: number }[];
}

/** A Reader subscribed (SUB answered OK) to topic/channel; `onMessage` decides FIN/REQ/TOUCH. */
async function openReader(d: TestNsqd, topic: string, channel: string, opts: ReaderOptions, onMessage: (msg: Message) => void): Promise<OpenReader> {
  const r: OpenReader = {
    reader: new nsq.Reader(topic, channel, { nsqdTCPAddresses: [`127.0.0.1:${d.port}`], ...opts }),
    errors: [],
    deliveries: [],
  };
  r.reader.on('error', (err: Error) => r.errors.push(err));
  r.reader.on('message', (msg: Message) => {
    r.deliveries.push({ body: msg.body.toString(), attempts: msg.attempts, id: msg.id, at: Date.now() });
    onMessage(msg);
  });
  await within(5000, `the nsqjs Reader on ${topic}/${channel} to connect and subscribe`, new Promise<void>((resolve, reject) => {
    r.reader.once('ready', resolve);
    r.reader.once('error', reject);
    r.reader.connect();
  }));
  return r;
}

async function closeReader(r: OpenReader): Promise<void> {
  if (r.reader.connectionIds.length === 0) {
    r.reader.close();
    return;
  }
  const gone = new Promise<void>((resolve) => r.reader.once('not_ready', resolve));
  r.reader.close();
  await within(5000, 'the nsqjs Reader to close its nsqd connection', gone);
}

/** Closes every client, waits until the server has dropped all their connections, then stops nsqd. */
async function shutdown(d: TestNsqd, readers: OpenReader[], writers: OpenWriter[]): Promise<void> {
  try {
    for (const r of readers) await closeReader(r);
    for (const w of writers) await closeWriter(w);
    await waitUntil(() => d.nsqd.clientList().length === 0, 5000, () => `nsqd to see every client gone (${d.nsqd.clientList().length} left)`);
  } finally {
    await d.close();
  }
}

function channelOf(d: TestNsqd, topic: string, channel: string) {
  const ch = d.nsqd.channels().find((c) => c.topicName === topic && c.name === channel);
  assert.ok(ch, `channel ${topic}/${channel} exists`);
  return ch;
}

const N_SINGLE = 10_000;
const N_ARRAYS = 50;
const ARRAY_SIZE = 200;
const TOTAL = N_SINGLE + N_ARRAYS * ARRAY_SIZE;

/** 10,000 pipelined PUBs and 50 MPUBs of 200, all awaited together; the bodies are m-0 .. m-19999. */
async function publishAll(w: OpenWriter, topic: string): Promise<void> {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < N_SINGLE; i++) pending.push(publish(w, topic, `m-${i}`));
  for (let a = 0; a < N_ARRAYS; a++) {
    const batch: string[] = [];
    for (let j = 0; j < ARRAY_SIZE; j++) batch.push(`m-${N_SINGLE + a * ARRAY_SIZE + j}`);
    pending.push(publish(w, topic, batch));
  }
  await within(20_000, `${N_SINGLE} PUB + ${N_ARRAYS} MPUB acknowledgements`, Promise.all(pending));
}

/** Counts per body; asserts that bodies are exactly m-0..m-(TOTAL-1), each `expected` times in `counts`. */
function assertAllOnce(counts: Map<string, number>, who: string): void {
  const dupes = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(dupes.slice(0, 5), [], `${who}: no body delivered twice (${dupes.length} duplicated)`);
  assert.equal(counts.size, TOTAL, `${who}: got ${counts.size} distinct bodies`);
  for (let i = 0; i < TOTAL; i++) if (!counts.has(`m-${i}`)) assert.fail(`${who}: body m-${i} never delivered`);
}

function countBodies(r: OpenReader): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of r.deliveries) counts.set(d.body, (counts.get(d.body) ?? 0) + 1);
  return counts;
}

test(`nsqjs: ${TOTAL} messages (PUB + MPUB) reach each of two channels exactly once`, async () => {
  const d = await startNsqd();
  const readers: OpenReader[] = [];
  const writers: OpenWriter[] = [];
  try {
    const finish = (msg: Message) => msg.finish();
    readers.push(await openReader(d, 'interop', 'one', { maxInFlight: 500 }, finish));
    readers.push(await openReader(d, 'interop', 'two', { maxInFlight: 500 }, finish));
    writers.push(await openWriter(d.port));
    await publishAll(writers[0]!, 'interop');

    for (const r of readers) {
      await waitUntil(() => r.deliveries.length >= TOTAL, 20_000, () => `${TOTAL} deliveries on channel ${r.reader.channel}, got ${r.deliveries.length}`);
    }
    await sleep(300); // anything extra (a redelivery) would arrive now
    for (const r of readers) {
      assertAllOnce(countBodies(r), `channel ${r.reader.channel}`);
      assert.equal(r.deliveries.length, TOTAL, `channel ${r.reader.channel}: ${r.deliveries.length} deliveries`);
      const retried = r.deliveries.filter((m) => m.attempts !== 1);
      assert.deepEqual(retried.slice(0, 5), [], `channel ${r.reader.channel}: every message delivered on its first attempt (${retried.length} not)`);
      assert.deepEqual(r.errors.map(String), [], `channel ${r.reader.channel}: no errors from nsqjs`);
    }
    assert.deepEqual(writers[0]!.errors.map(String), [], 'no Writer errors');
    for (const ch of ['one', 'two']) {
      await waitUntil(() => channelOf(d, 'interop', ch).inFlightCount() === 0, 2000, () => `channel ${ch} to have nothing in flight after the FINs`);
    }
  } finally {
    await shutdown(d, readers, writers);
  }
});

test(`nsqjs: two Readers on one channel share ${TOTAL} messages without duplicates`, async () => {
  const d = await startNsqd();
  const readers: OpenReader[] = [];
  const writers: OpenWriter[] = [];
  try {
    const finish = (msg: Message) => msg.finish();
    readers.push(await openReader(d, 'shared', 'ch', { maxInFlight: 100 }, finish));
    readers.push(await openReader(d, 'shared', 'ch', { maxInFlight: 100 }, finish));
    writers.push(await openWriter(d.port));
    await publishAll(writers[0]!, 'shared');

    const total = () => readers[0]!.deliveries.length + readers[1]!.deliveries.length;
    await waitUntil(() => total() >= TOTAL, 20_000, () => `${TOTAL} deliveries across both Readers, got ${readers[0]!.deliveries.length} + ${readers[1]!.deliveries.length}`);
    await sleep(300);
    const union = countBodies(readers[0]!);
    for (const m of readers[1]!.deliveries) union.set(m.body, (union.get(m.body) ?? 0) + 1);
    assertAllOnce(union, 'union of both Readers');
    assert.equal(total(), TOTAL);
    assert.ok(readers[0]!.deliveries.length > 0 && readers[1]!.deliveries.length > 0,
      `both Readers got some (${readers[0]!.deliveries.length} / ${readers[1]!.deliveries.length})`);
    for (const r of readers) assert.deepEqual(r.errors.map(String), [], 'no errors from nsqjs');
  } finally {
    await shutdown(d, readers, writers);
  }
});

test('nsqjs: msg.requeue(0, false) redelivers the same message with attempts 2', async () => {
  const d = await startNsqd();
  const readers: OpenReader[] = [];
  const writers: OpenWriter[] = [];
  try {
    const firstTimestamp: bigint[] = [];
    readers.push(await openReader(d, 'req', 'ch', { maxInFlight: 1 }, (msg) => {
      if (msg.attempts === 1) {
        firstTimestamp.push(msg.timestamp);
        msg.requeue(0, false);
      } else {
        assert.equal(msg.timestamp, firstTimestamp[0], 'the original publish timestamp is kept across a requeue');
        msg.finish();
      }
    }));
    const r = readers[0]!;
    writers.push(await openWriter(d.port));
    await within(5000, 'PUB OK', publish(writers[0]!, 'req', 'again'));

    await waitUntil(() => r.deliveries.length >= 2, 5000, () => `the requeued message to come back (deliveries: ${JSON.stringify(r.deliveries)})`);
    await sleep(200);
    assert.equal(r.deliveries.length, 2, `exactly two deliveries: ${JSON.stringify(r.deliveries)}`);
    const [first, second] = r.deliveries as [OpenReader['deliveries'][0], OpenReader['deliveries'][0]];
    assert.deepEqual([first.body, first.attempts], ['again', 1]);
    assert.deepEqual([second.body, second.attempts], ['again', 2]);
    assert.equal(second.id, first.id, 'the same message ID');
    assert.ok(second.at - first.at < 1000, `REQ 0 redelivers at once (took ${second.at - first.at} ms)`);
    assert.deepEqual(r.errors.map(String), [], 'no errors from nsqjs (a failed FIN/REQ would show here)');
    const ch = channelOf(d, 'req', 'ch');
    assert.equal(ch.requeueCount, 1, 'channel requeue_count');
    await waitUntil(() => ch.inFlightCount() === 0, 2000, () => 'the FIN of the second delivery');
  } finally {
    await shutdown(d, readers, writers);
  }
});

test('nsqjs: touch() keeps a message in flight past its msg_timeout; an untouched one is redelivered', async () => {
  // nsqjs sends `messageTimeout` as IDENTIFY msg_timeout; the scanner runs often so that a
  // timeout is acted on within ~50 ms rather than after the 5 s refresh of a new channel.
  const d = await startNsqd({ queueScanInterval: 50, queueScanRefreshInterval: 100 });
  const readers: OpenReader[] = [];
  const writers: OpenWriter[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  try {
    let touchedFinishedAt = 0;
    let touches = 0;
    readers.push(await openReader(d, 'touch', 'ch', { maxInFlight: 10, messageTimeout: 1000 }, (msg) => {
      const body = msg.body.toString();
      if (body === 'touched') {
        const started = Date.now();
        const t = setInterval(() => {
          if (Date.now() - started >= 2500) {
            clearInterval(t);
            msg.finish();
            touchedFinishedAt = Date.now();
          } else {
            touches++;
            msg.touch();
          }
        }, 400);
        timers.push(t);
      } else if (body === 'control' && msg.attempts >= 2) {
        msg.finish();
      }
      // the control's first delivery is left alone: it must time out on the server
    }));
    const r = readers[0]!;
    const conn = r.reader.readerRdy.connections[0]?.conn;
    assert.equal(conn?.msgTimeout, 1000, 'IDENTIFY response msg_timeout as nsqjs read it');
    writers.push(await openWriter(d.port));
    await within(5000, 'PUB OK', publish(writers[0]!, 'touch', 'touched'));
    await within(5000, 'PUB OK', publish(writers[0]!, 'touch', 'control'));

    await waitUntil(() => touchedFinishedAt > 0, 5000, () => 'the touched message to be finished after 2.5 s');
    await waitUntil(() => r.deliveries.filter((m) => m.body === 'control').length >= 2, 3000,
      () => `the untouched control message to be redelivered (deliveries: ${JSON.stringify(r.deliveries)})`);
    await sleep(1300); // more than one msg_timeout after the FIN: a late redelivery would show

    const touched = r.deliveries.filter((m) => m.body === 'touched');
    const control = r.deliveries.filter((m) => m.body === 'control');
    assert.equal(touched.length, 1, `the touched message was delivered once: ${JSON.stringify(touched)}`);
    assert.ok(touches >= 5, `it was touched every 400 ms (${touches} times)`);
    assert.equal(control.length, 2, `the control message was delivered twice: ${JSON.stringify(control)}`);
    assert.equal(control[1]!.attempts, 2);
    const wait = control[1]!.at - control[0]!.at;
    assert.ok(wait >= 900 && wait < 2500, `the control timed out after its 1000 ms msg_timeout (redelivered after ${wait} ms)`);
    assert.deepEqual(r.errors.map(String), [], 'no errors from nsqjs (E_TOUCH_FAILED / E_FIN_FAILED would show here)');
    const ch = channelOf(d, 'touch', 'ch');
    assert.equal(ch.timeoutCount, 1, 'channel timeout_count: only the control timed out');
    await waitUntil(() => ch.inFlightCount() === 0, 2000, () => 'nothing in flight');
  } finally {
    for (const t of timers) clearInterval(t);
    await shutdown(d, readers, writers);
  }
});
