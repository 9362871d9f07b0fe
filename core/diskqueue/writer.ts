// The write side of a disk queue: the write batch, its flush, and rolling to
// the next segment.
//
// - put() is synchronous and only appends to an in-memory batch (putWith in
//   diskqueue.ts); one storage write per batch (everything put in one turn of
//   the event loop, e.g. a whole MPUB, or all that arrived while the previous
//   write was under way), where Go issues one write per message. The write
//   batch is double-buffered: flushBatch() swaps in the spare buffer and puts
//   the written one back as the spare, so steady state allocates nothing.
//   Positions on disk are the same as Go's because the batch is cut at the
//   same roll points: a record whose 4 + length would take the segment past
//   --max-bytes-per-file starts the next segment (a record bigger than that
//   goes alone into a fresh one).
// - The batch is bounded: past backlogBytes (256 KiB) waiting for a write,
//   put() tells the owner once (onBacklog) and drained() holds publishers
//   until the batch goes to storage (endBacklog). Go's publishers wait for
//   each write anyway; here they wait only when the disk falls behind, and
//   memory stays at two batches however fast messages arrive.
// - A write that fails puts what it did not write back at the front of the
//   batch; the lane retries.
// - Rolling finishes the write segment (fsync, close) and syncs, as
//   go-diskqueue does, so a finished segment and the metadata past it are on
//   disk before writing goes on.
import type { FileHandle } from '../ports.ts';
import { segmentFileName } from './files.ts';
import { refill } from './reader.ts';
import type { QueueState } from './state.ts';
import { doSync } from './sync.ts';

/** Write batch buffers above this size are not kept for reuse. */
const MAX_SPARE = 4 * 1024 * 1024;

export function growBatch(q: QueueState, need: number): void {
  let size = q.batch.length * 2;
  while (size < need) size *= 2;
  const next = new Uint8Array(size);
  next.set(q.batch.subarray(0, q.batchLen));
  q.batch = next;
  q.batchView = new DataView(next.buffer);
}

/** Forgets the records in the batch (empty, delete): they were never written. */
export function dropBatch(q: QueueState): void {
  q.count -= q.batchCount;
  q.unflushed -= q.batchCount;
  q.totalPut -= q.batchCount;
  q.batchLen = 0;
  q.batchCount = 0;
  endBacklog(q);
}

function endBacklog(q: QueueState): void {
  const waiting = q.backlog;
  if (waiting === undefined) return;
  q.backlog = undefined;
  for (const resolve of waiting) resolve();
}

/** Writes the batch, cut into segments at Go's roll points. */
export async function flushBatch(q: QueueState): Promise<void> {
  if (q.batchLen === 0) return;
  const buf = q.batch;
  const len = q.batchLen;
  const view = q.batchView;
  const spare = q.spare;
  q.spare = undefined;
  q.batch = spare ?? new Uint8Array(buf.length);
  q.batchView = spare ? new DataView(spare.buffer) : new DataView(q.batch.buffer);
  q.batchLen = 0;
  q.batchCount = 0;
  endBacklog(q);
  const max = q.o.maxBytesPerFile;
  let off = 0;
  try {
    while (off < len) {
      let end = off;
      let pos = q.writePos;
      let n = 0;
      while (end < len) {
        const t = 4 + view.getInt32(end);
        if (pos > 0 && pos + t > max) break;
        pos += t;
        end += t;
        n++;
      }
      if (end > off) {
        const fh = await openWriteSegment(q);
        await fh.write(buf.subarray(off, end), q.writePos);
        q.writePos = pos;
        q.unflushed -= n;
        off = end;
        if (q.wantReadable) refill(q);
      }
      if (off < len) await roll(q);
    }
  } catch (err) {
    // Put back what was not written, ahead of what came meanwhile, and let the lane retry.
    const rest = buf.subarray(off, len);
    const merged = new Uint8Array(Math.max(rest.length + q.batchLen, 64 * 1024));
    merged.set(rest);
    merged.set(q.batch.subarray(0, q.batchLen), rest.length);
    let restCount = 0;
    for (let p = 0; p < rest.length; p += 4 + view.getInt32(off + p)) restCount++;
    q.batchCount += restCount;
    q.batchLen += rest.length;
    q.batch = merged;
    q.batchView = new DataView(merged.buffer);
    throw err;
  }
  if (buf.length <= MAX_SPARE) q.spare = buf;
}

async function openWriteSegment(q: QueueState): Promise<FileHandle> {
  if (q.writeHandle !== undefined) return q.writeHandle;
  const fresh = q.writePos === 0;
  q.writeHandle = await q.storage.open(q.path(segmentFileName(q.name, q.writeFileNum)), { create: true });
  // A new segment's folder entry must survive a power cut as much as its data.
  if (fresh) await q.storage.syncDir(q.dir === '' ? '.' : q.dir);
  return q.writeHandle;
}

/** Finishes the write segment: fsync, close, next number, then a sync as go-diskqueue. */
async function roll(q: QueueState): Promise<void> {
  if (q.syncing) await q.syncing;
  const fh = q.writeHandle;
  if (fh !== undefined) {
    await fh.sync();
    q.writeHandle = undefined;
    await fh.close();
  }
  q.writeFileNum++;
  q.writePos = 0;
  if (q.wantReadable) refill(q);
  await doSync(q);
}
