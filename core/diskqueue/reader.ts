// The read side of a disk queue: the read-ahead buffer, its refill, and
// moving across segments.
//
// - read() (diskqueue.ts) is synchronous: records are views into a read-ahead
//   buffer (at most READ_AHEAD bytes, or one record if bigger) refilled
//   asynchronously from the taken position; when it runs dry, read() returns
//   undefined and onReadable fires once records are ready again. Only data
//   already handed to the OS is read: the write segment up to the write
//   position. Memory therefore stays bounded by the write batch and two
//   read-ahead buffers per queue, whatever the depth.
// - Double buffering: once a buffer is loaded, the chunk after it in the same
//   segment is read into a second one (prefetch), which read() takes over
//   when the first runs dry. Without it each refill stalled consumers for a
//   round trip to the disk or the runtime's I/O threads, every 2,000 or so
//   messages. The next chunk starts after the last whole record of a buffer.
// - Records come out in the order they went in, across segments. For a
//   finished segment the reader goes by the file's real size (a segment
//   longer than its metadata, written before a crash, is read to its end),
//   for the one being written by the write position.
// - A segment whose last record has been taken is left (moveForward) and
//   deleted by the next sync, once the metadata past it is on disk
//   (deleteFinished).
// - Bad data met while reading (a length out of bounds, a torn record, a
//   missing segment) goes to recovery.ts's corrupt(). A refill started before
//   the read side was reset (empty, recovery: `gen` moved on) is dropped.
import type { FileHandle } from '../ports.ts';
import { segmentFileName } from './files.ts';
import { kick } from './lane.ts';
import { corrupt } from './recovery.ts';
import { EMPTY, errorText, isNotFound, RETRY_MS, type QueueState } from './state.ts';

/** Bytes read ahead per refill (a bigger record is read whole). */
export const READ_AHEAD = 256 * 1024;

export function resetReadAhead(q: QueueState): void {
  q.gen++;
  q.rbuf = EMPTY;
  q.rview = new DataView(EMPTY.buffer);
  q.roff = q.rend = 0;
  q.pbuf = undefined;
  q.readEnd = Infinity;
  q.readEndOf = -1;
}

/**
 * The last record of a finished segment was taken: on to the next, and
 * sync; the old segment is deleted once metadata past it is on disk (so a
 * crash in between reads it again rather than finding it missing).
 */
export function moveForward(q: QueueState): void {
  q.finished.push(q.readFileNum);
  q.readFileNum++;
  q.readPos = 0;
  q.readEnd = Infinity;
  q.roff = q.rend = 0;
  q.syncWanted = true;
  kick(q);
}

/** Deletes the finished segments numbered below `upTo` (the metadata's read segment). */
export async function deleteFinished(q: QueueState, upTo: number): Promise<void> {
  while (q.finished.length > 0 && q.finished[0]! < upTo) {
    const num = q.finished.shift()!;
    if (q.readHandleNum === num && !q.refilling && !q.prefetching) {
      const r = q.readHandle;
      q.readHandle = undefined;
      q.readHandleNum = -1;
      await r?.close().catch(() => {});
    }
    await q.storage.remove(q.path(segmentFileName(q.name, num)));
  }
}

/** Starts a refill unless one runs; fires onReadable if read() came back empty and records are ready. */
export function refill(q: QueueState): void {
  if (q.refilling || q.prefetching || !q.ready || q.closed || q.recovering) return; // a prefetch landing refills if it must
  q.refilling = true;
  const gen = q.gen;
  doRefill(q, gen).then(
    () => {
      q.refilling = false;
      if (gen !== q.gen) return void (q.wantReadable && refill(q));
      if (q.wantReadable && q.rend - q.roff >= 4) {
        q.wantReadable = false;
        q.onReadable?.();
      }
      prefetch(q);
    },
    (err) => {
      q.refilling = false;
      if (gen !== q.gen) return void (q.wantReadable && refill(q));
      q.log('error', `read failed, retrying in ${RETRY_MS} ms: ${errorText(err)}`);
      setTimeout(() => q.wantReadable && refill(q), RETRY_MS);
    },
  );
}

/** Loads the read-ahead buffer from the read position. Leaves it empty if there is nothing to read yet. */
async function doRefill(q: QueueState, gen: number): Promise<void> {
  for (;;) {
    if (q.closed || gen !== q.gen) return;
    const num = q.readFileNum;
    const pos = q.readPos;
    if (num === q.writeFileNum && pos >= q.writePos) return; // caught up with the writer
    if (q.readHandleNum !== num) {
      const old = q.readHandle;
      q.readHandle = undefined;
      q.readHandleNum = -1;
      if (old) await old.close().catch(() => {});
      let fh: FileHandle;
      try {
        fh = await q.storage.open(q.path(segmentFileName(q.name, num)), { create: false });
      } catch (err) {
        if (gen !== q.gen) return;
        if (!isNotFound(err)) throw err;
        corrupt(q, num, 'segment file is missing', true);
        return;
      }
      if (gen !== q.gen || q.closed) {
        await fh.close().catch(() => {});
        return;
      }
      q.readHandle = fh;
      q.readHandleNum = num;
    }
    const fh = q.readHandle!;
    let end: number;
    if (num < q.writeFileNum) {
      if (q.readEndOf !== num) {
        const size = await fh.size();
        if (gen !== q.gen) return;
        q.readEnd = size;
        q.readEndOf = num;
      }
      end = q.readEnd;
      if (pos >= end) {
        if (pos > end) corrupt(q, num, `read position ${pos} is past the end of the file (${end} bytes)`);
        else moveForward(q);
        if (q.recovering) return;
        continue;
      }
    } else {
      end = q.writePos;
    }
    let want = Math.min(READ_AHEAD, end - pos);
    if (want < 4) {
      corrupt(q, num, `${end - pos} stray byte(s) at position ${pos}, the end of the file`);
      return;
    }
    let buf = new Uint8Array(want);
    let got = await fh.read(buf, pos);
    if (gen !== q.gen) return;
    if (got < 4) {
      corrupt(q, num, `file ends at ${pos + got} where ${end} bytes were expected`);
      return;
    }
    let view = new DataView(buf.buffer);
    const len = view.getInt32(0);
    if (len < q.o.minMsgSize || len > q.o.maxMsgSize) {
      corrupt(q, num, `record length ${len} at position ${pos} is out of bounds [${q.o.minMsgSize}, ${q.o.maxMsgSize}]`);
      return;
    }
    if (pos + 4 + len > end) {
      corrupt(q, num, `the record at position ${pos} (4 + ${len} bytes) runs past the end of the file (${end} bytes): torn or truncated`);
      return;
    }
    if (4 + len > got) {
      if (got < want) {
        corrupt(q, num, `file ends at ${pos + got} where ${end} bytes were expected`);
        return;
      }
      // One record bigger than the read-ahead: read it whole.
      want = 4 + len;
      buf = new Uint8Array(want);
      got = await fh.read(buf, pos);
      if (gen !== q.gen) return;
      if (got < want) {
        corrupt(q, num, `file ends at ${pos + got} in the record at ${pos}: torn or truncated`);
        return;
      }
      view = new DataView(buf.buffer);
    }
    q.rbuf = buf;
    q.rview = view;
    q.roff = 0;
    q.rend = got;
    q.rendPos = pos + wholeRecords(q, view, got);
    return;
  }
}

/** The length of the whole, plausible records at the start of a chunk (the rest is read again with the next one; read() reports bad data). */
function wholeRecords(q: QueueState, view: DataView, got: number): number {
  let at = 0;
  while (at + 4 <= got) {
    const len = view.getInt32(at);
    if (len < q.o.minMsgSize || len > q.o.maxMsgSize || at + 4 + len > got) break;
    at += 4 + len;
  }
  return at;
}

/** Reads the chunk after the read-ahead buffer, if it is in the same segment (see the top of this file). */
export function prefetch(q: QueueState): void {
  if (q.prefetching || q.refilling || q.pbuf !== undefined || q.closed || q.recovering) return;
  const num = q.readFileNum;
  const fh = q.readHandle;
  if (fh === undefined || q.readHandleNum !== num) return;
  const pos = q.rendPos;
  const end = num < q.writeFileNum ? (q.readEndOf === num ? q.readEnd : 0) : q.writePos;
  if (end - pos < 4) return;
  const buf = new Uint8Array(Math.min(READ_AHEAD, end - pos));
  const gen = q.gen;
  q.prefetching = true;
  fh.read(buf, pos).then(
    (got) => {
      q.prefetching = false;
      if (q.closed) return;
      const whole = gen === q.gen ? wholeRecords(q, new DataView(buf.buffer), got) : 0;
      if (whole > 0) {
        q.pbuf = buf;
        q.pnum = num;
        q.ppos = pos;
        q.pend = got;
        q.pwhole = whole;
      } // else a record bigger than a chunk, or bad data: the refill meets it in order
      if (!q.wantReadable) return; // (if it is, read() came back empty: the buffer has no whole record left)
      if (takePrefetched(q)) {
        q.wantReadable = false;
        q.onReadable?.();
      } else {
        refill(q);
      }
    },
    () => {
      q.prefetching = false; // the refill reads it again, and reports what fails
      if (q.wantReadable) refill(q);
    },
  );
}

/** read() ran dry: takes the prefetched chunk if it starts where reading is; true if it did. */
export function takePrefetched(q: QueueState): boolean {
  const buf = q.pbuf;
  if (buf === undefined) return false;
  q.pbuf = undefined;
  if (q.pnum !== q.readFileNum || q.ppos !== q.readPos) return false;
  q.rbuf = buf;
  q.rview = new DataView(buf.buffer);
  q.roff = 0;
  q.rend = q.pend;
  q.rendPos = q.ppos + q.pwhole;
  prefetch(q);
  return true;
}
