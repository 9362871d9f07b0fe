// One disk queue: NSQ's go-diskqueue (v1.1.0) over the Storage port, with
// the same files, so a data folder moves between Go nsqd 1.3.0 and nsq-ts
// in both directions (PROTOCOL.md section 7). This file is what nsqd calls
// (put, read, sync, holds, deferral notes, empty, delete, close); each part
// behind it has a file of its own, with the details:
//   state.ts           what a queue knows: positions, batch, read-ahead, flags
//   writer.ts          the write batch: flushing it, rolling segments
//   reader.ts          the read-ahead buffer: refilling it, moving across segments
//   sync.ts            when to sync, what a sync writes, group commit
//   lane.ts            the one storage lane: writes, syncs and tasks in turn
//   recovery.ts        opening the queue, recovering from damaged files
//   holds.ts           --durable holds on records read
//   deferral_notes.ts  due times of deferred messages
//   files.ts           file names, the metadata format, atomic replace
// put()/putWith() and read(), called once per message, are here in full:
// their fields are the queue's own (QueueState is its base class) and what
// they call are plain functions, so a message costs no hop, closure or
// allocation on the way.
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
//   is deleted once its last record has been taken (reader.ts).
// - A sync (fsync of the write segment, then the metadata) happens after
//   --sync-every operations (puts plus takes), after --sync-timeout when
//   anything happened, when a segment is finished or left, after recovery,
//   and on close (sync.ts). Metadata positions are the taken ones: after a
//   crash, records taken since the last sync are read again (at least once).
// - depth() is the number of records put and not yet taken.
//
// Where it differs, and why
// - put() and read() are synchronous: put() appends to an in-memory batch
//   written once per turn of the event loop (writer.ts), read() returns views
//   into a bounded read-ahead buffer (reader.ts). Memory therefore stays
//   bounded by the batch and two read-ahead buffers per queue, whatever the
//   depth; past backlogBytes waiting for a write, drained() holds publishers.
// - Syncs never stack, and sync() callers share one fsync: group commit,
//   which nsqd's --durable answers OK on (sync.ts, lane.ts).
// - Damaged files never stop the queue: a bad segment is renamed `.bad`, the
//   next one is read, the depth is recounted (recovery.ts).
//
// Deferred messages (deferral_notes.ts)
// - Go nsqd delivers deferred messages written at shutdown at once after a
//   restart. nsq-ts writes the same plain records and keeps their due times
//   beside the queue: setDeferral(id, value) before the put, takeDeferral(id)
//   when the record comes back.
//
// Holds (holds.ts; nsq-ts only, nsqd --durable)
// - hold() right after read() keeps that record on disk until release(): the
//   metadata's read position stays at the oldest held record, so after a
//   crash reading starts there again.
import type { Logger } from '../log.ts';
import type { Storage } from '../ports.ts';
import type { BackendQueue, RecordWriter } from '../nsqd/backend_queue.ts';
import { deferredFileName, metaFileName, segmentFileName } from './files.ts';
import { kick, runTask, stopTimers } from './lane.ts';
import { deleteFinished, moveForward, refill, resetReadAhead, takePrefetched } from './reader.ts';
import { corrupt, openQueue } from './recovery.ts';
import { errorText, QueueState } from './state.ts';
import { doSync, op, releaseWaiters } from './sync.ts';
import { dropBatch, flushBatch, growBatch } from './writer.ts';

export { READ_AHEAD } from './reader.ts';

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
  /** Bytes put and not yet handed to a write past which the queue is backlogged (default 256 KiB). */
  backlogBytes?: number;
  /** The batch went past backlogBytes: publishers should await drained(). */
  onBacklog?: (queue: DiskQueue) => void;
}

export class DiskQueue extends QueueState implements BackendQueue {
  /** Settles once the metadata is loaded (and recovery at start-up is done). */
  readonly opened: Promise<void>;

  constructor(options: DiskQueueOptions) {
    super(options);
    this.opened = openQueue(this).catch((err) => {
      // Never refuse to start: log, and serve as an empty queue from a fresh segment.
      this.log('error', `failed to open, starting empty: ${errorText(err)}`);
      this.ready = true;
      kick(this);
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
    if (at + 4 + len > this.batch.length) growBatch(this, at + 4 + len);
    this.batchView.setInt32(at, len);
    write(this.batch, this.batchView, at + 4, arg);
    this.batchLen = at + 4 + len;
    this.batchCount++;
    this.unflushed++;
    this.totalPut++;
    this.count++;
    op(this);
    if (!this.driving) kick(this);
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

  read(): Uint8Array | undefined {
    const off = this.roff;
    if (this.rend - off >= 4) {
      const len = this.rview.getInt32(off);
      if (len < this.o.minMsgSize || len > this.o.maxMsgSize) {
        corrupt(this, this.readFileNum, `record length ${len} at position ${this.readPos} is out of bounds [${this.o.minMsgSize}, ${this.o.maxMsgSize}]`);
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
        op(this);
        if (this.readPos >= this.readEnd && this.readFileNum < this.writeFileNum) moveForward(this);
        return this.rbuf.subarray(off + 4, end);
      }
    }
    if (takePrefetched(this)) return this.read();
    this.wantReadable = true;
    refill(this);
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
      kick(this);
    });
  }

  hold(): number {
    this.holds.add(this.taken - 1, this.lastFileNum, this.lastPos);
    return this.taken - 1;
  }

  release(token: number): void {
    this.holds.release(token);
  }

  releaseAll(): void {
    this.holds.clear();
  }

  setDeferral(id: string, value: number): void {
    this.notes.set(id, value);
  }

  takeDeferral(id: string): number | undefined {
    return this.notes.take(id);
  }

  hasDeferrals(): boolean {
    return this.notes.size > 0;
  }

  /** Drops every record (and its files); records put afterwards are kept. */
  async empty(): Promise<void> {
    if (this.closed) return;
    dropBatch(this);
    resetReadAhead(this);
    await runTask(this, () => this.doEmpty());
  }

  /** Empties and closes without writing metadata: no file is left. */
  async delete(): Promise<void> {
    if (this.closing) return this.close();
    this.closing = true;
    this.deleting = true;
    dropBatch(this);
    resetReadAhead(this);
    await runTask(this, async () => {
      await this.doEmpty();
      await this.closeHandles();
      await this.storage.remove(this.path(deferredFileName(this.name)));
      this.closed = true;
    });
    stopTimers(this);
  }

  /** Writes out the batch, syncs (data, metadata, deferral notes) and closes the files. */
  async close(): Promise<void> {
    if (this.closing) {
      if (!this.closed) await runTask(this, async () => {});
      return;
    }
    this.closing = true;
    await runTask(this, async () => {
      await flushBatch(this);
      if (this.syncing) await this.syncing;
      await doSync(this);
      await this.closeHandles();
      this.closed = true;
    });
    stopTimers(this);
    resetReadAhead(this);
  }

  // positions(), the metadata as it would be written now (tests, stats), is QueueState's.

  // ---------------------------------------------------------------- lane tasks of empty, delete and close

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
    await deleteFinished(this, Infinity);
    for (let num = this.readFileNum; num <= this.writeFileNum; num++) await this.storage.remove(this.path(segmentFileName(this.name, num)));
    this.writeFileNum++;
    this.writePos = 0;
    this.readFileNum = this.writeFileNum;
    this.readPos = 0;
    this.count = this.unflushed;
    this.syncedPut = Math.max(this.syncedPut, this.totalPut - this.unflushed);
    releaseWaiters(this, this.syncedPut);
    resetReadAhead(this);
    this.releaseAll();
    this.notes.clear();
    await this.storage.remove(this.path(metaFileName(this.name)));
    if (!this.deleting) await this.notes.write(true);
  }
}

function copyRecord(dst: Uint8Array, _view: DataView, at: number, record: Uint8Array): void {
  dst.set(record, at);
}
