// Recovery from damaged queue files: each case skips to the next good
// record, renames the bad segment `.bad`, gets the depth right, logs what
// happened, and the queue keeps serving (new records go through).
//
// Every case starts from the same queue: 10 records of 34 bytes, 3 per
// segment (--max-bytes-per-file=110), so segments 0..2 hold msg 0-2, 3-5,
// 6-8 (102 bytes each) and segment 3, the write segment, msg 9 (34 bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { files, label, openQueue, payload, take, takeAll, tempDir } from './helpers.ts';

const seg = (dir: string, n: number) => join(dir, `q.diskqueue.00000${n}.dat`);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `msg-${String(from + i).padStart(5, '0')}`);
const OPTS = { maxBytesPerFile: 110 };

async function withQueueFiles(records: number, damage: (dir: string) => void, check: (dir: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir, OPTS);
    for (let i = 0; i < records; i++) q.put(payload(i));
    await q.close();
    damage(t.dir);
    await check(t.dir);
  } finally {
    t.remove();
  }
}

function setLength(file: string, at: number, length: number): void {
  const b = readFileSync(file);
  new DataView(b.buffer, b.byteOffset, b.byteLength).setInt32(at, length);
  writeFileSync(file, b);
}

/** Reads `before`, then the rest after the skip; checks the depth right after the first record past the skip. */
async function expectSkip(dir: string, before: string[], after: string[], logPattern: RegExp, depthAtOpen?: number): Promise<void> {
  const { q, logs } = openQueue(dir, OPTS);
  await q.opened;
  if (depthAtOpen !== undefined) assert.equal(q.depth(), depthAtOpen, 'depth at open');
  assert.deepEqual((await take(q, before.length)).map(label), before);
  if (after.length > 0) {
    assert.deepEqual((await take(q, 1)).map(label), after.slice(0, 1));
    assert.equal(q.depth(), after.length - 1, 'depth right after skipping the bad data');
  }
  assert.deepEqual((await takeAll(q, 200)).map(label), after.slice(1));
  assert.equal(q.depth(), 0);
  assert.ok(logs.some((l) => logPattern.test(l)), `logged: ${logs.join(' | ')}`);
  // Still serving.
  q.put(payload(500));
  assert.deepEqual((await take(q, 1)).map(label), range(500, 501));
  await q.close();
  // And a restart sees a consistent queue.
  const again = openQueue(dir, OPTS);
  await again.q.opened;
  assert.equal(again.q.depth(), 0);
  assert.deepEqual(again.logs.filter((l) => /ERROR|WARN/.test(l)), []);
  await again.q.close();
}

test('truncated middle segment: the torn record and the rest of that segment are skipped', async () => {
  await withQueueFiles(10, (dir) => truncateSync(seg(dir, 1), 34 + 10), async (dir) => {
    await expectSkip(dir, range(0, 4), range(6, 10), /q\.diskqueue\.000001\.dat: .*torn or truncated.*renaming it to .*\.bad/, 10);
    assert.ok(existsSync(seg(dir, 1) + '.bad'));
    assert.ok(!existsSync(seg(dir, 1)));
  });
});

test('truncated current (write) segment: its good records are read, writing goes on in a new segment', async () => {
  // 11 records: the write segment 3 holds msg 9 and 10 (68 bytes); cut it to 50 bytes (msg 10 torn).
  await withQueueFiles(11, (dir) => truncateSync(seg(dir, 3), 50), async (dir) => {
    await expectSkip(dir, range(0, 10), [], /000003\.dat is 50 bytes where the metadata says 68/, 10);
    assert.ok(existsSync(seg(dir, 3) + '.bad'));
  });
});

test('zero-length record: the rest of its segment is skipped', async () => {
  await withQueueFiles(10, (dir) => setLength(seg(dir, 1), 34, 0), async (dir) => {
    await expectSkip(dir, range(0, 4), range(6, 10), /000001\.dat: record length 0 at position 34 is out of bounds \[26, 1000\]/, 10);
    assert.ok(existsSync(seg(dir, 1) + '.bad'));
  });
});

test('garbage lengths (huge, negative): the rest of the segment is skipped', async () => {
  await withQueueFiles(10, (dir) => setLength(seg(dir, 2), 0, 0x7fffffff), async (dir) => {
    await expectSkip(dir, range(0, 6), range(9, 10), /000002\.dat: record length 2147483647 at position 0 is out of bounds/, 10);
  });
  await withQueueFiles(10, (dir) => setLength(seg(dir, 0), 68, -1), async (dir) => {
    await expectSkip(dir, range(0, 2), range(3, 10), /000000\.dat: record length -1 at position 68/, 10);
  });
});

test('truncated last segment after a crash: records past the synced metadata are read, the torn one skipped', async () => {
  await withQueueFiles(10, (dir) => {
    // The metadata says segment 3 ends at 34; the crash left msg 10 whole and msg 11 torn after it.
    const tail = new Uint8Array(34 + 34 + 12);
    tail.set(readFileSync(seg(dir, 3)));
    const view = new DataView(tail.buffer);
    view.setInt32(34, 30);
    tail.set(payload(10), 38);
    view.setInt32(68, 30);
    tail.set(payload(11).subarray(0, 8), 72);
    writeFileSync(seg(dir, 3), tail);
  }, async (dir) => {
    await expectSkip(dir, range(0, 11), [], /000003\.dat is 80 bytes where the metadata says 34/, 11);
    assert.ok(existsSync(seg(dir, 3) + '.bad'));
    assert.ok(existsSync(seg(dir, 4)), 'writing went on in segment 4');
  });
});

test('missing segment: reading goes on at the next one', async () => {
  await withQueueFiles(10, (dir) => unlinkSync(seg(dir, 2)), async (dir) => {
    await expectSkip(dir, range(0, 6), range(9, 10), /000002\.dat: segment file is missing; skipping to the next segment/, 10);
  });
});

test('missing metadata: the segments on disk are read from the oldest, nothing lost', async () => {
  await withQueueFiles(10, (dir) => {
    unlinkSync(join(dir, 'q.diskqueue.meta.dat'));
    unlinkSync(seg(dir, 0)); // as if the first segment had been read and deleted
  }, async (dir) => {
    const { q, logs } = openQueue(dir, OPTS);
    await q.opened;
    assert.equal(q.depth(), 7);
    assert.ok(logs.some((l) => /no metadata but 3 segment file\(s\) on disk/.test(l)));
    q.put(payload(10));
    assert.deepEqual((await take(q, 8)).map(label), range(3, 11));
    await q.close();
    assert.equal(readFileSync(join(dir, 'q.diskqueue.meta.dat'), 'latin1'), '0\n4,34\n4,34\n');
  });
});

test('unreadable metadata: renamed .bad, the segments are read from the oldest', async () => {
  await withQueueFiles(10, (dir) => writeFileSync(join(dir, 'q.diskqueue.meta.dat'), 'garbage\n'), async (dir) => {
    const { q, logs } = openQueue(dir, OPTS);
    await q.opened;
    assert.equal(q.depth(), 10);
    assert.ok(logs.some((l) => /metadata q\.diskqueue\.meta\.dat is unreadable/.test(l)));
    assert.ok(existsSync(join(dir, 'q.diskqueue.meta.dat.bad')));
    assert.deepEqual((await take(q, 10)).map(label), range(0, 10));
    await q.close();
    // Every segment was read and deleted; the next one is created on the first write.
    assert.deepEqual(files(dir).filter((f) => f.endsWith('.dat')), ['q.diskqueue.meta.dat']);
    assert.equal(readFileSync(join(dir, 'q.diskqueue.meta.dat'), 'latin1'), '0\n4,0\n4,0\n');
  });
});

test('corruption found while serving (not at start-up) in the write segment: writing moves on, nothing new is lost', async () => {
  const t = tempDir();
  try {
    const { q, logs } = openQueue(t.dir, OPTS);
    q.put(payload(0));
    q.put(payload(1));
    await q.sync();
    setLength(seg(t.dir, 0), 34, 5); // msg 1's length, under the queue's feet
    assert.deepEqual((await take(q, 1)).map(label), range(0, 1));
    q.put(payload(2));
    assert.deepEqual((await take(q, 1)).map(label), range(2, 3));
    assert.equal(q.depth(), 0);
    assert.ok(logs.some((l) => /000000\.dat: record length 5 at position 34/.test(l)));
    await q.close();
  } finally {
    t.remove();
  }
});
