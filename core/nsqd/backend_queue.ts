// Where a topic or channel puts messages past --mem-queue-size, as NSQ's
// BackendQueue. Records are encoded messages (header + body, PROTOCOL.md 7.2).
// Reads are pull-based: read() returns the next record if one is ready, and
// onReadable fires when records become ready again after read() came back
// empty, so a disk-backed queue can load ahead asynchronously.
import type { Message } from './message.ts';
import { RingQueue } from './ring_queue.ts';

/** Writes a record of a known length at dst[at...] (message.ts's writeMessage has this shape). */
export type RecordWriter<T> = (dst: Uint8Array, view: DataView, at: number, arg: T) => unknown;

export interface BackendQueue {
  put(record: Uint8Array): void;
  /** put() of the `len` bytes `write(dst, view, at, arg)` writes, with no record allocated on the way. */
  putWith<T>(len: number, write: RecordWriter<T>, arg: T): void;
  read(): Uint8Array | undefined;
  onReadable: (() => void) | undefined;
  depth(): number;
  empty(): Promise<void>;
  /** Empties the queue and removes what it stored. */
  delete(): Promise<void>;
  close(): Promise<void>;
  /** Resolves once every record put before the call is durable (fsynced); at once for memory. */
  sync(): Promise<void>;
  /**
   * A note kept with the queue about the record of message `id`, taken back
   * when that record is read: nsqd keeps deferred messages' due times this way
   * (see core/diskqueue/diskqueue.ts, "Deferred messages").
   */
  setDeferral(id: string, value: number): void;
  takeDeferral(id: string): number | undefined;
  /** Whether any note is kept (when none, a reader need not even make the ID to ask). */
  hasDeferrals(): boolean;
  /**
   * Optional (disk queues): keep the record read() just returned on disk
   * until release(), so a crash delivers it again (--durable in-flight and
   * deferred messages). Returns a token for release().
   */
  hold?(): number;
  release?(token: number): void;
  /** Drops every hold (shutdown writes those messages again as new records). */
  releaseAll?(): void;
}

/** Keeps records in memory: the backend when the runtime has no Storage, and a test double. */
export class MemoryBackendQueue implements BackendQueue {
  private records = new RingQueue<Uint8Array>();
  onReadable: (() => void) | undefined;

  put(record: Uint8Array): void {
    this.records.push(record);
    if (this.records.length === 1) this.onReadable?.();
  }

  putWith<T>(len: number, write: RecordWriter<T>, arg: T): void {
    const record = new Uint8Array(len);
    write(record, new DataView(record.buffer), 0, arg);
    this.put(record);
  }

  read(): Uint8Array | undefined {
    return this.records.shift();
  }

  depth(): number {
    return this.records.length;
  }

  async empty(): Promise<void> {
    this.records = new RingQueue<Uint8Array>();
  }

  delete(): Promise<void> {
    return this.empty();
  }

  async close(): Promise<void> {}

  async sync(): Promise<void> {}

  private readonly notes = new Map<string, number>();
  setDeferral(id: string, value: number): void {
    this.notes.set(id, value);
  }
  takeDeferral(id: string): number | undefined {
    if (this.notes.size === 0) return undefined;
    const v = this.notes.get(id);
    this.notes.delete(id);
    return v;
  }
  hasDeferrals(): boolean {
    return this.notes.size > 0;
  }
}

/** Ephemeral topics and channels: what overflows memory is dropped, as NSQ's dummy backend. */
export class DiscardBackendQueue implements BackendQueue {
  onReadable: (() => void) | undefined;
  put(): void {}
  putWith(): void {}
  read(): undefined {
    return undefined;
  }
  depth(): number {
    return 0;
  }
  async empty(): Promise<void> {}
  async delete(): Promise<void> {}
  async close(): Promise<void> {}
  async sync(): Promise<void> {}
  setDeferral(): void {}
  takeDeferral(): undefined {
    return undefined;
  }
  hasDeferrals(): boolean {
    return false;
  }
}

/** The due time kept for a message read back from `q`, taken off it; asks only if any is kept (the ID string is made lazily). */
export function takeDeferralOf(q: BackendQueue, msg: Message): number | undefined {
  return q.hasDeferrals() ? q.takeDeferral(msg.id) : undefined;
}
