// What one disk queue knows: positions, the write batch, the read-ahead
// buffer, the storage lane's flags. As go-diskqueue's one struct serves the
// methods of several files, this one class serves the files of this folder:
// DiskQueue (diskqueue.ts) extends it, so put() and read() use their own
// fields with no hop in between, and the writer, reader, sync, lane and
// recovery are plain functions over it that call each other freely. Nothing
// outside core/diskqueue/ touches these fields.
import type { FileHandle, Storage } from '../ports.ts';
import type { DiskQueueOptions } from './diskqueue.ts';
import { DeferralNotes } from './deferral_notes.ts';
import { joinPath } from './files.ts';
import { Holds } from './holds.ts';

const BACKLOG_BYTES = 256 * 1024;
/** Wait before retrying a failed storage operation or read. */
export const RETRY_MS = 1000;
export const EMPTY = new Uint8Array(0);

/** A sync() caller: resolved once records up to `upTo` (a totalPut count) are fsynced. */
export interface Waiter {
  upTo: number;
  resolve: () => void;
}

export class QueueState {
  readonly name: string;
  onReadable: (() => void) | undefined;

  readonly o: DiskQueueOptions;
  readonly storage: Storage;
  readonly dir: string;

  // Positions, as in the metadata. Write: data handed to the OS. Read: next record to take.
  readFileNum = 0;
  readPos = 0;
  writeFileNum = 0;
  writePos = 0;
  count = 0;

  // Write batch: records put and not yet handed to a write (double-buffered).
  batch: Uint8Array = new Uint8Array(64 * 1024);
  batchView: DataView = new DataView(this.batch.buffer);
  batchLen = 0;
  batchCount = 0;
  spare: Uint8Array | undefined;
  /** Records put whose write has not completed (in the batch or being written). */
  unflushed = 0;
  totalPut = 0;
  syncedPut = 0;
  waiters: Waiter[] = [];
  readonly backlogBytes: number;
  /** Resolvers of drained() while the batch is past backlogBytes (undefined when it is not). */
  backlog: (() => void)[] | undefined;
  writeHandle: FileHandle | undefined;

  // Read-ahead: rbuf[roff, rend) holds bytes of segment readFileNum from readPos on.
  rbuf: Uint8Array<ArrayBufferLike> = EMPTY;
  rview: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  roff = 0;
  rend = 0;
  /** The file position where rbuf's whole records end: where the next chunk starts. */
  rendPos = 0;
  // The next chunk, read while rbuf is consumed: pbuf[0, pend) holds bytes of segment pnum from ppos on, whole records up to pwhole.
  pbuf: Uint8Array | undefined;
  pnum = -1;
  ppos = 0;
  pend = 0;
  pwhole = 0;
  prefetching = false;
  /** End of segment readFileNum once it is finished (its size), else Infinity. */
  readEnd = Infinity;
  readEndOf = -1;
  readHandle: FileHandle | undefined;
  readHandleNum = -1;
  refilling = false;
  wantReadable = false;
  /** Bumped when the read side is reset (empty, recovery): refills of an older generation are dropped. */
  gen = 0;
  recovering = false;

  // The one storage lane: tasks, batch writes and syncs run one at a time.
  driving = false;
  syncing: Promise<void> | undefined;
  readonly tasks: (() => Promise<void>)[] = [];
  syncWanted = false;
  commitWanted = false;
  ops = 0;
  syncTimer: ReturnType<typeof setTimeout> | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  failing = false;

  ready = false;
  closing = false;
  deleting = false;
  closed = false;

  // Holds: records taken so far (a hold's token is its count), and where the last one taken starts.
  taken = 0;
  lastFileNum = 0;
  lastPos = 0;
  readonly holds = new Holds();
  /** Segments read to the end, deleted after the next metadata write. */
  readonly finished: number[] = [];
  readonly notes: DeferralNotes;

  constructor(options: DiskQueueOptions) {
    this.o = options;
    this.name = options.name;
    this.storage = options.storage;
    this.dir = options.dataPath;
    this.backlogBytes = options.backlogBytes ?? BACKLOG_BYTES;
    this.notes = new DeferralNotes(options.storage, options.dataPath, options.name);
  }

  /** The positions as they would be written to the metadata now (a held record counts as not taken). */
  positions(): { depth: number; readFileNum: number; readPos: number; writeFileNum: number; writePos: number } {
    const depth = this.count - this.unflushed;
    const h = this.holds;
    if (h.any) {
      return { depth: depth + (this.taken - h.oldestToken), readFileNum: h.oldestFileNum, readPos: h.oldestPos, writeFileNum: this.writeFileNum, writePos: this.writePos };
    }
    return { depth, readFileNum: this.readFileNum, readPos: this.readPos, writeFileNum: this.writeFileNum, writePos: this.writePos };
  }

  path(file: string): string {
    return joinPath(this.dir, file);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.o.logger?.log(level, `DISKQUEUE(${this.name}): ${msg}`);
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return e.code === 'ENOENT' || e.name === 'NotFound';
}
