// The disk queue over the real Storage of the runtime running the tests, in
// a temporary folder: Go's file format byte for byte, rollover positions,
// reopening, empty and delete, group commit, deferral notes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileHandle, Storage } from '../../core/ports.ts';
import { files, label, openQueue, payload, storage, take, takeAll, tempDir } from './helpers.ts';

const dec = new TextDecoder();
const labels = (recs: Uint8Array[]) => recs.map(label);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `msg-${String(from + i).padStart(5, '0')}`);

test('metadata and segment bytes are exactly go-diskqueue\'s', async () => {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir);
    for (let i = 0; i < 6; i++) q.put(payload(i));
    await q.close();
    assert.deepEqual(files(t.dir), ['q.diskqueue.000000.dat', 'q.diskqueue.meta.dat']);
    // PROTOCOL.md 7.3: six 34-byte records written, none read.
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '6\n0,0\n0,204\n');
    const seg = readFileSync(join(t.dir, 'q.diskqueue.000000.dat'));
    assert.equal(seg.length, 204);
    for (let i = 0; i < 6; i++) {
      const at = i * 34;
      assert.deepEqual([...seg.subarray(at, at + 4)], [0, 0, 0, 30]);
      assert.deepEqual(new Uint8Array(seg.subarray(at + 4, at + 34)), payload(i));
    }
  } finally {
    t.remove();
  }
});

test('rollover at --max-bytes-per-file: exact positions, file sizes and deletion of read segments', async () => {
  const t = tempDir();
  try {
    // 110 bytes per file: 3 records of 34 (102); the 4th would pass 110 and starts the next file.
    let { q } = openQueue(t.dir, { maxBytesPerFile: 110 });
    for (let i = 0; i < 10; i++) q.put(payload(i));
    assert.equal(q.depth(), 10);
    await q.close();
    assert.deepEqual(files(t.dir), ['q.diskqueue.000000.dat', 'q.diskqueue.000001.dat', 'q.diskqueue.000002.dat', 'q.diskqueue.000003.dat', 'q.diskqueue.meta.dat']);
    assert.deepEqual([0, 1, 2, 3].map((n) => statSync(join(t.dir, `q.diskqueue.00000${n}.dat`)).size), [102, 102, 102, 34]);
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '10\n0,0\n3,34\n');

    ({ q } = openQueue(t.dir, { maxBytesPerFile: 110 }));
    await q.opened;
    assert.equal(q.depth(), 10);
    assert.deepEqual(labels(await take(q, 4)), range(0, 4));
    assert.deepEqual(q.positions(), { depth: 6, readFileNum: 1, readPos: 34, writeFileNum: 3, writePos: 34 });
    // Appends go on at the recorded write position of the same segment.
    q.put(payload(10));
    q.put(payload(11));
    q.put(payload(12));
    await q.close();
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '9\n1,34\n4,34\n');
    assert.ok(!existsSync(join(t.dir, 'q.diskqueue.000000.dat')), 'the fully read segment is deleted');
    assert.equal(statSync(join(t.dir, 'q.diskqueue.000003.dat')).size, 102);

    ({ q } = openQueue(t.dir, { maxBytesPerFile: 110 }));
    assert.deepEqual(labels(await take(q, 9)), range(4, 13));
    assert.equal(q.depth(), 0);
    await q.close();
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '0\n4,34\n4,34\n');
    assert.deepEqual(files(t.dir), ['q.diskqueue.000004.dat', 'q.diskqueue.meta.dat']);
  } finally {
    t.remove();
  }
});

test('a record bigger than --max-bytes-per-file goes alone into a fresh segment', async () => {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir, { maxBytesPerFile: 100 });
    q.put(payload(0));
    q.put(payload(1, 200));
    q.put(payload(2));
    await q.close();
    assert.deepEqual([0, 1, 2].map((n) => statSync(join(t.dir, `q.diskqueue.00000${n}.dat`)).size), [34, 204, 34]);
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '3\n0,0\n2,34\n');
    const r = openQueue(t.dir, { maxBytesPerFile: 100 }).q;
    const got = await take(r, 3);
    assert.deepEqual(labels(got), range(0, 3));
    assert.equal(got[1]!.length, 200);
    await r.close();
  } finally {
    t.remove();
  }
});

test('records come back in order across segments and read-ahead refills, while being written', async () => {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir, { maxBytesPerFile: 64 * 1024, syncEvery: 100 });
    const N = 20000;
    const got: string[] = [];
    let i = 0;
    while (i < N) {
      for (let k = 0; k < 300 && i < N; k++) q.put(payload(i++));
      for (let r = q.read(); r !== undefined; r = q.read()) got.push(label(r));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    for (const r of await take(q, N - got.length, 10000)) got.push(label(r));
    assert.equal(got.length, N);
    for (let k = 0; k < N; k++) if (got[k] !== range(k, k + 1)[0]) assert.fail(`record ${k} is ${got[k]}`);
    assert.equal(q.depth(), 0);
    await q.close();
  } finally {
    t.remove();
  }
});

test('a big segment read in read-ahead chunks: records cut at chunk ends, one bigger than a chunk, reading while writing', async () => {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir, { maxMsgSize: 1024 * 1024 });
    const size = (i: number) => (i === 3000 ? 300 * 1024 : 30 + ((i * 7919) % 1500)); // 300 KiB: more than one chunk
    const N = 12000;
    const got: Uint8Array[] = [];
    for (let i = 0; i < N / 2; i++) q.put(payload(i, size(i)));
    await q.sync();
    // Half written before reading, half while reading: the last chunks come from the write segment's end.
    for (let i = N / 2; i < N; i++) {
      q.put(payload(i, size(i)));
      if (i % 500 === 0) got.push(...(await take(q, 400, 5000, true)));
    }
    got.push(...(await take(q, N - got.length, 10000, true)));
    for (let i = 0; i < N; i++) {
      if (label(got[i]!) !== range(i, i + 1)[0] || got[i]!.length !== size(i)) assert.fail(`record ${i}: ${label(got[i]!)}, ${got[i]!.length} bytes`);
    }
    assert.equal(q.depth(), 0);
    assert.equal(q.read(), undefined);
    await q.close();
  } finally {
    t.remove();
  }
});

test('close and reopen under several writers and readers: every record once, each writer in order', async () => {
  const t = tempDir();
  try {
    const WRITERS = 3;
    const PER_CYCLE = 400;
    const CYCLES = 5;
    const seen: string[][] = Array.from({ length: WRITERS }, () => []);
    const next = new Array(WRITERS).fill(0);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const { q } = openQueue(t.dir, { maxBytesPerFile: 4096, syncEvery: 7, syncTimeout: 5 });
      let writing = true;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        for (let k = 0; k < PER_CYCLE; k += 20) {
          for (let j = 0; j < 20; j++) q.put(new TextEncoder().encode(`w${w}-${String(next[w]++).padStart(6, '0')}`.padEnd(30, '.')));
          await sleep(Math.random() * 2);
        }
      });
      const readers = Array.from({ length: 2 }, async () => {
        while (writing || q.depth() > 0) {
          for (let n = 0; n < 50; n++) {
            const r = q.read();
            if (r === undefined) break;
            const s = dec.decode(r).slice(0, 9);
            seen[Number(s[1])]!.push(s);
          }
          await sleep(Math.random() * 3);
          if (cycle % 2 === 1 && !writing) break; // odd cycles: close with records left
        }
      });
      await Promise.all(writers);
      writing = false;
      await Promise.all(readers);
      await q.close();
    }
    const { q } = openQueue(t.dir, { maxBytesPerFile: 4096 });
    for (const r of await takeAll(q)) {
      const s = dec.decode(r).slice(0, 9);
      seen[Number(s[1])]!.push(s);
    }
    for (let w = 0; w < WRITERS; w++) {
      assert.equal(seen[w]!.length, PER_CYCLE * CYCLES, `writer ${w}: every record exactly once`);
      seen[w]!.forEach((s, k) => assert.equal(s, `w${w}-${String(k).padStart(6, '0')}`));
    }
    assert.equal(q.depth(), 0);
    await q.close();
  } finally {
    t.remove();
  }
});

test('empty() drops every record and file, later puts are kept; delete() leaves no file', async () => {
  const t = tempDir();
  try {
    let { q } = openQueue(t.dir, { maxBytesPerFile: 110 });
    for (let i = 0; i < 10; i++) q.put(payload(i));
    await q.close();
    ({ q } = openQueue(t.dir, { maxBytesPerFile: 110 }));
    assert.deepEqual(labels(await take(q, 2)), range(0, 2));
    await q.empty();
    assert.equal(q.depth(), 0);
    assert.deepEqual(files(t.dir), [], 'segments and metadata are gone (metadata comes back at the next sync)');
    q.put(payload(100));
    q.put(payload(101));
    assert.deepEqual(labels(await take(q, 2)), range(100, 102));
    q.put(payload(102));
    await q.close();
    assert.equal(readFileSync(join(t.dir, 'q.diskqueue.meta.dat'), 'latin1'), '1\n4,68\n4,102\n');
    ({ q } = openQueue(t.dir, { maxBytesPerFile: 110 }));
    await q.opened;
    assert.equal(q.depth(), 1);
    q.setDeferral('0123456789abcdef', 5);
    q.put(payload(103));
    await q.delete();
    assert.deepEqual(files(t.dir), []);
  } finally {
    t.remove();
  }
});

test('data written by Go nsqd (hand-made with its exact bytes) is read, and appended to, as Go would', async () => {
  const t = tempDir();
  try {
    // PROTOCOL.md 7.2's verified record of body "msg3", twice, then meta "2\n0,0\n0,68\n".
    const rec = new Uint8Array([0, 0, 0, 0x1e, 0x18, 0xea, 0xdf, 0xc0, 0x88, 0x09, 0xae, 0x0f, 0, 0, ...new TextEncoder().encode('18a65bc18c269000msg3')]);
    assert.equal(rec.length, 34);
    const seg = new Uint8Array(68);
    seg.set(rec);
    seg.set(rec, 34);
    writeFileSync(join(t.dir, 'clicks.diskqueue.000000.dat'), seg);
    writeFileSync(join(t.dir, 'clicks.diskqueue.meta.dat'), '2\n0,0\n0,68\n');
    const { q: clicks, logs } = openQueue(t.dir, { name: 'clicks' });
    await clicks.opened;
    assert.equal(clicks.depth(), 2);
    const got = await take(clicks, 2);
    assert.deepEqual(got.map((r) => [...r]), [[...rec.subarray(4)], [...rec.subarray(4)]]);
    clicks.put(rec.subarray(4));
    await clicks.close();
    // Segment 0 fully read but still the write segment: kept and appended to, as go-diskqueue does.
    assert.equal(readFileSync(join(t.dir, 'clicks.diskqueue.meta.dat'), 'latin1'), '1\n0,68\n0,102\n');
    assert.deepEqual([...readFileSync(join(t.dir, 'clicks.diskqueue.000000.dat')).subarray(68)], [...rec]);
    assert.deepEqual(logs.filter((l) => l.includes('ERROR')), []);
  } finally {
    t.remove();
  }
});

/** Storage that counts fsyncs of segment files. */
function countingStorage(inner: Storage): { storage: Storage; syncs: () => number } {
  let n = 0;
  const storage: Storage = {
    ...inner,
    async open(path, options) {
      const fh = await inner.open(path, options);
      const counted: FileHandle = {
        write: (d, p) => fh.write(d, p),
        read: (b, p) => fh.read(b, p),
        sync: () => {
          if (/\.diskqueue\.\d+\.dat$/.test(path)) n++;
          return fh.sync();
        },
        size: () => fh.size(),
        close: () => fh.close(),
      };
      return counted;
    },
  };
  return { storage, syncs: () => n };
}

test('sync(): resolves once the records put before it are fsynced; concurrent callers share fsyncs', async () => {
  const t = tempDir();
  try {
    const c = countingStorage(storage);
    const { q } = openQueue(t.dir, { storage: c.storage });
    await q.opened;
    q.put(payload(0));
    await q.sync();
    assert.equal(c.syncs(), 1);
    await q.sync(); // nothing new: no fsync
    assert.equal(c.syncs(), 1);
    // 50 publishers, each: put, then wait for its sync.
    const publishers = Array.from({ length: 50 }, async (_, p) => {
      for (let k = 0; k < 10; k++) {
        q.put(payload(p * 100 + k));
        await q.sync();
      }
    });
    await Promise.all(publishers);
    const fsyncs = c.syncs() - 1;
    assert.ok(fsyncs < 250, `500 acknowledged puts took ${fsyncs} fsyncs (group commit shares them)`);
    assert.equal(q.depth(), 501);
    await q.close();
  } finally {
    t.remove();
  }
});

test('--sync-every and --sync-timeout write the metadata; nothing is written while idle', async () => {
  const t = tempDir();
  try {
    const { q } = openQueue(t.dir, { syncEvery: 5, syncTimeout: 50 });
    await q.opened;
    for (let i = 0; i < 5; i++) q.put(payload(i));
    const meta = join(t.dir, 'q.diskqueue.meta.dat');
    const deadline = performance.now() + 2000;
    while (!existsSync(meta) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(readFileSync(meta, 'latin1'), '5\n0,0\n0,170\n', 'sync after 5 operations');
    q.put(payload(5));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readFileSync(meta, 'latin1'), '6\n0,0\n0,204\n', 'sync after --sync-timeout');
    await q.close();
  } finally {
    t.remove();
  }
});

test('deferral notes survive close and reopen, and go once the queue is empty', async () => {
  const t = tempDir();
  try {
    let { q } = openQueue(t.dir);
    q.setDeferral('0000000000000001', 1234);
    q.put(payload(0));
    await q.close();
    const notes = join(t.dir, 'q.diskqueue.deferred.json');
    assert.deepEqual(JSON.parse(readFileSync(notes, 'utf8')), { deferred: { '0000000000000001': 1234 } });
    ({ q } = openQueue(t.dir));
    await q.opened;
    assert.equal(q.takeDeferral('0000000000000001'), 1234);
    assert.equal(q.takeDeferral('0000000000000001'), undefined);
    q.setDeferral('0000000000000002', 99); // a note whose record is gone: dropped when the queue empties
    await take(q, 1);
    await q.close();
    assert.ok(!existsSync(notes));
  } finally {
    t.remove();
  }
});
