// One disk queue: NSQ's go-diskqueue (v1.1.0) over the Storage port, with
// the same files, so a data folder moves between Go nsqd 1.3.0 and nsq-ts
// in both directions (PROTOCOL.md section 7).
//
// On disk
// - Segments `<name>.diskqueue.NNNNNN.dat`: records `[int32 BE length][payload]`,
//   nothing else. A record whose 4 + length would take the segment past
//   --max-bytes-per-file starts the next segment (a record bigger than that
//   goes alone into a fresh one). nsqd's payload is the message (7.2).
// - `<name>.diskqueue.meta.dat`: "depth\nreadFileNum,readPos\nwriteFileNum,writePos\n",
//   replaced atomically (temporary file, fsync, rename) at each sync.
// - `<name>.diskqueue.deferred.json` (nsq-ts only): due times of deferred
//   messages whose records sit in the queue as ordinary records, keyed by
//   message ID (see "Deferred messages" below). Go never opens it.
//
// Semantics kept from go-diskqueue
// - Records come out in the order they went in, across segments; a segment
//   is deleted once its last record has been taken. For a finished segment
//   the reader goes by the file's real size, for the one being written by the
//   write position.
// - A sync (fsync of the write segment, then the metadata) happens after
//   --sync-every operations (puts plus takes), after --sync-timeout when
//   anything happened, when a segment is finished or left, after recovery,
//   and on close. Metadata positions are the taken ones: after a crash,
//   records taken since the last sync are read again (at least once).
// - depth() is the number of records put and not yet taken.
//
// Where it differs, and why
// - put() is synchronous and only appends to an in-memory batch; one
//   storage write per batch (everything put in one turn of the event loop,
//   e.g. a whole MPUB, or all that arrived while the previous write was
//   under way), where Go issues one write per message. The write batch is
//   double-buffered, so steady state allocates nothing. Positions on disk
//   are the same as Go's because the batch is cut at the same roll points.
// - The batch is bounded: past backlogBytes (1 MiB) waiting for a write,
//   put() tells the owner once (onBacklog) and drained() holds publishers
//   until the batch goes to storage. Go's publishers wait for each write
//   anyway; here they wait only when the disk falls behind, and memory stays
//   at two batches however fast messages arrive.
// - read() is synchronous too: records are views into a read-ahead buffer
//   (at most READ_AHEAD bytes, or one record if bigger) refilled
//   asynchronously from the taken position; when it runs dry, read() returns
//   undefined and onReadable fires once records are ready again. Only data
//   already handed to the OS is read. Memory therefore stays bounded by the
//   batch and one read-ahead buffer per queue, whatever the depth.
// - Syncs never stack: one storage operation at a time per queue, and a sync
//   asked for while one runs happens once after it, covering everything put
//   meanwhile. sync() resolves once every record put before the call is
//   fsynced, so concurrent callers share one fsync (group commit; nsqd's
//   --durable answers OK on it).
// - Recovery (Go either stops reading or loses the rest of the queue):
//   a record length outside [minMsgSize, maxMsgSize], a segment that ends in
//   the middle of a record (torn or truncated), or a missing segment: the bad
//   segment is renamed `<file>.bad`, reading goes on at the start of the next
//   segment, the depth is recounted from the segments left, and the queue
//   keeps serving. A write segment whose size does not match the metadata
//   (metadata not synced before a crash, or a truncated file) is read up to
//   its real size and writing goes on in a new segment. Missing or unreadable
//   metadata with segments on disk: the segments are read from the oldest,
//   nothing is lost. Every recovery is logged.
//
// Deferred messages
// - Go nsqd writes deferred messages to disk at shutdown as plain records and
//   delivers them at once after a restart. nsq-ts writes the same plain
//   records (so Go still reads and delivers them) and keeps their due times
//   in the deferred.json file beside the queue: setDeferral(id, value) before
//   the put, takeDeferral(id) when the record comes back. The notes are
//   written with each sync and on close, and dropped whenever the queue is
//   empty, so notes of records that Go consumed in between do not linger.
//
// Holds (nsq-ts only; nsqd --durable)
// - hold() right after read() keeps that record on disk until release():
//   the metadata's read position stays at the oldest held record, so after a
//   crash reading starts there again (records taken after it and finished
//   are delivered again too: at least once). Segments are deleted only once
//   the metadata has moved past them. Without holds the metadata is Go's.
import type { Logger } from '../log.ts';
import type { FileHandle, Storage } from '../ports.ts';
import type { BackendQueue, RecordWriter } from '../nsqd/backend_queue.ts';
import { atomicWrite, deferredFileName, encodeMeta, joinPath, metaFileName, parseMeta, parseSegmentFileName, segmentFileName } from './files.ts';

/** Bytes read ahead per refill (a bigger record is read whole). */
export const READ_AHEAD = 256 * 1024;
const BACKLOG_BYTES = 256 * 1024;
/** Write batch buffers above this size are not kept for reuse. */
const MAX_SPARE = 4 * 1024 * 1024;
const RETRY_MS = 1000;

export interface DiskQueueOptions {
  name: string;
  dataPath: string;
  storage: Storage;
  maxBytesPerFile: number;
  /** Smallest and largest payload accepted on write and on read (nsqd: 26 and --max-msg-size + 26). */
  minMsgSize: number;
  maxMsgSize: number;
  syncEvery: number;
  /** Milliseconds. */
  syncTimeout: number;
  logger?: Logger;
  /** A storage write or sync failed (nsqd turns unhealthy); the queue retries. */
  onError?: (err: unknown) => void;
  /** A write or sync succeeded after an error. */
  onRecovered?: () => void;
  /**
   * Awaited during each sync before the metadata is written: nsqd's topic
   * queues wait here for the channel queues that received the records taken
   * so far, so a crash never leaves a taken record on neither disk queue.
   */
  beforeMetaSync?: () => Promise<void>;
  /** Called on every put (nsqd's --durable bookkeeping). */
  onPut?: (queue: DiskQueue) => void;
  /** Bytes put and not yet handed to a write past which the queue is backlogged (default 1 MiB). */
  backlogBytes?: number;
  /** The batch went past backlogBytes: publishers should await drained(). */
  onBacklog?: (queue: DiskQueue) => void;
}

const EMPTY = new Uint8Array(0);

interface Waiter {
  upTo: number;
  resolve: () => void;
}

export class DiskQueue implements BackendQueue {
  readonly name: string;
  onReadable: (() => void) | undefined;
  /** Settles once the metadata is loaded (and recovery at start-up is done). */
  readonly opened: Promise<void>;

  private readonly o: DiskQueueOptions;
  private readonly storage: Storage;
  private readonly dir: string;

  // Positions, as in the metadata. Write: data handed to the OS. Read: next record to take.
  private readFileNum = 0;
  private readPos = 0;
  private writeFileNum = 0;
  private writePos = 0;
  private count = 0;

  // Write batch: records put and not yet handed to a write (double-buffered).
  private batch: Uint8Array = new Uint8Array(64 * 1024);
  private batchView: DataView = new DataView(this.batch.buffer);
  private batchLen = 0;
  private batchCount = 0;
  private spare: Uint8Array | undefined;
  /** Records put whose write has not completed (in the batch or being written). */
  private unflushed = 0;
  private totalPut = 0;
  private syncedPut = 0;
  private waiters: Waiter[] = [];
  private readonly backlogBytes: number;
  /** Resolvers of drained() while the batch is past backlogBytes (undefined when it is not). */
  private backlog: (() => void)[] | undefined;
  private writeHandle: FileHandle | undefined;

  // Read-ahead: rbuf[roff, rend) holds bytes of segment readFileNum from readPos on.
  private rbuf: Uint8Array<ArrayBufferLike> = EMPTY;
  private rview: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private roff = 0;
  private rend = 0;
  /** End of segment readFileNum once it is finished (its size), else Infinity. */
  private readEnd = Infinity;
  private readEndOf = -1;
  private readHandle: FileHandle | undefined;
  private readHandleNum = -1;
  private refilling = false;
  private wantReadable = false;
  /** Bumped when the read side is reset (empty, recovery): refills of an older generation are dropped. */
  private gen = 0;
  private recovering = false;

  // The one storage lane: tasks, batch writes and syncs run one at a time.
  private driving = false;
  private syncing: Promise<void> | undefined;
  private tasks: (() => Promise<void>)[] = [];
  private syncWanted = false;
  private commitWanted = false;
  private ops = 0;
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failing = false;

  private ready = false;
  private closing = false;
  private deleting = false;
  private closed = false;

  // Holds: [token, fileNum, pos] triples in read order from holdHead; tokens count records taken.
  private taken = 0;
  private lastFileNum = 0;
  private lastPos = 0;
  private holds: number[] = [];
  private holdHead = 0;
  private readonly released = new Set<number>();
  /** Segments read to the end, deleted after the next metadata write. */
  private finished: number[] = [];
  private readonly deferrals = new Map<string, number>();
  private deferralsDirty = false;
  private deferralsOnDisk = false;

  constructor(options: DiskQueueOptions) {
    this.o = options;
    this.name = options.name;
    this.storage = options.storage;
    this.dir = options.dataPath;
    this.backlogBytes = options.backlogBytes ?? BACKLOG_BYTES;
    this.opened = this.open().catch((err) => {
      // Never refuse to start: log, and serve as an empty queue from a fresh segment.
      this.log('error', `failed to open, starting empty: ${errorText(err)}`);
      this.ready = true;
      this.kick();
    });
  }

  // ---------------------------------------------------------------- BackendQueue

  put(record: Uint8Array): void {
    this.putWith(record.length, copyRecord, record);
  }

  putWith<T>(len: number, write: RecordWriter<T>, arg: T): void {
    if (this.closing) throw new Error('exiting');
    if (len < this.o.minMsgSize || len > this.o.maxMsgSize) throw new Error(`invalid message write size (${len}) minMsgSize=${this.o.minMsgSize} maxMsgSize=${this.o.maxMsgSize}`);
    const at = this.batchLen;
    if (at + 4 + len > this.batch.length) this.growBatch(at + 4 + len);
    this.batchView.setInt32(at, len);
    write(this.batch, this.batchView, at + 4, arg);
    this.batchLen = at + 4 + len;
    this.batchCount++;
    this.unflushed++;
    this.totalPut++;
    this.count++;
    this.op();
    if (!this.driving) this.kick();
    if (this.o.onPut !== undefined) this.o.onPut(this);
    if (this.batchLen > this.backlogBytes && this.backlog === undefined) {
      this.backlog = [];
      this.o.onBacklog?.(this);
    }
  }

  /** Undefined unless backlogged; then resolves once the batch has gone to storage (or was dropped). */
  drained(): Promise<void> | undefined {
    const waiting = this.backlog;
    return waiting === undefined ? undefined : new Promise((resolve) => waiting.push(resolve));
  }

  private endBacklog(): void {
    const waiting = this.backlog;
    if (waiting === undefined) return;
    this.backlog = undefined;
    for (const resolve of waiting) resolve();
  }

  read(): Uint8Array | undefined {
    const off = this.roff;
    if (this.rend - off >= 4) {
      const len = this.rview.getInt32(off);
      if (len < this.o.minMsgSize || len > this.o.maxMsgSize) {
        this.corrupt(this.readFileNum, `record length ${len} at position ${this.readPos} is out of bounds [${this.o.minMsgSize}, ${this.o.maxMsgSize}]`);
        return undefined;
      }
      const end = off + 4 + len;
      if (end <= this.rend) {
        this.roff = end;
        this.lastFileNum = this.readFileNum;
        this.lastPos = this.readPos;
        this.taken++;
        this.readPos += 4 + len;
        this.count--;
        this.op();
        if (this.readPos >= this.readEnd && this.readFileNum < this.writeFileNum) this.moveForward();
        return this.rbuf.subarray(off + 4, end);
      }
    }
    this.wantReadable = true;
    this.refill();
    return undefined;
  }

  depth(): number {
    return this.count;
  }

  /** Resolves once every record put before the call is fsynced (group commit). */
  sync(): Promise<void> {
    const upTo = this.totalPut;
    if (this.syncedPut >= upTo || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ upTo, resolve });
      this.commitWanted = true;
      this.kick();
    });
  }

  hold(): number {
    const h = this.holds;
    h.push(this.taken - 1, this.lastFileNum, this.lastPos);
    return this.taken - 1;
  }

  release(token: number): void {
    const h = this.holds;
    if (this.holdHead < h.length && h[this.holdHead] === token) {
      this.holdHead += 3;
      while (this.holdHead < h.length && this.released.delete(h[this.holdHead]!)) this.holdHead += 3;
      if (this.holdHead === h.length) {
        this.holds = [];
        this.holdHead = 0;
      } else if (this.holdHead > 3 * 4096 && this.holdHead * 2 > h.length) {
        this.holds = h.slice(this.holdHead);
        this.holdHead = 0;
      }
    } else {
      this.released.add(token);
    }
  }

  releaseAll(): void {
    this.holds = [];
    this.holdHead = 0;
    this.released.clear();
  }

  setDeferral(id: string, value: number): void {
    this.deferrals.set(id, value);
    this.deferralsDirty = true;
  }

  takeDeferral(id: string): number | undefined {
    if (this.deferrals.size === 0) return undefined;
    const v = this.deferrals.get(id);
    if (v !== undefined) {
      this.deferrals.delete(id);
      this.deferralsDirty = true;
    }
    return v;
  }

  /** Drops every record (and its files); records put afterwards are kept. */
  async empty(): Promise<void> {
    if (this.closed) return;
    this.dropBatch();
    this.resetReadAhead();
    await this.runTask(() => this.doEmpty());
  }

  /** Empties and closes without writing metadata: no file is left. */
  async delete(): Promise<void> {
    if (this.closing) return this.close();
    this.closing = true;
    this.deleting = true;
    this.dropBatch();
    this.resetReadAhead();
    await this.runTask(async () => {
      await this.doEmpty();
      await this.closeHandles();
      await this.storage.remove(this.path(deferredFileName(this.name)));
      this.closed = true;
    });
    this.stopTimers();
  }

  /** Writes out the batch, syncs (data, metadata, deferral notes) and closes the files. */
  async close(): Promise<void> {
    if (this.closing) {
      if (!this.closed) await this.runTask(async () => {});
      return;
    }
    this.closing = true;
    await this.runTask(async () => {
      await this.flushBatch();
      if (this.syncing) await this.syncing;
      await this.doSync();
      await this.closeHandles();
      this.closed = true;
    });
    this.stopTimers();
    this.resetReadAhead();
  }

  // ---------------------------------------------------------------- inspection (tests, stats)

  /** The positions as they would be written to the metadata now (a held record counts as not taken). */
  positions(): { depth: number; readFileNum: number; readPos: number; writeFileNum: number; writePos: number } {
    const depth = this.count - this.unflushed;
    const h = this.holds;
    if (this.holdHead < h.length) {
      return { depth: depth + (this.taken - h[this.holdHead]!), readFileNum: h[this.holdHead + 1]!, readPos: h[this.holdHead + 2]!, writeFileNum: this.writeFileNum, writePos: this.writePos };
    }
    return { depth, readFileNum: this.readFileNum, readPos: this.readPos, writeFileNum: this.writeFileNum, writePos: this.writePos };
  }

  // ---------------------------------------------------------------- opening and recovery at start-up

  private async open(): Promise<void> {
    const metaBytes = await this.storage.readFile(this.path(metaFileName(this.name)));
    let meta = metaBytes === undefined ? undefined : parseMeta(metaBytes);
    let recount = false;
    if (metaBytes !== undefined && meta === undefined) {
      this.log('error', `metadata ${metaFileName(this.name)} is unreadable (${JSON.stringify(new TextDecoder().decode(metaBytes.subarray(0, 80)))}); renaming it to .bad and rebuilding from the segment files`);
      await this.storage.rename(this.path(metaFileName(this.name)), this.path(metaFileName(this.name) + '.bad')).catch(() => {});
    }
    if (meta === undefined) {
      const nums = await this.segmentNumbers();
      if (nums.length > 0) {
        this.log('warn', `no metadata but ${nums.length} segment file(s) on disk: reading them from ${segmentFileName(this.name, nums[0]!)}, writing from a new segment`);
        meta = { depth: 0, readFileNum: nums[0]!, readPos: 0, writeFileNum: nums[nums.length - 1]! + 1, writePos: 0 };
        recount = true;
      } else {
        meta = { depth: 0, readFileNum: 0, readPos: 0, writeFileNum: 0, writePos: 0 };
      }
    }
    let { readFileNum, readPos, writeFileNum, writePos } = meta;
    // The write segment must end where the metadata says, else it was not synced (or was cut):
    // read it up to its real size and write on in a new segment, as go-diskqueue does.
    const writeFile = segmentFileName(this.name, writeFileNum);
    const size = await this.storage.size(this.path(writeFile));
    if ((size ?? 0) !== writePos) {
      this.log('warn', `${writeFile} is ${size === undefined ? 'missing' : `${size} bytes`} where the metadata says ${writePos}; reading it to its end and writing from a new segment`);
      writeFileNum++;
      writePos = 0;
      recount = true;
    }
    if (readFileNum > writeFileNum || (readFileNum === writeFileNum && readPos > writePos)) {
      this.log('error', `read position ${readFileNum},${readPos} is past the write position ${writeFileNum},${writePos}; skipping to a new segment`);
      writeFileNum++;
      writePos = 0;
      readFileNum = writeFileNum;
      readPos = 0;
      recount = true;
    }
    if (meta.depth < 0) recount = true;
    this.readFileNum = readFileNum;
    this.readPos = readPos;
    this.writeFileNum = writeFileNum;
    this.writePos = writePos;
    const onDisk = recount ? await this.countRecords() : meta.depth;
    if (recount) this.log('info', `depth recounted from the segments: ${onDisk} (metadata said ${meta.depth})`);
    this.count += onDisk;
    await this.loadDeferrals();
    this.ready = true;
    if (recount) this.syncWanted = true;
    this.kick();
    if (this.wantReadable) this.refill();
  }

  /** Segment numbers of this queue on disk, ascending. */
  private async segmentNumbers(): Promise<number[]> {
    const nums: number[] = [];
    for (const f of await this.storage.list(this.dir === '' ? '.' : this.dir)) {
      const s = parseSegmentFileName(f);
      if (s && s.name === this.name) nums.push(s.fileNum);
    }
    return nums.sort((a, b) => a - b);
  }

  /**
   * Valid records from the read position to the write position: each segment
   * counts up to its first bad length or torn record, which the reader will
   * skip. Reads the files (rare: start-up recovery and corruption only).
   */
  private async countRecords(): Promise<number> {
    let total = 0;
    const buf = new Uint8Array(1 << 20);
    const view = new DataView(buf.buffer);
    for (let num = this.readFileNum; num <= this.writeFileNum; num++) {
      let fh: FileHandle;
      try {
        fh = await this.storage.open(this.path(segmentFileName(this.name, num)), { create: false });
      } catch {
        continue; // missing: nothing to count
      }
      try {
        const size = await fh.size();
        const end = num === this.writeFileNum ? Math.min(size, this.writePos) : size;
        let pos = num === this.readFileNum ? this.readPos : 0;
        while (pos + 4 <= end) {
          const n = await fh.read(buf.subarray(0, Math.min(buf.length, end - pos)), pos);
          let off = 0;
          while (off + 4 <= n) {
            const len = view.getInt32(off);
            if (len < this.o.minMsgSize || len > this.o.maxMsgSize) break;
            if (pos + off + 4 + len > end) break;
            if (off + 4 + len > n) break; // continues in the next chunk
            off += 4 + len;
            total++;
          }
          if (off === 0) {
            // Nothing whole in this chunk: a record bigger than the chunk, or the end of the good data.
            if (n < 4) break;
            const len = view.getInt32(0);
            if (len < this.o.minMsgSize || len > this.o.maxMsgSize || pos + 4 + len > end) break;
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

  private async loadDeferrals(): Promise<void> {
    const bytes = await this.storage.readFile(this.path(deferredFileName(this.name)));
    if (bytes === undefined) return;
    this.deferralsOnDisk = true;
    try {
      const obj = JSON.parse(new TextDecoder().decode(bytes)) as { deferred?: Record<string, number> };
      for (const [id, v] of Object.entries(obj.deferred ?? {})) if (typeof v === 'number') this.deferrals.set(id, v);
    } catch (err) {
      this.log('error', `${deferredFileName(this.name)} is unreadable, deferred messages will be delivered at once: ${errorText(err)}`);
    }
  }

  // ---------------------------------------------------------------- the storage lane

  private kick(): void {
    if (this.driving || !this.ready || this.closed || this.failing) return;
    if (this.tasks.length === 0 && this.batchLen === 0 && !this.syncWanted && !this.commitWanted) return;
    this.driving = true;
    queueMicrotask(() => void this.drive());
  }

  /**
   * The lane: tasks first, then the batch, then a sync. A sync runs beside
   * the lane (batch writes go on during its fsync, so a slow fsync does not
   * let the batch pile up); tasks wait for it, and a roll does too.
   */
  private async drive(): Promise<void> {
    try {
      for (;;) {
        if (this.tasks.length > 0) {
          if (this.syncing) await this.syncing;
          await this.tasks.shift()!();
        } else if (this.batchLen > 0) {
          await this.flushBatch();
        } else if ((this.syncWanted || this.commitWanted) && this.syncing === undefined) {
          this.syncing = (this.syncWanted ? this.doSync() : this.doCommit()).then(
            () => {
              this.syncing = undefined;
              this.kick();
            },
            (err) => {
              this.syncing = undefined;
              this.syncWanted = true;
              this.fail(err);
            },
          );
        } else {
          break;
        }
        if (this.closed) break;
      }
      this.driving = false;
      if (this.failing) {
        this.failing = false;
        this.o.onRecovered?.();
      }
    } catch (err) {
      this.driving = false;
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.retryTimer !== undefined) return;
    this.failing = true;
    this.log('error', `storage failed, retrying in ${RETRY_MS} ms: ${errorText(err)}`);
    this.o.onError?.(err);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.failing = false;
      this.kick();
    }, RETRY_MS);
  }

  /** Runs `fn` in the lane and resolves when it has run (errors are the caller's). */
  private runTask(fn: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tasks.push(() => fn().then(resolve, reject));
      if (!this.driving && !this.ready) return; // runs once opened
      this.kick();
    });
  }

  private growBatch(need: number): void {
    let size = this.batch.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.batch.subarray(0, this.batchLen));
    this.batch = next;
    this.batchView = new DataView(next.buffer);
  }

  private dropBatch(): void {
    this.count -= this.batchCount;
    this.unflushed -= this.batchCount;
    this.totalPut -= this.batchCount;
    this.batchLen = 0;
    this.batchCount = 0;
    this.endBacklog();
  }

  /** Writes the batch, cut into segments at Go's roll points. */
  private async flushBatch(): Promise<void> {
    if (this.batchLen === 0) return;
    const buf = this.batch;
    const len = this.batchLen;
    const view = this.batchView;
    const spare = this.spare;
    this.spare = undefined;
    this.batch = spare ?? new Uint8Array(buf.length);
    this.batchView = spare ? new DataView(spare.buffer) : new DataView(this.batch.buffer);
    this.batchLen = 0;
    this.batchCount = 0;
    this.endBacklog();
    const max = this.o.maxBytesPerFile;
    let off = 0;
    try {
      while (off < len) {
        let end = off;
        let pos = this.writePos;
        let n = 0;
        while (end < len) {
          const t = 4 + view.getInt32(end);
          if (pos > 0 && pos + t > max) break;
          pos += t;
          end += t;
          n++;
        }
        if (end > off) {
          const fh = await this.openWriteSegment();
          await fh.write(buf.subarray(off, end), this.writePos);
          this.writePos = pos;
          this.unflushed -= n;
          off = end;
          if (this.wantReadable) this.refill();
        }
        if (off < len) await this.roll();
      }
    } catch (err) {
      // Put back what was not written, ahead of what came meanwhile, and let the lane retry.
      const rest = buf.subarray(off, len);
      const merged = new Uint8Array(Math.max(rest.length + this.batchLen, 64 * 1024));
      merged.set(rest);
      merged.set(this.batch.subarray(0, this.batchLen), rest.length);
      let restCount = 0;
      for (let p = 0; p < rest.length; p += 4 + view.getInt32(off + p)) restCount++;
      this.batchCount += restCount;
      this.batchLen += rest.length;
      this.batch = merged;
      this.batchView = new DataView(merged.buffer);
      throw err;
    }
    if (buf.length <= MAX_SPARE) this.spare = buf;
  }

  private async openWriteSegment(): Promise<FileHandle> {
    if (this.writeHandle !== undefined) return this.writeHandle;
    const fresh = this.writePos === 0;
    this.writeHandle = await this.storage.open(this.path(segmentFileName(this.name, this.writeFileNum)), { create: true });
    // A new segment's folder entry must survive a power cut as much as its data.
    if (fresh) await this.storage.syncDir(this.dir === '' ? '.' : this.dir);
    return this.writeHandle;
  }

  /** Finishes the write segment: fsync, close, next number, then a sync as go-diskqueue. */
  private async roll(): Promise<void> {
    if (this.syncing) await this.syncing;
    const fh = this.writeHandle;
    if (fh !== undefined) {
      await fh.sync();
      this.writeHandle = undefined;
      await fh.close();
    }
    this.writeFileNum++;
    this.writePos = 0;
    if (this.wantReadable) this.refill();
    await this.doSync();
  }

  /**
   * sync()'s group commit, lighter than a full sync: fsync the data (and
   * write changed deferral notes), release the waiters; the metadata follows
   * at the next regular sync. A crash in between is covered by start-up
   * recovery: a write segment longer than the metadata says is read to its end.
   */
  private async doCommit(): Promise<void> {
    this.commitWanted = false;
    if (this.deleting) return;
    const covered = this.totalPut - this.unflushed;
    if (this.writeHandle !== undefined) await this.writeHandle.sync();
    if (this.deferralsDirty) await this.writeDeferrals(false);
    this.releaseWaiters(covered);
  }

  /**
   * Fsyncs what was written so far, writes the deferral notes, releases the
   * sync() waiters, then writes the metadata. Does not flush the batch: the
   * lane writes it first (and a roll must finish writing its own first).
   */
  private async doSync(): Promise<void> {
    this.syncWanted = false;
    this.commitWanted = false;
    if (this.deleting) return;
    this.ops = 0;
    if (this.syncTimer !== undefined) {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
    }
    const covered = this.totalPut - this.unflushed;
    if (this.writeHandle !== undefined) await this.writeHandle.sync();
    // Deferral notes before sync() waiters go: a durable DPUB's due time is part of its commit.
    await this.writeDeferrals(this.positions().depth === 0 && this.unflushed === 0);
    this.releaseWaiters(covered);
    const meta = this.positions();
    if (this.o.beforeMetaSync) await this.o.beforeMetaSync();
    if (this.closed) return;
    await atomicWrite(this.storage, this.dir, metaFileName(this.name), encodeMeta(meta));
    await this.deleteFinished(meta.readFileNum);
  }

  private releaseWaiters(covered: number): void {
    if (covered > this.syncedPut) this.syncedPut = covered;
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.syncedPut) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
    if (keep.length > 0) this.commitWanted = true;
  }

  private async writeDeferrals(queueEmpty: boolean): Promise<void> {
    if (queueEmpty && this.deferrals.size > 0) {
      this.deferrals.clear(); // nothing left that they could be about
      this.deferralsDirty = true;
    }
    if (!this.deferralsDirty) return;
    this.deferralsDirty = false;
    const file = deferredFileName(this.name);
    if (this.deferrals.size === 0) {
      if (this.deferralsOnDisk) await this.storage.remove(this.path(file));
      this.deferralsOnDisk = false;
      return;
    }
    const text = JSON.stringify({ deferred: Object.fromEntries(this.deferrals) });
    await atomicWrite(this.storage, this.dir, file, new TextEncoder().encode(text));
    this.deferralsOnDisk = true;
  }

  /** Counts an operation toward --sync-every and arms the --sync-timeout timer. */
  private op(): void {
    if (++this.ops >= this.o.syncEvery) {
      if (!this.syncWanted) {
        this.syncWanted = true;
        this.kick();
      }
    } else if (this.syncTimer === undefined && !this.closing) {
      this.syncTimer = setTimeout(() => {
        this.syncTimer = undefined;
        if (this.ops > 0 && !this.closing) {
          this.syncWanted = true;
          this.kick();
        }
      }, this.o.syncTimeout);
    }
  }

  private stopTimers(): void {
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.syncTimer = this.retryTimer = undefined;
  }

  private async closeHandles(): Promise<void> {
    const w = this.writeHandle;
    const r = this.readHandle;
    this.writeHandle = this.readHandle = undefined;
    this.readHandleNum = -1;
    if (w) await w.close().catch(() => {});
    if (r) await r.close().catch(() => {});
  }

  private async doEmpty(): Promise<void> {
    await this.closeHandles();
    await this.deleteFinished(Infinity);
    for (let num = this.readFileNum; num <= this.writeFileNum; num++) await this.storage.remove(this.path(segmentFileName(this.name, num)));
    this.writeFileNum++;
    this.writePos = 0;
    this.readFileNum = this.writeFileNum;
    this.readPos = 0;
    this.count = this.unflushed;
    this.syncedPut = Math.max(this.syncedPut, this.totalPut - this.unflushed);
    this.releaseWaiters(this.syncedPut);
    this.resetReadAhead();
    this.releaseAll();
    this.deferrals.clear();
    this.deferralsDirty = true;
    await this.storage.remove(this.path(metaFileName(this.name)));
    if (!this.deleting) await this.writeDeferrals(true);
  }

  // ---------------------------------------------------------------- reading

  private resetReadAhead(): void {
    this.gen++;
    this.rbuf = EMPTY;
    this.rview = new DataView(EMPTY.buffer);
    this.roff = this.rend = 0;
    this.readEnd = Infinity;
    this.readEndOf = -1;
  }

  /**
   * The last record of a finished segment was taken: on to the next, and
   * sync; the old segment is deleted once metadata past it is on disk (so a
   * crash in between reads it again rather than finding it missing).
   */
  private moveForward(): void {
    this.finished.push(this.readFileNum);
    this.readFileNum++;
    this.readPos = 0;
    this.readEnd = Infinity;
    this.roff = this.rend = 0;
    this.syncWanted = true;
    this.kick();
  }

  private async deleteFinished(upTo: number): Promise<void> {
    while (this.finished.length > 0 && this.finished[0]! < upTo) {
      const num = this.finished.shift()!;
      if (this.readHandleNum === num && !this.refilling) {
        const r = this.readHandle;
        this.readHandle = undefined;
        this.readHandleNum = -1;
        await r?.close().catch(() => {});
      }
      await this.storage.remove(this.path(segmentFileName(this.name, num)));
    }
  }

  private refill(): void {
    if (this.refilling || !this.ready || this.closed || this.recovering) return;
    this.refilling = true;
    const gen = this.gen;
    this.doRefill(gen).then(
      () => {
        this.refilling = false;
        if (gen !== this.gen) return void (this.wantReadable && this.refill());
        if (this.wantReadable && this.rend - this.roff >= 4) {
          this.wantReadable = false;
          this.onReadable?.();
        }
      },
      (err) => {
        this.refilling = false;
        if (gen !== this.gen) return void (this.wantReadable && this.refill());
        this.log('error', `read failed, retrying in ${RETRY_MS} ms: ${errorText(err)}`);
        setTimeout(() => this.wantReadable && this.refill(), RETRY_MS);
      },
    );
  }

  /** Loads the read-ahead buffer from the read position. Leaves it empty if there is nothing to read yet. */
  private async doRefill(gen: number): Promise<void> {
    for (;;) {
      if (this.closed || gen !== this.gen) return;
      const num = this.readFileNum;
      const pos = this.readPos;
      if (num === this.writeFileNum && pos >= this.writePos) return; // caught up with the writer
      if (this.readHandleNum !== num) {
        const old = this.readHandle;
        this.readHandle = undefined;
        this.readHandleNum = -1;
        if (old) await old.close().catch(() => {});
        let fh: FileHandle;
        try {
          fh = await this.storage.open(this.path(segmentFileName(this.name, num)), { create: false });
        } catch (err) {
          if (gen !== this.gen) return;
          if (!isNotFound(err)) throw err;
          this.corrupt(num, 'segment file is missing', true);
          return;
        }
        if (gen !== this.gen || this.closed) {
          await fh.close().catch(() => {});
          return;
        }
        this.readHandle = fh;
        this.readHandleNum = num;
      }
      const fh = this.readHandle!;
      let end: number;
      if (num < this.writeFileNum) {
        if (this.readEndOf !== num) {
          const size = await fh.size();
          if (gen !== this.gen) return;
          this.readEnd = size;
          this.readEndOf = num;
        }
        end = this.readEnd;
        if (pos >= end) {
          if (pos > end) this.corrupt(num, `read position ${pos} is past the end of the file (${end} bytes)`);
          else this.moveForward();
          if (this.recovering) return;
          continue;
        }
      } else {
        end = this.writePos;
      }
      let want = Math.min(READ_AHEAD, end - pos);
      if (want < 4) {
        this.corrupt(num, `${end - pos} stray byte(s) at position ${pos}, the end of the file`);
        return;
      }
      let buf = new Uint8Array(want);
      let got = await fh.read(buf, pos);
      if (gen !== this.gen) return;
      if (got < 4) {
        this.corrupt(num, `file ends at ${pos + got} where ${end} bytes were expected`);
        return;
      }
      let view = new DataView(buf.buffer);
      const len = view.getInt32(0);
      if (len < this.o.minMsgSize || len > this.o.maxMsgSize) {
        this.corrupt(num, `record length ${len} at position ${pos} is out of bounds [${this.o.minMsgSize}, ${this.o.maxMsgSize}]`);
        return;
      }
      if (pos + 4 + len > end) {
        this.corrupt(num, `the record at position ${pos} (4 + ${len} bytes) runs past the end of the file (${end} bytes): torn or truncated`);
        return;
      }
      if (4 + len > got) {
        if (got < want) {
          this.corrupt(num, `file ends at ${pos + got} where ${end} bytes were expected`);
          return;
        }
        // One record bigger than the read-ahead: read it whole.
        want = 4 + len;
        buf = new Uint8Array(want);
        got = await fh.read(buf, pos);
        if (gen !== this.gen) return;
        if (got < want) {
          this.corrupt(num, `file ends at ${pos + got} in the record at ${pos}: torn or truncated`);
          return;
        }
        view = new DataView(buf.buffer);
      }
      this.rbuf = buf;
      this.rview = view;
      this.roff = 0;
      this.rend = got;
      return;
    }
  }

  /**
   * Segment `num` (the read segment) is bad from the read position on: rename
   * it to .bad (unless missing), go on at the start of the next segment
   * (moving the writer too if it was the write segment), recount the depth,
   * sync. Records of the segment taken before the bad spot were delivered.
   */
  private corrupt(num: number, reason: string, missing = false): void {
    if (this.recovering) return;
    this.recovering = true;
    const file = segmentFileName(this.name, num);
    this.log('error', `${file}: ${reason}; ${missing ? '' : `renaming it to ${file}.bad and `}skipping to the next segment`);
    this.resetReadAhead();
    this.wantReadable = true;
    this.tasks.unshift(async () => {
      try {
        if (this.readHandleNum === num) {
          const r = this.readHandle;
          this.readHandle = undefined;
          this.readHandleNum = -1;
          await r?.close().catch(() => {});
        }
        if (num === this.writeFileNum) {
          const w = this.writeHandle;
          this.writeHandle = undefined;
          await w?.close().catch(() => {});
          // Records written into it after the bad spot are lost with it; what is still in the batch is not.
          this.writeFileNum++;
          this.writePos = 0;
        }
        if (!missing) {
          await this.storage.rename(this.path(file), this.path(file + '.bad')).catch((err) => {
            if (!isNotFound(err)) throw err;
          });
        }
        this.readFileNum = num + 1;
        this.readPos = 0;
        const before = this.count;
        this.count = (await this.countRecords()) + this.unflushed;
        if (before !== this.count) this.log('warn', `depth ${before} -> ${this.count} after skipping the bad data`);
      } finally {
        this.recovering = false;
        this.syncWanted = true;
        this.resetReadAhead();
      }
      this.refill();
    });
    this.kick();
  }

  // ---------------------------------------------------------------- helpers

  private path(file: string): string {
    return joinPath(this.dir, file);
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.o.logger?.log(level, `DISKQUEUE(${this.name}): ${msg}`);
  }
}

function copyRecord(dst: Uint8Array, _view: DataView, at: number, record: Uint8Array): void {
  dst.set(record, at);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return e.code === 'ENOENT' || e.name === 'NotFound';
}
