// nsqd.dat and data folders shared with Go nsqd, on an in-process nsqd over
// the real Storage of the runtime running the tests: paused flags survive a
// restart, the file is Go's JSON and is rewritten on every change, a data
// folder laid out by Go nsqd 1.3.0 is served, and one written by nsq-ts reads
// as Go would read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNsqd } from '../helpers/nsqd.ts';
import { WireClient } from '../helpers/wire.ts';
import { consume, mpub, subscribe, tempDataPath } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForFile(path: string, want: (text: string) => boolean, ms = 3000): Promise<string> {
  const deadline = performance.now() + ms;
  let text = '';
  while (performance.now() < deadline) {
    text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (want(text)) return text;
    await sleep(10);
  }
  throw new Error(`${path} never became as expected; last: ${text}`);
}

test('paused topics and channels survive a restart; nsqd.dat is Go\'s JSON, rewritten on each change', async () => {
  const t = tempDataPath();
  try {
    let n = await startNsqd({ dataPath: t.dir, httpAddress: '' });
    const a = n.nsqd.getTopic('a');
    a.getChannel('x');
    a.getChannel('y').pause();
    a.getChannel('z#ephemeral');
    n.nsqd.getTopic('b').pause();
    n.nsqd.getTopic('e#ephemeral').getChannel('x');
    const dat = join(t.dir, 'nsqd.dat');
    await waitForFile(dat, (s) => s.includes('"name":"b","paused":true'));
    await n.close();
    assert.equal(
      readFileSync(dat, 'utf8'),
      '{"topics":[{"name":"a","paused":false,"channels":[{"name":"x","paused":false},{"name":"y","paused":true}]},{"name":"b","paused":true,"channels":null}],"version":"1.3.0"}',
    );

    n = await startNsqd({ dataPath: t.dir, httpAddress: '' });
    assert.deepEqual(n.nsqd.topicList().map((x) => [x.name, x.paused]), [['a', false], ['b', true]]);
    const a2 = n.nsqd.getExistingTopic('a')!;
    assert.deepEqual(a2.channelsSnapshot().map((c) => [c.name, c.paused]), [['x', false], ['y', true]]);
    // Unpausing and deleting are written too.
    a2.getExistingChannel('y')!.unpause();
    await a2.deleteChannel('x');
    await n.nsqd.deleteExistingTopic('b');
    await waitForFile(dat, (s) => s === '{"topics":[{"name":"a","paused":false,"channels":[{"name":"y","paused":false}]}],"version":"1.3.0"}');
    await n.close();
  } finally {
    t.remove();
  }
});

/** A record as Go nsqd writes it: [len][ts ns][attempts][16-char id][body]. */
function goRecord(id: string, body: string, attempts = 0, ts = 1700000000123456789n): Uint8Array {
  const b = new TextEncoder().encode(body);
  const out = new Uint8Array(4 + 26 + b.length);
  const v = new DataView(out.buffer);
  v.setInt32(0, 26 + b.length);
  v.setBigInt64(4, ts);
  v.setUint16(12, attempts);
  out.set(new TextEncoder().encode(id), 14);
  out.set(b, 30);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test('a data folder laid out by Go nsqd 1.3.0 is served: topic and channel queues, ids, timestamps, attempts', async () => {
  const t = tempDataPath();
  try {
    writeFileSync(join(t.dir, 'nsqd.dat'), '{"topics":[{"name":"orders","paused":false,"channels":[{"name":"billing","paused":false}]}],"version":"1.3.0"}');
    // The channel holds two messages (one delivered once already), the topic one more not yet handed over.
    const ch = concat([goRecord('0a0000000000c001', 'first', 1), goRecord('0a0000000000c002', 'second')]);
    writeFileSync(join(t.dir, 'orders:billing.diskqueue.000000.dat'), ch);
    writeFileSync(join(t.dir, 'orders:billing.diskqueue.meta.dat'), `2\n0,0\n0,${ch.length}\n`);
    const tp = goRecord('0a0000000000c003', 'third');
    writeFileSync(join(t.dir, 'orders.diskqueue.000003.dat'), tp);
    writeFileSync(join(t.dir, 'orders.diskqueue.meta.dat'), `1\n3,0\n3,${tp.length}\n`);
    const n = await startNsqd({ dataPath: t.dir, httpAddress: '' });
    try {
      const c = await subscribe(n.port, 'orders', 'billing', 10);
      // Memory and disk queues are read side by side (no order between them, as in NSQ).
      const got = (await consume(c, (g) => g.length >= 3, 5000)).map((o) => o.msg).sort((x, y) => x.id.localeCompare(y.id));
      assert.deepEqual(
        got.map((m) => [m.id, m.body, m.attempts]),
        [
          ['0a0000000000c001', 'first', 2],
          ['0a0000000000c002', 'second', 1],
          ['0a0000000000c003', 'third', 1],
        ],
      );
      // Timestamps are held as float64 nanoseconds: exact to within 256 ns at today's values.
      for (const m of got) assert.ok(m.timestamp - 1700000000123456789n < 512n && 1700000000123456789n - m.timestamp < 512n, String(m.timestamp));
      c.destroy();
    } finally {
      await n.close();
    }
  } finally {
    t.remove();
  }
});

/** Reads a queue as go-diskqueue does: the metadata, then records from the read position to the write position. */
function goReadQueue(dir: string, name: string): { depth: number; messages: { id: string; body: string; attempts: number }[] } {
  const meta = readFileSync(join(dir, `${name}.diskqueue.meta.dat`), 'latin1');
  const m = /^(\d+)\n(\d+),(\d+)\n(\d+),(\d+)\n$/.exec(meta);
  assert.ok(m, `Go's three-line metadata: ${JSON.stringify(meta)}`);
  const [depth, readFile, readPos, writeFile, writePos] = m!.slice(1).map(Number) as [number, number, number, number, number];
  const messages: { id: string; body: string; attempts: number }[] = [];
  for (let f = readFile; f <= writeFile; f++) {
    const data = readFileSync(join(dir, `${name}.diskqueue.${String(f).padStart(6, '0')}.dat`));
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = f === readFile ? readPos : 0;
    const end = f === writeFile ? writePos : data.length;
    while (pos < end) {
      const len = view.getInt32(pos);
      assert.ok(len >= 26 && len <= 1048576 + 26, `record length ${len} in Go's bounds`);
      const rec = data.subarray(pos + 4, pos + 4 + len);
      messages.push({ id: new TextDecoder().decode(rec.subarray(10, 26)), body: new TextDecoder().decode(rec.subarray(26)), attempts: view.getUint16(pos + 12) });
      pos += 4 + len;
    }
  }
  assert.equal(messages.length, depth, 'depth matches the records');
  return { depth, messages };
}

test('what nsq-ts leaves in its data folder at shutdown reads as Go nsqd reads it (deferred ones as plain records)', async () => {
  const t = tempDataPath();
  try {
    const n = await startNsqd({ dataPath: t.dir, httpAddress: '', memQueueSize: 3, maxBytesPerFile: 100 });
    const c = await subscribe(n.port, 'g', 'c', 0);
    const pub = await WireClient.connect(n.port);
    await mpub(pub, 'g', ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    pub.write(new Uint8Array([...new TextEncoder().encode('DPUB g 60000\n'), 0, 0, 0, 2, ...new TextEncoder().encode('dd')]));
    await pub.expectResponse('OK');
    c.write('RDY 2\n');
    const inFlight = await consume(c, (g) => g.length >= 2, 5000, false);
    await n.close();
    c.destroy();
    pub.destroy();
    const q = goReadQueue(t.dir, 'g:c');
    assert.equal(q.depth, 9, 'all nine messages: 6 queued, 2 in flight, 1 deferred');
    assert.deepEqual(q.messages.map((m) => m.body).sort(), ['dd', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    for (const o of inFlight) assert.equal(q.messages.find((m) => m.id === o.msg.id)!.attempts, 1, 'in-flight messages keep their attempts');
    // The due time sits beside the queue, where Go never looks.
    const notes = JSON.parse(readFileSync(join(t.dir, 'g:c.diskqueue.deferred.json'), 'utf8')) as { deferred: Record<string, number> };
    const dd = q.messages.find((m) => m.body === 'dd')!;
    assert.ok(notes.deferred[dd.id]! > Date.now() + 50_000);
    assert.ok(readdirSync(t.dir).some((f) => /^g:c\.diskqueue\.00000[1-9]\.dat$/.test(f)), 'segments rolled at --max-bytes-per-file');
  } finally {
    t.remove();
  }
});

test('an unreadable nsqd.dat does not stop nsqd: topics and channels come back from their queue files', async () => {
  const t = tempDataPath();
  try {
    let n = await startNsqd({ dataPath: t.dir, httpAddress: '', memQueueSize: 0 });
    const pub = await WireClient.connect(n.port);
    n.nsqd.getTopic('kept').getChannel('ch');
    await mpub(pub, 'kept', ['a', 'b']);
    pub.destroy();
    await n.close();
    writeFileSync(join(t.dir, 'nsqd.dat'), '{"topics":[{"name":');
    n = await startNsqd({ dataPath: t.dir, httpAddress: '' });
    try {
      assert.ok(existsSync(join(t.dir, 'nsqd.dat.bad')));
      const c = await subscribe(n.port, 'kept', 'ch', 10);
      const got = await consume(c, (g) => g.length >= 2, 5000);
      assert.deepEqual(got.map((o) => o.msg.body), ['a', 'b']);
      c.destroy();
    } finally {
      await n.close();
    }
    assert.match(readFileSync(join(t.dir, 'nsqd.dat'), 'utf8'), /"name":"kept","paused":false,"channels":\[\{"name":"ch"/);
  } finally {
    t.remove();
  }
});
