// Opening a disk queue, and recovering from damaged files: at start-up and
// whenever the reader meets bad data. Go either stops reading or loses the
// rest of the queue; here every recovery is logged and the queue keeps
// serving:
// - A record length outside [minMsgSize, maxMsgSize], a segment that ends in
//   the middle of a record (torn or truncated), or a missing segment
//   (corrupt()): the bad segment is renamed `<file>.bad`, reading goes on at
//   the start of the next segment, and the depth is recounted from the
//   segments left. Records of the segment taken before the bad spot were
//   delivered; records written into it after the bad spot are lost with it.
// - At start-up (openQueue()): a write segment whose size does not match the
//   metadata (metadata not synced before a crash, or a truncated file) is
//   read up to its real size and writing goes on in a new segment. Missing or
//   unreadable metadata with segments on disk: the segments are read from the
//   oldest, nothing is lost. A read position past the write position starts
//   both in a new segment.
// - countRecords() recounts by reading the segments (rare: start-up recovery
//   and corruption only); each counts up to its first bad length or torn
//   record, which the reader will skip.
import type { FileHandle } from '../ports.ts';
import { deferredFileName, metaFileName, parseMeta, parseSegmentFileName, segmentFileName } from './files.ts';
import { kick } from './lane.ts';
import { refill, resetReadAhead } from './reader.ts';
import { errorText, isNotFound, type QueueState } from './state.ts';

/** Loads the metadata (recovering as above) and the deferral notes, then lets the lane and the reader start. */
export async function openQueue(q: QueueState): Promise<void> {
  const metaBytes = await q.storage.readFile(q.path(metaFileName(q.name)));
  let meta = metaBytes === undefined ? undefined : parseMeta(metaBytes);
  let recount = false;
  if (metaBytes !== undefined && meta === undefined) {
    q.log('error', `metadata ${metaFileName(q.name)} is unreadable (${JSON.stringify(new TextDecoder().decode(metaBytes.subarray(0, 80)))}); renaming it to .bad and rebuilding from the segment files`);
    await q.storage.rename(q.path(metaFileName(q.name)), q.path(metaFileName(q.name) + '.bad')).catch(() => {});
  }
  if (meta === undefined) {
    const nums = await segmentNumbers(q);
    if (nums.length > 0) {
      q.log('warn', `no metadata but ${nums.length} segment file(s) on disk: reading them from ${segmentFileName(q.name, nums[0]!)}, writing from a new segment`);
      meta = { depth: 0, readFileNum: nums[0]!, readPos: 0, writeFileNum: nums[nums.length - 1]! + 1, writePos: 0 };
      recount = true;
    } else {
      meta = { depth: 0, readFileNum: 0, readPos: 0, writeFileNum: 0, writePos: 0 };
    }
  }
  let { readFileNum, readPos, writeFileNum, writePos } = meta;
  // The write segment must end where the metadata says, else it was not synced (or was cut):
  // read it up to its real size and write on in a new segment, as go-diskqueue does.
  const writeFile = segmentFileName(q.name, writeFileNum);
  const size = await q.storage.size(q.path(writeFile));
  if ((size ?? 0) !== writePos) {
    q.log('warn', `${writeFile} is ${size === undefined ? 'missing' : `${size} bytes`} where the metadata says ${writePos}; reading it to its end and writing from a new segment`);
    writeFileNum++;
    writePos = 0;
    recount = true;
  }
  if (readFileNum > writeFileNum || (readFileNum === writeFileNum && readPos > writePos)) {
    q.log('error', `read position ${readFileNum},${readPos} is past the write position ${writeFileNum},${writePos}; skipping to a new segment`);
    writeFileNum++;
    writePos = 0;
    readFileNum = writeFileNum;
    readPos = 0;
    recount = true;
  }
  if (meta.depth < 0) recount = true;
  q.readFileNum = readFileNum;
  q.readPos = readPos;
  q.writeFileNum = writeFileNum;
  q.writePos = writePos;
  const onDisk = recount ? await countRecords(q) : meta.depth;
  if (recount) q.log('info', `depth recounted from the segments: ${onDisk} (metadata said ${meta.depth})`);
  q.count += onDisk;
  const unreadable = await q.notes.load();
  if (unreadable !== undefined) q.log('error', `${deferredFileName(q.name)} is unreadable, deferred messages will be delivered at once: ${errorText(unreadable)}`);
  q.ready = true;
  if (recount) q.syncWanted = true;
  kick(q);
  if (q.wantReadable) refill(q);
}

/** Segment numbers of this queue on disk, ascending. */
async function segmentNumbers(q: QueueState): Promise<number[]> {
  const nums: number[] = [];
  for (const f of await q.storage.list(q.dir === '' ? '.' : q.dir)) {
    const s = parseSegmentFileName(f);
    if (s && s.name === q.name) nums.push(s.fileNum);
  }
  return nums.sort((a, b) => a - b);
}

/**
 * Valid records from the read position to the write position: each segment
 * counts up to its first bad length or torn record, which the reader will
 * skip. Reads the files (rare: start-up recovery and corruption only).
 */
async function countRecords(q: QueueState): Promise<number> {
  let total = 0;
  const buf = new Uint8Array(1 << 20);
  const view = new DataView(buf.buffer);
  for (let num = q.readFileNum; num <= q.writeFileNum; num++) {
    let fh: FileHandle;
    try {
      fh = await q.storage.open(q.path(segmentFileName(q.name, num)), { create: false });
    } catch {
      continue; // missing: nothing to count
    }
    try {
      const size = await fh.size();
      const end = num === q.writeFileNum ? Math.min(size, q.writePos) : size;
      let pos = num === q.readFileNum ? q.readPos : 0;
      while (pos + 4 <= end) {
        const n = await fh.read(buf.subarray(0, Math.min(buf.length, end - pos)), pos);
        let off = 0;
        while (off + 4 <= n) {
          const len = view.getInt32(off);
          if (len < q.o.minMsgSize || len > q.o.maxMsgSize) break;
          if (pos + off + 4 + len > end) break;
          if (off + 4 + len > n) break; // continues in the next chunk
          off += 4 + len;
          total++;
        }
        if (off === 0) {
          // Nothing whole in this chunk: a record bigger than the chunk, or the end of the good data.
          if (n < 4) break;
          const len = view.getInt32(0);
          if (len < q.o.minMsgSize || len > q.o.maxMsgSize || pos + 4 + len > end) break;
          pos += 4 + len;
          total++;
          continue;
        }
        pos += off;
      }
    } finally {
      await fh.close();
    }
  }
  return total;
}

/**
 * Segment `num` (the read segment) is bad from the read position on: rename
 * it to .bad (unless missing), go on at the start of the next segment
 * (moving the writer too if it was the write segment), recount the depth,
 * sync. Runs as the lane's next task; reading waits for it.
 */
export function corrupt(q: QueueState, num: number, reason: string, missing = false): void {
  if (q.recovering) return;
  q.recovering = true;
  const file = segmentFileName(q.name, num);
  q.log('error', `${file}: ${reason}; ${missing ? '' : `renaming it to ${file}.bad and `}skipping to the next segment`);
  resetReadAhead(q);
  q.wantReadable = true;
  q.tasks.unshift(async () => {
    try {
      if (q.readHandleNum === num) {
        const r = q.readHandle;
        q.readHandle = undefined;
        q.readHandleNum = -1;
        await r?.close().catch(() => {});
      }
      if (num === q.writeFileNum) {
        const w = q.writeHandle;
        q.writeHandle = undefined;
        await w?.close().catch(() => {});
        // Records written into it after the bad spot are lost with it; what is still in the batch is not.
        q.writeFileNum++;
        q.writePos = 0;
      }
      if (!missing) {
        await q.storage.rename(q.path(file), q.path(file + '.bad')).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
      }
      q.readFileNum = num + 1;
      q.readPos = 0;
      const before = q.count;
      q.count = (await countRecords(q)) + q.unflushed;
      if (before !== q.count) q.log('warn', `depth ${before} -> ${q.count} after skipping the bad data`);
    } finally {
      q.recovering = false;
      q.syncWanted = true;
      resetReadAhead(q);
    }
    refill(q);
  });
  kick(q);
}
